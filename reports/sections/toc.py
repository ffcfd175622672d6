"""Contents: after the answer, links to every section and to each
deployment's plots, which grow with models x TP x links.  The entries come
from the sections themselves, in page order: a section lists itself with
TOC = [(anchor, title)] or, when it depends on the run, toc(res) returning
[(anchor, title)] or [(anchor or None, title, [sub-item HTML, ...])].  A
new section appears here without touching this file."""
import html as _html

from . import all_sections

POSITION = 5


def _entries(res):
    for m in all_sections():
        if m.__name__ == __name__:
            continue
        got = m.toc(res) if hasattr(m, "toc") else getattr(m, "TOC", [])
        for e in got:
            yield e


def _item(e):
    anchor, title = e[0], _html.escape(e[1])
    head = f"<a href='#{anchor}'>{title}</a>" if anchor else title
    subs = e[2] if len(e) > 2 else []
    if subs:
        head += "<ul>" + "".join(f"<li>{s}</li>" for s in subs) + "</ul>"
    return f"<li>{head}</li>"


def html(res):
    items = [_item(e) for e in _entries(res)]
    if not items:
        return []
    return ["<nav id=toc><h2>Contents</h2><ul>"] + items + ["</ul></nav>"]
