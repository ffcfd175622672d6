"""How the report's figures look: one size for the page, fonts a person
can read, times in plain units, and labels spread so they never overlap.
Sections import it; matplotlib's defaults are set once, here."""
import math

import matplotlib

matplotlib.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
                            "xtick.labelsize": 9, "ytick.labelsize": 9, "figure.dpi": 90})

WIDTH = 9.0  # inches: about 810 px at the report's 90 dpi, inside the page's 1100 px


def seconds(x):
    """3.32 -> '3.3 s', 0.0123 -> '12 ms', 4.2e-05 -> '42 us'"""
    if x is None or not math.isfinite(x):
        return "-"
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if abs(x) >= scale or unit == "ns":
            v = x / scale
            return f"{v:.2g} {unit}" if v < 10 else f"{v:.0f} {unit}"
    return f"{x:g} s"


def spread(wanted, gap, lo=0.0, hi=1.0):
    """positions (axes fraction) as close to `wanted` as they can be while
    at least `gap` apart and inside [lo, hi]; returns them in input order"""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    pos = [min(max(wanted[i], lo), hi) for i in order]
    for k in range(1, len(pos)):
        pos[k] = max(pos[k], pos[k - 1] + gap)
    over = pos[-1] - hi if pos else 0
    if over > 0:
        pos[-1] -= over
        for k in range(len(pos) - 2, -1, -1):
            pos[k] = min(pos[k], pos[k + 1] - gap)
    out = [0.0] * len(wanted)
    for k, i in enumerate(order):
        out[i] = pos[k]
    return out


def label_gap(fig, ax, fontsize):
    """one line of text of `fontsize` points, as a fraction of the axes' height"""
    h_in = ax.get_position().height * fig.get_size_inches()[1]
    return 1.35 * fontsize / 72.0 / h_in
