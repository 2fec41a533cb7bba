"""plots.laplace: the density is a probability density, and the drawn privacy loss stays in
[−ε, ε] and reaches ±ε (Dwork & Roth 2014, Thm 3.6)."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from fldp_teach.plots.laplace import laplace_density, plot_laplace


def test_density_matches_scipy_and_integrates_to_one():
    y = np.linspace(-10, 10, 101)
    np.testing.assert_allclose(laplace_density(y, center=1.0, scale=2.0), stats.laplace.pdf(y, loc=1.0, scale=2.0))
    total, _ = integrate.quad(lambda t: float(laplace_density(t, center=0.0, scale=0.7)), -np.inf, np.inf)
    assert math.isclose(total, 1.0, rel_tol=1e-9)


@pytest.mark.parametrize("epsilon, d1", [(0.5, 1.0), (2.0, 3.0)])
def test_plot_loss_is_bounded_by_epsilon(epsilon, d1):
    fig = plot_laplace(epsilon, l1_sensitivity=d1, value=10.0)
    ax_pdf, ax_loss = fig.axes
    assert len([l for l in ax_pdf.get_lines()]) == 2
    assert "f(D')" in ax_pdf.get_lines()[1].get_label()
    # the two densities are centred Δ₁ apart with scale b = Δ₁/ε
    x, p = ax_pdf.get_lines()[1].get_data()
    assert math.isclose(x[np.argmax(p)], 10.0 + d1, abs_tol=(x[1] - x[0]))
    assert math.isclose(p.max(), epsilon / (2 * d1), rel_tol=1e-2)
    loss = ax_loss.get_lines()[0].get_ydata()
    assert np.all(np.abs(loss) <= epsilon + 1e-12)
    assert math.isclose(loss.max(), epsilon) and math.isclose(loss.min(), -epsilon)
    assert all(a.get_xlabel() and a.get_ylabel() and a.get_title() for a in fig.axes)


def test_validation():
    with pytest.raises(ValueError, match="epsilon"):
        plot_laplace(-1.0)
    with pytest.raises(ValueError, match="l1_sensitivity"):
        plot_laplace(1.0, l1_sensitivity=0.0)
