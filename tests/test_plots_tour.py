"""plots.tour: the demo figure of notebook 00 plots e^ε and marks the chosen ε."""
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from fldp_teach.plots.tour import plot_privacy_factor


def test_curve_is_exp_epsilon_and_marker_sits_on_it():
    fig = plot_privacy_factor(2.0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    curve = next(l for l in ax.get_lines() if "bound" in l.get_label())
    x, y = curve.get_data()
    np.testing.assert_allclose(y, np.exp(x))
    marker = next(l for l in ax.get_lines() if "chosen" in l.get_label())
    assert marker.get_xdata()[0] == 2.0 and math.isclose(marker.get_ydata()[0], math.exp(2.0))
    assert "varepsilon" in ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_draws_into_a_given_axes_and_validates():
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_privacy_factor(0.5, ax=ax) is fig
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="epsilon"):
            plot_privacy_factor(bad)
