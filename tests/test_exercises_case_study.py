"""Notebook-12 checkers accept a correct answer written from the formula, reject typical wrong ones
with a hint, and refuse a wrapper of the library's answer. The notebook quotes §4.3's closing recap
as the article prints it (no δ in its equations) and says what it drops."""
from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np

from fldp_teach.accounting import RdpAccountant, SampledGaussian
from fldp_teach.dp_fedavg import record_level_epsilon
from fldp_teach.exercises.case_study import check_global_merge, check_schedule_epsilon
from fldp_teach.fedavg import ClientUpdate
from fldp_teach.seed_api import global_merge_fn

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "12_medical_case_study.ipynb"


def merge(updates, state):
    return [np.asarray(w) + sum(np.asarray(u[j]) for u in updates) / len(updates) for j, w in enumerate(state)]


def test_global_merge_checker(capsys):
    assert check_global_merge(merge)
    assert "Correct." in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: [(sum(x[j] for x in u) + 0.0) / w for j, w in enumerate(s)])
    assert "not an average" in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: [w + sum(x[j] for x in u) for j, w in enumerate(s)])
    assert "SUM" in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: [sum(x[j] for x in u) / len(u) for j in range(len(s))])
    assert "mean UPDATE" in capsys.readouterr().out
    assert not check_global_merge(lambda u, s: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_global_merge_refuses_a_wrapper_of_the_library(capsys):
    def my_global_merge(updates, state):
        return global_merge_fn([ClientUpdate(u, num_examples=1) for u in updates], state)[0]

    assert not check_global_merge(my_global_merge)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: my_global_merge calls global_merge_fn") and "ClientUpdate" in out


def schedule_epsilon(schedule, n, b, d):
    b = min(b, n)
    acc = RdpAccountant()
    for z in schedule:
        acc.compose(SampledGaussian(noise_multiplier=z, sampling_rate=b / n, steps=math.ceil(n / b)))
    return acc.epsilon(delta=d)


def test_schedule_epsilon_checker(capsys):
    assert check_schedule_epsilon(schedule_epsilon)          # the accountant's building blocks are allowed
    assert "Correct." in capsys.readouterr().out
    assert not check_schedule_epsilon(lambda s, n, b, d: schedule_epsilon(s, n, n, d))
    assert "not one step" in capsys.readouterr().out
    assert not check_schedule_epsilon(lambda s, n, b, d: schedule_epsilon(s[:1], n, b, d))
    assert "every phase" in capsys.readouterr().out
    assert not check_schedule_epsilon(lambda s, n, b, d: ...)
    assert "nothing yet" in capsys.readouterr().out


def test_schedule_epsilon_refuses_a_wrapper_of_the_library(capsys):
    def my_schedule_epsilon(schedule, n, b, d):
        return record_level_epsilon(noise_multipliers=schedule, participations=[list(range(len(schedule)))],
                                    num_examples=[n], batch_size=b, local_epochs=1, delta=d)

    assert not check_schedule_epsilon(my_schedule_epsilon)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: my_schedule_epsilon calls record_level_epsilon from fldp_teach")
    assert "RdpAccountant, SampledGaussian" in out


def test_schedule_epsilon_checker_uses_inputs_the_notebook_does_not_show(capsys):
    """The notebook charges z = 4 then 1.5 over 15 rounds for hospitals of 106-107 patients."""
    seen = []

    def spy(schedule, n, b, d):
        seen.append((tuple(schedule), n))
        return schedule_epsilon(schedule, n, b, d)

    assert check_schedule_epsilon(spy)
    assert all(n not in (106, 107) and 4.0 not in s for s, n in seen)


def _markdown():
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "markdown"]


def test_notebook_quotes_the_43_recap_without_delta():
    """§4.3 closes with θ_k' = f_k(θ_k) + ε_k, θ_g' = (1/K) Σ θ_k', θ_k = f_k(θ_k'): δ is named in the
    next sentence but is in none of the equations, and θ_g' is the plain mean. Notebook 12 must quote
    that block, say that δ is dropped and θ_g' redefined, and not claim that §4.3 repeats Eq. (1)–(4)."""
    text = "\n".join(_markdown())
    quote = [line for line in text.splitlines() if line.startswith(">")]
    start = next(i for i, line in enumerate(quote) if "通过上述步骤" in line)
    block = "\n".join(quote[start:start + 3])
    equations = re.findall(r"\$\$(.+?)\$\$", block)
    assert len(equations) == 3, equations
    assert not any(r"\delta" in eq for eq in equations), "the recap's equations have no δ"
    assert r"\theta_g^{\prime} = \frac{1}{K} \sum_{k=1}^K \theta_k^{\prime}" in equations[1]
    assert r"$\delta$" in block.split("$$")[-1], "the sentence after the equations still names δ"
    assert "drops the server noise" in text and "redefines" in text
    assert not re.search(r"repeats Eq\. \(1\)[–-]\(4\)", text)


def test_notebook_uses_one_neighbouring_relation_for_the_articles_noise():
    """Cells 11 and 31 (issue 11): ε of `epsilon = 1e-6` with sensitivity 2C, as compute_sensitivity
    and local_epsilon use, i.e. ≈ 2.1·10¹², never the add/remove figure 5·10¹¹."""
    text = "\n".join(_markdown())
    assert "2.1·10¹²" in text and "5·10¹¹" not in text
