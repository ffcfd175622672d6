"""Shared by the report's sections: reading files, labels, tables, PNGs, CSVs.

Nothing here knows about a particular section; see sections/ for those.
"""
import base64
import csv
import html
import io
import json
import os
import stat

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class ReportError(Exception):
    """A results directory the report cannot be made from."""


MAX_BYTES = 1 << 26  # kvwall reads at most 64 MiB of JSON too


def _regular(path):
    """path's bytes, refusing what is not a regular file before opening it
    (a FIFO would block the read) and what is larger than kvwall reads"""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ReportError(f"{path}: not a regular file")
    if st.st_size > MAX_BYTES:
        raise ReportError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        return data.decode("utf-8")
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text (a binary file?)") from None


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def read_json(path):
    """A JSON document as kvwall's reader takes it: no duplicate keys, no
    NaN or Infinity, nesting a parser can hold."""
    text = _regular(path)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        raise ReportError(f"{path}: malformed JSON: nested too deeply") from None
    except ValueError as e:
        raise ReportError(f"{path}: malformed JSON: {e}") from None


def read_csv(path):
    """The rows of a CSV file (dicts by header)."""
    text = _regular(path)
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise ReportError(f"{path}: malformed CSV: {e}") from None


# ---- outputs: all of a report, or nothing ------------------------------------

_staged = None  # path -> bytes while a report is being made under staged()


class staged:
    """with staged(): every write_csv / png / write_text is kept in memory and
    written only when the block ends without an error; then all files are
    written to temporary names first and renamed into place, so a failure
    (a read-only directory, a full disk) leaves nothing behind."""

    def __enter__(self):
        global _staged
        _staged = {}
        return self

    def __exit__(self, kind, value, tb):
        global _staged
        files, _staged = _staged, None
        if kind is None:
            _commit(files)
        return False


def _commit(files):
    done = []
    try:
        for path, data in files.items():
            tmp = path + ".tmp"
            done.append(tmp)
            with open(tmp, "wb") as f:
                f.write(data)
    except OSError as e:
        for tmp in done:
            try:
                os.remove(tmp)
            except OSError:
                pass
        raise ReportError(f"{os.path.dirname(path) or '.'}: cannot write {os.path.basename(path)}: "
                          f"{e.strerror}") from None
    for path in files:
        os.replace(path + ".tmp", path)


def write_bytes(path, data):
    if _staged is not None:
        _staged[path] = data
        return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_text(path, text):
    write_bytes(path, text.encode("utf-8"))


def source(text):
    if not text:
        return "-"
    if text.startswith("measured"):
        return "measured (EXAMPLE)" if "EXAMPLE" in text else "measured"
    if text.startswith("spec sheet"):
        return "spec sheet"
    return "given"


def spec_links(res):
    return {h["name"]: h for h in res["hw"] if h.get("class") != "gpu"}


def spec_gpu(res):
    name = (res["run"] or {}).get("hw")
    for h in res["hw"]:
        if h.get("class") == "gpu" and h["name"].lower() == str(name).lower():
            return h
    return None


def spec_for(link, res):
    """The catalog link a measured link is compared with, or None (loopback TCP has none)."""
    gpu = spec_gpu(res) or {}
    specs = spec_links(res)
    n = link["name"]
    if link.get("spec"):
        return specs.get(link["spec"])
    if n.startswith("nvlink_c2c"):
        return specs.get("nvlink-c2c")
    if n.startswith("pcie"):
        return specs.get(gpu.get("host_link") or "pcie-gen5-x16")
    if n.startswith("peer"):
        return specs.get(gpu.get("peer_link") or "")
    return None


def write_csv(path, rows):
    if not rows:
        return
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def png(fig, directory, name):
    if os.environ.get("KVW_REPORT_LAYOUT"):  # tests: every figure's text boxes and axis labels
        from .layout import record
        record(fig, name, os.environ["KVW_REPORT_LAYOUT"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    write_bytes(os.path.join(directory, name), data)
    return base64.b64encode(data).decode("ascii")


def fmt(v, spec=".4g"):
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return html.escape(str(v))


def table(rows, cols, table_id=None, row_class=None):
    out = [f'<table{f" id={chr(34)}{table_id}{chr(34)}" if table_id else ""}><tr>']
    out += [f"<th>{html.escape(label)}</th>" for _, label in cols]
    out.append("</tr>")
    for r in rows:
        cls = row_class(r) if row_class else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        out += [f"<td>{fmt(r.get(k))}</td>" for k, _ in cols]
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def img(b64, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">' if b64 else \
        f"<p class=note>{html.escape(alt)}: no data in this run.</p>"
