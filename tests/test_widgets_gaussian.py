"""widgets.gaussian: `σ = …` is the analytic σ; `σ_classic` is printed for ε < 1 and replaced by
the library's ValueError for ε ≥ 1."""
import re

from fldp_teach.mechanisms import analytic_gaussian_stddev, classic_gaussian_stddev
from fldp_teach.widgets.gaussian import gaussian_explorer


def _sliders(box):
    found, stack = {}, [box]
    while stack:
        w = stack.pop()
        if hasattr(w, "continuous_update") and hasattr(w, "value"):
            found[w.description] = w
        stack.extend(getattr(w, "children", ()))
    return found


def _printed(text, name):
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    values = re.findall(r"(?m)^\s*" + re.escape(name) + r" = ([-+0-9.eE]+)", text)
    assert values, f"no '{name} = …' in\n{text}"
    return float(values[-1])


def test_sigma_lines(capsys):
    box = gaussian_explorer(epsilon=0.5, delta=1e-5)
    s = _sliders(box)
    assert set(s) == {"ε", "δ"} and all(w.continuous_update is False for w in s.values())
    out = capsys.readouterr().out
    assert _printed(out, "σ") == round(analytic_gaussian_stddev(epsilon=0.5, delta=1e-5, l2_sensitivity=1.0), 3)
    assert _printed(out, "σ_classic") == round(classic_gaussian_stddev(epsilon=0.5, delta=1e-5, l2_sensitivity=1.0), 3)
    s["ε"].value = 2.0
    out = capsys.readouterr().out
    assert _printed(out, "ε") == 2.0
    assert _printed(out, "σ") == round(analytic_gaussian_stddev(epsilon=2.0, delta=1e-5, l2_sensitivity=1.0), 3)
    assert "σ_classic: not defined" in out and "ValueError" in out
    s["δ"].value = 1e-8
    out = capsys.readouterr().out
    assert _printed(out, "σ") == round(analytic_gaussian_stddev(epsilon=2.0, delta=1e-8, l2_sensitivity=1.0), 3)


def test_multiplicative_vs_additive_win_rates(capsys):
    from fldp_teach.plots.gaussian import attacker_win_rate, multiplicative_win_rate_limit
    from fldp_teach.widgets.gaussian import multiplicative_vs_additive_explorer

    box = multiplicative_vs_additive_explorer(stddev=1.0, value_a=1.0, value_b=3.0)
    s = _sliders(box)
    assert set(s) == {"noise s", "releases"} and all(w.continuous_update is False for w in s.values())
    out = capsys.readouterr().out
    assert _printed(out, "noise s") == 1.0 and _printed(out, "releases") == 1
    assert _printed(out, "win rate additive") == round(attacker_win_rate(
        noise="additive", value_a=1.0, value_b=3.0, stddev=1.0), 3) == 0.841  # Φ(1)
    s["noise s"].value = 100.0
    out = capsys.readouterr().out
    assert _printed(out, "noise s") == 100.0
    assert _printed(out, "win rate additive") == 0.504                      # Φ(0.01): a coin flip
    assert _printed(out, "win rate multiplicative") == round(attacker_win_rate(
        noise="multiplicative", value_a=1.0, value_b=3.0, stddev=100.0), 3) == 0.742  # it is not
    assert "Figure" in out
    s["releases"].value = 20
    out = capsys.readouterr().out
    assert _printed(out, "releases") == 20
    assert _printed(out, "win rate multiplicative") > 0.999
    assert _printed(out, "win rate multiplicative, s → ∞") == round(
        multiplicative_win_rate_limit(value_a=1.0, value_b=3.0, releases=20), 3)
