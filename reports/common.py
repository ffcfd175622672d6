"""Shared by the report's sections: reading files, labels, tables, PNGs, CSVs.

Nothing here knows about a particular section; see sections/ for those.
"""
import base64
import csv
import html
import io
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class ReportError(Exception):
    """A results directory the report cannot be made from."""


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: {e}") from None


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
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def png(fig, directory, name):
    if os.environ.get("KVW_REPORT_LAYOUT"):  # tests: every figure's text boxes and axis labels
        from .layout import record
        record(fig, name, os.environ["KVW_REPORT_LAYOUT"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(directory, name))
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
