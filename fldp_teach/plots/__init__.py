"""Pure plot functions for the course (layer 4): each takes parameters and an optional
matplotlib ``ax``, returns the Figure, and is unit-tested without a browser. One module per
topic (``plots/<topic>.py``); the widgets in ``fldp_teach.widgets`` wrap these with sliders.

Import from the topic module, e.g. ``from fldp_teach.plots.laplace import plot_laplace``.
"""
from __future__ import annotations

import matplotlib as mpl
from matplotlib.ticker import MaxNLocator

__all__ = ["COURSE_STYLE", "MIN_FONT_SIZE", "integer_ticks", "legend_below"]

#: The smallest font the course's figures use (legends included): readable at notebook width.
MIN_FONT_SIZE = 9

#: One look for every figure of the course, applied when ``fldp_teach.plots`` is imported:
#: legible legends that do not hide data ("best" place, a frame that lets curves show through).
COURSE_STYLE = {
    "font.size": 10,
    "legend.fontsize": MIN_FONT_SIZE,
    "legend.title_fontsize": MIN_FONT_SIZE,
    "legend.loc": "best",
    "legend.framealpha": 0.8,
    "xtick.labelsize": MIN_FONT_SIZE,
    "ytick.labelsize": MIN_FONT_SIZE,
    "axes.titlesize": 11,
}
mpl.rcParams.update(COURSE_STYLE)


def integer_ticks(*axes, axis: str = "x") -> None:
    """Integer-only ticks on ``axis`` of each of ``axes``: rounds and epochs are counts
    (no "round 1.5")."""
    for ax in axes:
        (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def legend_below(ax, *, ncol: int = 2, **kwargs):
    """A legend under the axes, outside the data: for figures whose legend has many entries or
    would sit on the curves or points."""
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, **kwargs)
