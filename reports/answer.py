"""The answer per deployment: crossover documents grouped by deployment
(model x TP x KV dtype x block size), and the one sentence that says it.

A deployment's documents are kvwall crossover --json outputs, two per link:
the handoff after a prefill (scenario "handoff", layer-wise when the
deployment sends so) and the stored prefix fetched (scenario
"prefix_fetch", bulk).  Everything here reads those documents and
computes nothing about the model itself: winners, L*, B* and the fit are
the CLI's.  TCP over loopback is not a network path: its documents are
left out unless run.json says include_loopback.
"""


def is_loopback(doc):
    return doc.get("link_kind") == "loopback" or str(doc.get("link", "")).startswith("tcp_loopback")


def dep_key(doc):
    return (doc["model"], doc.get("tp", 1), doc.get("kv_dtype", "bf16"), doc.get("message_tokens", 0) or 0)


def label(dep):
    block = f", {dep['block']}-token blocks" if dep["block"] else ""
    return f"{dep['model']} TP {dep['tp']}, {dep['kv_dtype']} KV{block}"


def anchor(dep):
    return "dep-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in dep["slug"])


def _run_entry(res, key):
    for d in (res.get("run") or {}).get("deployments") or []:
        if (d.get("model"), d.get("tp"), d.get("kv_dtype"), d.get("block_tokens", 0) or 0) == key:
            return d
    return None


def deployments(res):
    """[{key, model, tp, kv_dtype, block, slug, run, links: [{name, gbps, handoff, prefix_fetch}], left_out}]"""
    include = bool((res.get("run") or {}).get("include_loopback"))
    groups = {}
    for scen, docs in (("prefix_fetch", res["crossover"]), ("handoff", res["handoff"])):
        for d in docs:
            k = dep_key(d)
            g = groups.setdefault(k, {"key": k, "model": k[0], "tp": k[1], "kv_dtype": k[2], "block": k[3],
                                      "links": {}, "left_out": []})
            if is_loopback(d) and not include:
                if d["link"] not in g["left_out"]:
                    g["left_out"].append(d["link"])
                continue
            g["links"].setdefault(d["link"], {"name": d["link"], "gbps": d.get("link_gbps")})[scen] = d
    models = [g["model"] for g in groups.values()]
    out = []
    for k, g in groups.items():
        g["run"] = _run_entry(res, k) or {}
        g["slug"] = g["run"].get("slug") or (g["model"] if models.count(g["model"]) == 1 else
                                             f"{g['model']}-tp{g['tp']}-{g['kv_dtype']}-b{g['block']}")
        g["links"] = sorted(g["links"].values(), key=lambda l: -(l["gbps"] or 0))
        g["any"] = next((l.get("prefix_fetch") or l.get("handoff") for l in g["links"]), None)
        out.append(g)
    order = [(_d.get("model"), _d.get("tp"), _d.get("kv_dtype"), _d.get("block_tokens", 0) or 0)
             for _d in (res.get("run") or {}).get("deployments") or []]
    out.sort(key=lambda g: order.index(g["key"]) if g["key"] in order else len(order))
    return out


def sweep_for(res, dep):
    for name in (dep["slug"], dep["model"]):
        if name in res["sweeps"]:
            return res["sweeps"][name]
    return None


def tokens(x):
    return f"{int(round(x)):,}"


def gbps(x):
    return "-" if x is None else f"{x:.3g}"


def outcome(doc):
    """('transfer'|'recompute'|'recompute_below'|'transfer_below', L*), or
    ('multiple', (last crossing, who wins above it))"""
    r = doc.get("regime")
    lstar = doc.get("crossover_tokens")
    known = {"transfer_always_wins": ("transfer", None), "recompute_always_wins": ("recompute", None),
             "recompute_below_crossover": ("recompute_below", lstar),
             "transfer_below_crossover": ("transfer_below", lstar)}
    if r in known:
        return known[r]
    last = max(doc.get("crossings") or [0])
    above = [row["winner"] for row in doc.get("rows", []) if row["ctx"] > last]
    return ("multiple", (last, above[-1] if above else None))


def _phrase(o):
    kind, lstar = o
    if kind in ("transfer", "recompute"):
        return kind
    if kind == "recompute_below":
        return f"recompute below L* = {tokens(lstar)} tokens and transfer above"
    if kind == "transfer_below":
        return f"transfer below L* = {tokens(lstar)} tokens and recompute above"
    last, above = lstar
    then = f", then {above} wins" if above else ""
    return f"the winner alternates up to {tokens(last)} tokens (a further message per layer at each block){then}"


def _names(links):
    names = [l["name"] + (" (loopback, not a network path)" if l["name"].startswith("tcp_loopback") else "")
             for l in links]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _winners(dep):
    """clauses: links grouped by (handoff outcome, prefix outcome); whether
    every outcome holds over the whole range; whether each link's two
    scenarios agree"""
    groups = {}
    for l in dep["links"]:
        h = outcome(l["handoff"]) if l.get("handoff") else None
        p = outcome(l["prefix_fetch"]) if l.get("prefix_fetch") else None
        # a storage link has no handoff (run_all.sh asks it only for a stored prefix)
        groups.setdefault((h, p or h), []).append(l)
    every = len(groups) == 1 and len(dep["links"]) > 1
    clauses = []
    for (h, p), links in groups.items():
        if every:
            lo, hi = links[-1]["gbps"], links[0]["gbps"]
            n = "both links" if len(links) == 2 else f"all {len(links)} links"
            where = f"on {n} here ({gbps(lo)}-{gbps(hi)} GB/s)"
        else:
            where = f"on {_names(links)}"
        st = "a storage link" if len(links) == 1 else "storage links"
        if h is None and p[0] == "transfer":
            clauses.append(f"load a stored prefix {where.replace('on ', 'from ', 1)} ({st})")
        elif h is None and p[0] == "recompute":
            clauses.append(f"recompute a stored prefix rather than load it {where.replace('on ', 'from ', 1)} ({st})")
        elif h is None:
            clauses.append(f"{where} ({st}), for a stored prefix, {_phrase(p)}")
        elif h == p and h[0] == "transfer":
            clauses.append(f"transfer the KV cache {where}")
        elif h == p and h[0] == "recompute":
            clauses.append(f"recompute the KV cache {where}")
        elif h == p:
            clauses.append(f"{where} {_phrase(h)}")
        else:
            clauses.append(f"{where}, after a prefill, {_phrase(h)}, but for a stored prefix {_phrase(p)}")
    always = all(o[0] in ("transfer", "recompute") for key in groups for o in key if o)
    agree = all(h == p for h, p in groups)
    kinds = {o[0] for key in groups for o in key if o}
    return clauses, always, agree, kinds


def _bstar(dep, scen):
    vals = [l[scen]["bandwidth_threshold_gbps"] for l in dep["links"] if l.get(scen)]
    vals = [v for v in vals if v is not None]
    return (min(vals), max(vals)) if vals else None


def _range(r):
    lo, hi = r
    return f"{gbps(lo)} GB/s" if hi <= lo * 1.05 else f"{gbps(lo)}-{gbps(hi)} GB/s"


def _flatness(dep):
    """B* over the contexts of one link's prefix-fetch table: (lo, hi, from, to) or None"""
    doc = next((l["prefix_fetch"] for l in dep["links"] if l.get("prefix_fetch")), None) or dep["any"]
    if not doc:
        return None
    block = doc.get("block_tokens") or 1
    rows = [r for r in doc.get("rows", []) if r["ctx"] >= block and r.get("bandwidth_threshold_gbps") is not None]
    if len(rows) < 2:
        return None
    vals = [r["bandwidth_threshold_gbps"] for r in rows]
    return min(vals), max(vals), rows[0]["ctx"], rows[-1]["ctx"]


def _threshold(dep, kinds):
    """B* at the verdict's context and what it means for the links here"""
    doc = dep["any"]
    h, p = _bstar(dep, "handoff"), _bstar(dep, "prefix_fetch")
    main, other = (p, h) if p else (h, None)
    if not main:
        return "recompute beats even the links' fixed latency, at any bandwidth"
    text = f"B* = {_range(main)} at {tokens(doc['ctx'])} tokens"
    if other and (other[1] > main[1] * 1.15 or main[1] > other[1] * 1.15):
        text += f" ({_range(other)} for the layer-wise handoff)" if any(
            (l.get("handoff") or {}).get("transfer_mode") == "layerwise" for l in dep["links"]) \
            else f" ({_range(other)} after a prefill)"
    worst = max(x[1] for x in (h, p) if x)
    slow = dep["links"][-1]
    below = [l for l in dep["links"] if (l["gbps"] or 0) < worst]
    if kinds == {"transfer"}:
        lead = "recompute would win only on a link slower than " + text
        tail = f", and the slowest link here, {slow['name']} at {gbps(slow['gbps'])} GB/s, clears it " \
               f"{slow['gbps'] / worst:.3g}x"
    else:
        lead = text + " is the link speed below which recompute wins"
        tail = f" ({_names(below)} {'is' if len(below) == 1 else 'are'} slower)" if below else ""
    return lead + tail


def headline(dep, gpu=None):
    """one sentence: which side wins on each link, up to what context, B* and the links' margin"""
    doc = dep["any"]
    if doc is None:
        return f"{label(dep)}: no link to answer for (only loopback, which is not a network path)."
    head = f"{dep['model']} at TP {dep['tp']} ({dep['kv_dtype']} KV" + \
        (f", {dep['block']}-token blocks" if dep["block"] else "") + (f", {gpu}" if gpu else "") + ")"
    if doc.get("fits") is False:
        best = doc.get("smallest_tp_that_fits")
        head += f", which DOES NOT FIT the GPU ({f'TP {best} would' if best else 'no TP up to 64 does'})"
    clauses, always, agree, kinds = _winners(dep)
    text = head + ": " + ("after a prefill and for a stored prefix alike, " if agree else "") + "; ".join(clauses)
    top = doc.get("search_max_ctx")
    if always and top:
        what = "window" if doc.get("context_window") == top else "search range"
        text += f", at every context up to its {tokens(top)}-token {what}"
    text += "; " + _threshold(dep, kinds)
    flat = _flatness(dep)
    if flat:
        span = f"{gbps(flat[0])}-{gbps(flat[1])} GB/s from {tokens(flat[2])} to {tokens(flat[3])} tokens"
        if flat[1] <= 2 * flat[0]:
            text += f"; B* hardly moves with context ({span}), so the decision is a bandwidth threshold, not a " \
                    "context length"
        elif always:
            text += f"; B* spans {span}, yet no link here crosses it at any context, so the decision is a " \
                    "bandwidth threshold, not a context length"
        else:
            text += f"; B* spans {span}, so here the context length matters"
    return text + "."


def lstar_text(doc):
    """the L* cell of the verdict: it cannot contradict the winner, both come from one document"""
    if not doc:
        return "-"
    kind, lstar = outcome(doc)
    lb = doc.get("latency_bound_below_tokens")
    if kind in ("transfer", "recompute"):
        base = "none"
    elif lstar is not None and kind in ("recompute_below", "transfer_below"):
        base = f"{tokens(lstar)} ({kind.split('_')[0]} below)"
    else:
        base = "several: " + ", ".join(tokens(x) for x in doc.get("crossings") or [])
    return base + (f" (latency-bound < {tokens(lb)})" if lb else "")
