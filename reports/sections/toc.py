"""Contents: after the answer, links to every section and to each
deployment's plots, which grow with models x TP x links."""
import html as _html

from ..answer import anchor, deployments, label

POSITION = 5


def html(res):
    deps = deployments(res)
    items = [("sec-verdict", "Verdict: every deployment and link, both scenarios"),
             ("sec-links", "Links and HBM: measured vs spec sheet")]
    sub = [f"<li><a href='#{anchor(d)}'>{_html.escape(label(d))}</a>: "
           f"<a href='#{anchor(d)}-times'>time curves</a>, <a href='#{anchor(d)}-heatmap'>context x bandwidth</a></li>"
           for d in deps]
    tail = [("sec-pipeline", "Layer-wise pipeline"), ("sec-prefill", "Prefill efficiency"), ("sec-probes", "Probes"),
            ("sec-topology", "Topology"), ("sec-provenance", "Provenance")]
    if res.get("validation"):
        items.insert(0, ("sec-modelcheck", "Model check: measured vs predicted"))
    out = ["<nav id=toc><h2>Contents</h2><ul>"]
    out += [f"<li><a href='#{a}'>{_html.escape(t)}</a></li>" for a, t in items]
    if sub:
        out.append("<li>Per deployment<ul>" + "".join(sub) + "</ul></li>")
    out += [f"<li><a href='#{a}'>{_html.escape(t)}</a></li>" for a, t in tail]
    out.append("</ul></nav>")
    return out
