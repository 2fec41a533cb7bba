"""widgets.dp_basics: the two explorers build without a browser and reprint their values when a
slider is set from Python."""
import math
import re

from fldp_teach.mechanisms import randomized_response_standard_error
from fldp_teach.plots.dp_basics import laplace_count_attack_success, membership_success_bound
from fldp_teach.widgets.dp_basics import membership_game_explorer, randomized_response_explorer


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


def test_membership_explorer(capsys):
    box = membership_game_explorer(epsilon=1.0, trials=2000)
    s = _sliders(box)
    assert set(s) == {"ε"} and s["ε"].continuous_update is False
    s["ε"].value = 2.0
    out = capsys.readouterr().out
    assert _printed(out, "ε") == 2.0
    assert math.isclose(_printed(out, "bound"), round(membership_success_bound(epsilon=2.0), 3))
    assert math.isclose(_printed(out, "Laplace attack (formula)"),
                        round(laplace_count_attack_success(epsilon=2.0), 3))


def test_randomized_response_explorer(capsys):
    box = randomized_response_explorer(epsilon=1.0, num_examples=500, repeats=50)
    s = _sliders(box)
    assert set(s) == {"ε", "n"} and all(w.continuous_update is False for w in s.values())
    s["ε"].value = 0.5
    s["n"].value = 1000
    out = capsys.readouterr().out
    se = randomized_response_standard_error(true_proportion=0.3, num_examples=1000, epsilon=0.5)
    assert _printed(out, "ε") == 0.5
    assert math.isclose(_printed(out, "SE (formula)"), round(se, 3))
