import math

import pytest

from fldp_teach import _validation as v


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "x", None, True])
def test_check_positive_rejects_and_names_parameter(bad):
    with pytest.raises(ValueError, match="epsilon"):
        v.check_positive("epsilon", bad)


def test_check_positive_allows_inf_when_asked():
    assert v.check_positive("clip_norm", math.inf, allow_inf=True) == math.inf


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5])
def test_check_open_unit(bad):
    with pytest.raises(ValueError, match=r"delta must be in \(0, 1\)"):
        v.check_open_unit("delta", bad)


@pytest.mark.parametrize("good", [0, 0.5, 1])
def test_check_unit_interval_accepts_closed_ends(good):
    assert v.check_unit_interval("sampling_rate", good) == good


@pytest.mark.parametrize("bad", [-1e-9, 1.0000001, float("nan")])
def test_check_unit_interval_rejects(bad):
    with pytest.raises(ValueError, match="sampling_rate"):
        v.check_unit_interval("sampling_rate", bad)


def test_ints():
    assert v.check_non_negative_int("steps", 0) == 0
    assert v.check_positive_int("batch_size", 3.0) == 3
    for bad in (-1, 2.5, float("nan")):
        with pytest.raises(ValueError, match="steps"):
            v.check_non_negative_int("steps", bad)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        v.check_positive_int("batch_size", 0)


def test_nan_is_named():
    with pytest.raises(ValueError, match="delta must be a number, got nan"):
        v.check_open_unit("delta", float("nan"))
