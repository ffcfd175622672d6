"""The report's sections, one module each, in page order by POSITION.

A section module defines

    POSITION = <number>        where it goes on the page (smaller: higher)
    def html(res) -> [str]     its HTML; it may write PNGs and CSVs into res["dir"]

and nothing else is needed: a new section is a new file here.  res is what
report.load() read from the results directory.
"""
import importlib
import pkgutil


def all_sections():
    mods = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    mods = [m for m in mods if hasattr(m, "POSITION") and hasattr(m, "html")]
    return sorted(mods, key=lambda m: (m.POSITION, m.__name__))
