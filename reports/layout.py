"""Layout of one report figure, for the tests: after drawing, the window
extent of every visible text (titles, axis labels, the tick labels drawn,
legend entries, annotations) and each axes' labels, appended as one JSON
line per figure to the file $KVW_REPORT_LAYOUT names.  common.png calls it
only when that variable is set; the report itself never reads the file.
tests/report/test_report.py checks that no two boxes intersect and that
every axis has a label with its unit.
"""
import json

from matplotlib.ticker import FixedFormatter, FuncFormatter


def _drawn_ticklabels(axis):
    try:
        ticks = axis._update_ticks()  # the ticks inside the view, which are the ones drawn
    except AttributeError:
        return axis.get_ticklabels(which="both")
    return [t.label1 for t in ticks if t.label1.get_visible()] + [t.label2 for t in ticks if t.label2.get_visible()]


def _texts(fig, ax):
    out = [("title", ax.title), ("title", ax._left_title), ("title", ax._right_title),
           ("xlabel", ax.xaxis.label), ("ylabel", ax.yaxis.label)]
    out += [("xtick", t) for t in _drawn_ticklabels(ax.xaxis)] + [("ytick", t) for t in _drawn_ticklabels(ax.yaxis)]
    out += [("text", t) for t in ax.texts]
    leg = ax.get_legend()
    if leg is not None:
        out += [("legend", t) for t in leg.get_texts()] + [("legend", leg.get_title())]
    return out


def boxes(fig):
    """[(kind, text, [x0, y0, x1, y1])] of the visible, non-empty texts, pixels"""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    items = [("figtext", t) for t in fig.texts]
    if getattr(fig, "_suptitle", None) is not None:
        items.append(("title", fig._suptitle))
    for leg in fig.legends:
        items += [("legend", t) for t in leg.get_texts()]
    for ax in fig.axes:
        items += _texts(fig, ax)
    out = []
    for kind, t in items:
        if not t.get_visible() or not t.get_text().strip():
            continue
        bb = t.get_window_extent(r)
        if bb.width > 0 and bb.height > 0:
            out.append((kind, t.get_text(), [bb.x0, bb.y0, bb.x1, bb.y1]))
    return out


def _categorical(axis):
    """tick labels set as names (set_ticklabels: a Fixed- or, since
    matplotlib 3.8, a FuncFormatter over fixed ticks), not numbers"""
    fmt = axis.get_major_formatter()
    return isinstance(fmt, FixedFormatter) or (isinstance(fmt, FuncFormatter)
                                               and type(axis.get_major_locator()).__name__ == "FixedLocator")


def axes_labels(fig):
    return [{"xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "x_categorical": _categorical(ax.xaxis),
             "y_categorical": _categorical(ax.yaxis)} for ax in fig.axes]


def record(fig, name, path):
    line = {"figure": name, "texts": [{"kind": k, "text": t, "box": b} for k, t, b in boxes(fig)],
            "axes": axes_labels(fig), "size_in": list(fig.get_size_inches())}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
