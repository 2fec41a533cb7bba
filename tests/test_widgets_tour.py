"""widgets.tour: builds without a browser; moving the ε slider reprints ε and e^ε."""
from fldp_teach.widgets.tour import privacy_factor_demo


def test_slider_convention_and_update(capsys):
    box = privacy_factor_demo(epsilon=1.0)
    slider = box.children[0]
    assert slider.description == "ε" and slider.continuous_update is False
    assert "ε = 1.000" in capsys.readouterr().out
    slider.value = 2.0
    out = capsys.readouterr().out
    assert "ε = 2.000" in out and "e^ε = 7.389" in out
