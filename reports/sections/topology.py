"""Topology: the hwloc probe's GPUs, NICs and NUMA nodes, as recorded."""
import html as _html
import json

POSITION = 90
TOC = [("sec-topology", "Topology")]  # its entries in the contents


def html(res):
    topo = (res["profile"] or {}).get("topology")
    return ["<h2 id=sec-topology>Topology</h2>",
            f"<pre>{_html.escape(json.dumps(topo, indent=1))}</pre>" if topo else
            "<p class=note>Not measured in this run (the topology probe did not run: it needs hwloc, and --no-probes skips it).</p>"]
