"""widgets.laplace: moving ε or Δ₁ reprints `scale b` = mechanisms.laplace_scale (the browser test
reads the same line)."""
import re

from fldp_teach.mechanisms import laplace_scale
from fldp_teach.widgets.laplace import laplace_explorer


def _sliders(box):
    found, stack = {}, [box]
    while stack:
        w = stack.pop()
        if hasattr(w, "continuous_update") and hasattr(w, "value"):
            found[w.description] = w
        stack.extend(getattr(w, "children", ()))
    return found


def _printed(text, name):
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # clear_output's terminal codes outside a kernel
    values = re.findall(r"(?m)^\s*" + re.escape(name) + r" = ([-+0-9.eE]+)", text)
    assert values, f"no '{name} = …' in\n{text}"
    return float(values[-1])


def test_scale_line_follows_sliders(capsys):
    box = laplace_explorer()
    s = _sliders(box)
    assert set(s) == {"ε", "Δ₁"} and all(w.continuous_update is False for w in s.values())
    out = capsys.readouterr().out
    assert _printed(out, "scale b") == 1.0 and _printed(out, "Δ₁") == 1.0
    s["ε"].value = 0.25
    out = capsys.readouterr().out
    eps, d1 = _printed(out, "ε"), _printed(out, "Δ₁")
    assert _printed(out, "scale b") == round(laplace_scale(epsilon=eps, l1_sensitivity=d1), 3) == 4.0
    s["Δ₁"].value = 3.0
    out = capsys.readouterr().out
    assert _printed(out, "scale b") == round(laplace_scale(epsilon=0.25, l1_sensitivity=3.0), 3) == 12.0
