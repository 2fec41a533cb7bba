"""The notebooks as a person uses them (issue 6): real JupyterLab, real Chromium, real sliders.

A module-scoped JupyterLab serves a temporary COPY of the notebooks (JupyterLab autosaves) plus
two tiny notebooks the self-tests write; Debian's Chromium, driven by Playwright, opens each
notebook, clicks Run ▸ Run All Cells, checks that no cell shows an error, moves a slider with
the arrow keys and checks the plot image changed and the printed value equals the formula for
the new slider value. Harness: ``tests/browser/``. Screenshots, logs and timings go to
``artifacts/browser/``. Skipped (with the reason) only where no Chromium can be installed;
under ``CI=true`` a missing Chromium fails instead. Install it with
``bash scripts/ensure_chromium.sh`` (``make test`` does)."""
from __future__ import annotations

import json
import math
import os
import shutil
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import nbformat
import pytest

from browser.chromium import find_chromium, playwright_browser
from browser.jupyterlab import running_jupyterlab
from browser.notebook import Notebook, NotebookError, parse_readout, rounding_tolerance
from browser.processes import WaitTimeout, wait_for

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
VIEWPORT = {"width": 1280, "height": 900}
RUN_ALL_TIMEOUT_S = 180      # kernel start + `import tensorflow` take 10-20 s on a loaded machine
SLIDER_TIMEOUT_S = 90
TIMES: dict[str, float] = {}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def chromium() -> str:
    executable = find_chromium()
    reason = None
    if executable is None:
        reason = "no Chromium found (run `bash scripts/ensure_chromium.sh`, or set FLDP_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    if reason:
        if _in_ci():
            pytest.fail(f"CI=true but the browser test cannot run: {reason}")
        pytest.skip(reason)
    return executable


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    """A temporary JupyterLab root: the self-test notebooks and a copy of notebooks/."""
    root = tmp_path_factory.mktemp("lab_root")
    _write_self_test_notebooks(root / "selftest")
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if (ROOT / "data").exists():   # notebooks may read ../data
        (root / "data").symlink_to(ROOT / "data")
    return root


@pytest.fixture(scope="module")
def lab(lab_root):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("FAILED_*.png"):
        stale.unlink()
    # FLDP_QUICK=1: the notebooks' quick mode (notebooks/AUTHORING.md), inherited by the kernels
    with running_jupyterlab(lab_root, env={"FLDP_QUICK": "1"},
                            log_path=ARTIFACTS / "jupyterlab.log") as server:
        yield server
    (ARTIFACTS / "times.json").write_text(json.dumps(TIMES, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def browser(chromium, lab):
    with playwright_browser(chromium, log_path=ARTIFACTS / "chromium.log") as b:
        yield b


@pytest.fixture
def open_notebook(browser, lab, request):
    """open_notebook("dir/name.ipynb") -> Notebook, in a fresh browser context; on failure a
    screenshot of the page is saved; the notebook's kernel is shut down afterwards."""
    contexts = []
    failures_before = request.session.testsfailed

    def _open(relative_path: str) -> Notebook:
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        start = time.monotonic()
        notebook = Notebook.open(page, lab.notebook_url(relative_path),
                                 Path(relative_path).name, timeout=RUN_ALL_TIMEOUT_S)
        TIMES[f"{request.node.name}: open"] = round(time.monotonic() - start, 1)
        return notebook

    yield _open
    failed = request.session.testsfailed > failures_before   # the call phase is already logged
    for context in contexts:
        try:
            if failed:
                for i, page in enumerate(context.pages):
                    page.screenshot(path=str(ARTIFACTS / f"FAILED_{request.node.name}_{i}.png"))
        finally:
            context.close()
    lab.shutdown_kernels()


# --------------------------------------------------------------------------- self-test
SELF_TEST_SETUP = """\
%matplotlib inline
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
"""

# b = Δ₁/ε for the Laplace mechanism with Δ₁ = 2 (what notebook 02 teaches), computed in the
# kernel; the test recomputes it from the slider's readout.
SELF_TEST_WIDGET = """\
def show(epsilon):
    scale = 2.0 / epsilon
    x = np.linspace(-10, 10, 401)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(x, np.exp(-np.abs(x) / scale) / (2 * scale), label=f"Laplace(0, b)")
    ax.set_xlabel("noise x"); ax.set_ylabel("density p(x)"); ax.legend()
    ax.set_title(f"Laplace noise for Δ₁ = 2, ε = {epsilon:.2f}")
    plt.show()
    print(f"scale b = {scale:.3f}")

slider = widgets.FloatSlider(value=1.0, min=0.1, max=5.0, step=0.1, description="ε",
                             readout_format=".1f", continuous_update=False)
widgets.VBox([slider, widgets.interactive_output(show, {"epsilon": slider})])
"""


def _write_self_test_notebooks(directory: Path) -> None:
    directory.mkdir(parents=True)
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    slider_nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    slider_nb.cells = [nbformat.v4.new_markdown_cell("# Harness self-test: one slider"),
                       nbformat.v4.new_code_cell(SELF_TEST_SETUP),
                       nbformat.v4.new_code_cell(""),   # an empty cell never gets a prompt number
                       nbformat.v4.new_code_cell(SELF_TEST_WIDGET)]
    nbformat.write(slider_nb, directory / "slider.ipynb")
    error_nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    error_nb.cells = [nbformat.v4.new_code_cell("print('before the error')"),
                      nbformat.v4.new_code_cell("1 / 0"),
                      nbformat.v4.new_code_cell("print('never reached')")]
    nbformat.write(error_nb, directory / "error.ipynb")


@pytest.mark.parametrize("printed, tolerance", [("1.234", 5e-4), ("2", 0.5), ("0.50", 5e-3),
                                                 ("3e-05", 5e-6), ("1.25E+2", 0.5)])
def test_rounding_tolerance_is_half_a_unit_in_the_last_printed_digit(printed, tolerance):
    assert rounding_tolerance(printed) == pytest.approx(tolerance, rel=1e-6)


@pytest.mark.parametrize("readout, value", [("1.20", 1.2), ("\u22120.50", -0.5),
                                            ("10,000", 10000.0), ("1e-5", 1e-5)])
def test_parse_readout_reads_d3_formatted_numbers(readout, value):
    assert parse_readout(readout) == value


@pytest.mark.timeout(600)
def test_harness_self_test(open_notebook):
    """Open, Run All, move the ε slider 1.0 → 1.5 by five ArrowRight presses: the plot image
    changes and the printed ``scale b`` equals Δ₁/ε = 2/1.5 = 1.333; a wrong formula is caught."""
    notebook = open_notebook("selftest/slider.ipynb")
    TIMES["self-test: run all"] = round(notebook.run_all(timeout=RUN_ALL_TIMEOUT_S), 1)
    slider = notebook.slider("ε")
    before = slider.wait_rendered(timeout=SLIDER_TIMEOUT_S)
    assert slider.value() == 1.0
    assert slider.printed("scale b") == 2.0
    slider.screenshot(ARTIFACTS / "selftest_slider_before.png")

    start = time.monotonic()
    slider.press("ArrowRight", 5)
    value, printed = slider.wait_updated(before, name="scale b", expected=lambda eps: 2.0 / eps,
                                         timeout=SLIDER_TIMEOUT_S)
    TIMES["self-test: slider update"] = round(time.monotonic() - start, 1)
    slider.screenshot(ARTIFACTS / "selftest_slider_after.png")
    assert value == pytest.approx(1.5)
    assert printed == pytest.approx(1.333, abs=5e-4)

    # ... and the check can fail: after one more press (ε = 1.6, b = 1.250) a wrong formula
    # is never matched, while the right one is.
    before = slider.state()
    slider.press("ArrowRight")
    with pytest.raises(WaitTimeout, match=r"scale b = expected value"):
        slider.wait_updated(before, name="scale b", expected=lambda eps: 2.0 / eps + 0.01,
                            timeout=5)
    assert slider.wait_updated(before, name="scale b", expected=lambda eps: 2.0 / eps,
                               timeout=SLIDER_TIMEOUT_S) == (pytest.approx(1.6), 1.25)
    assert notebook.error_outputs() == []


@pytest.mark.timeout(300)
def test_harness_reports_error_output(open_notebook):
    """The harness must fail loudly on a traceback: Run All of a notebook with ``1 / 0``."""
    notebook = open_notebook("selftest/error.ipynb")
    with pytest.raises(NotebookError, match="ZeroDivisionError"):
        notebook.run_all(timeout=RUN_ALL_TIMEOUT_S)


# --------------------------------------------------------------------------- course notebooks
def _dp_accounting_epsilon(*, noise_multiplier, sampling_rate, steps, delta) -> float:
    """ε(δ) of ``steps`` Poisson-sampled Gaussian steps by Google's dp-accounting (RDP, improved
    conversion of Balle et al. 2020, Thm 21) on our order grid: independent of fldp_teach's
    RDP code."""
    import dp_accounting
    from fldp_teach.accounting import DEFAULT_ORDERS

    accountant = dp_accounting.rdp.RdpAccountant(orders=[float(a) for a in DEFAULT_ORDERS])
    accountant.compose(dp_accounting.PoissonSampledDpEvent(
        sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)), steps)
    return accountant.get_epsilon(delta)


def _dp_accounting_pld_epsilon(*, noise_multiplier, sampling_rate, steps, delta) -> float:
    """ε(δ) by dp-accounting's PLD accountant (pessimistic discretization, interval 1e-3, the
    notebook's setting): near-exact, so it must not exceed the RDP bound."""
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-3)
    accountant.compose(dp_accounting.PoissonSampledDpEvent(
        sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)), steps)
    return accountant.get_epsilon(delta)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _central_epsilon(*, noise_multiplier, rounds, sampling_rate, delta) -> float:
    from fldp_teach.dp_fedavg import central_epsilon

    return central_epsilon(noise_multipliers=[noise_multiplier] * rounds,
                           sampling_rate=sampling_rate, delta=delta)


@dataclass(frozen=True)
class SliderCheck:
    """What the test does in one course notebook: Run All, move ``slider`` by ``presses`` arrow
    keys (negative: ArrowLeft), then the line ``printed = value`` in the slider's output area
    must equal ``expected(values)`` to 3 decimals, where ``values`` maps every name in
    ``reads`` (descriptions of sliders in the same widget, the moved one included) to that
    slider's readout. ``occurrence`` picks the n-th slider of that name (default: the only one)."""

    notebook: str                     # file name under notebooks/
    slider: str                       # the slider's description
    presses: int
    printed: str                      # the name in the printed line "name = 1.234"
    expected: Callable[[Mapping[str, float]], float]
    reads: tuple[str, ...]
    source: str                       # where the formula comes from (for the reader)
    readme_image: bool = False        # also save the widget area as the README's picture
    occurrence: int | None = None
    # then, optionally, press a Button of the same widget: ``button_printed`` must show
    # ``button_expected(values)`` for the values after the move
    button: str | None = None
    button_printed: str = ""
    button_expected: Callable[[Mapping[str, float]], float] | None = None


COURSE_CHECKS = [
    SliderCheck("00_setup_and_tour.ipynb", slider="ε", presses=4, printed="e^ε",
                expected=lambda v: math.exp(v["ε"]), reads=("ε",),
                source="e^ε, the factor bounding the probability ratio (Dwork & Roth 2014, Def. 2.4)"),
    SliderCheck("01_what_dp_promises.ipynb", slider="ε", occurrence=0, presses=4,
                printed="bound", expected=lambda v: math.exp(v["ε"]) / (1 + math.exp(v["ε"])),
                reads=("ε",),
                source="e^ε/(1 + e^ε), the best membership-guessing success against ε-DP "
                       "(Wasserman & Zhou 2010, Thm 2.4; Kairouz et al. 2015, Thm 2.1); the "
                       "notebook has two sliders named ε: this is the first"),
    SliderCheck("02_laplace_mechanism.ipynb", slider="ε", presses=4, printed="scale b",
                expected=lambda v: v["Δ₁"] / v["ε"], reads=("ε", "Δ₁"),
                source="b = Δ₁/ε (Dwork & Roth 2014, Def. 3.3 and Thm 3.6), written out here "
                       "rather than calling mechanisms.laplace_scale"),
    SliderCheck("03_gaussian_mechanism.ipynb", slider="noise s", presses=3, printed="win rate additive",
                expected=lambda v: _normal_cdf(math.sqrt(v["releases"]) * abs(3.0 - 1.0) / (2 * v["noise s"])),
                reads=("noise s", "releases"),
                source="the best test between x + N(0, s²) for x = 1 and x = 3 after k releases wins with "
                       "probability Φ(√k·|a − b|/(2s)) (Neyman–Pearson; Dong, Roth & Su 2022, Cor. 3.3); "
                       "value_a = 1, value_b = 3 as in the notebook's call"),
    SliderCheck("09_fedavg.ipynb", slider="n_1", presses=5, printed="weighted mean",
                expected=lambda v: sum(n * x for n, x in zip((v["n_1"], v["n_2"], v["n_3"], v["n_4"]),
                                                           (1.0, 2.0, 3.0, 6.0)))
                / (v["n_1"] + v["n_2"] + v["n_3"] + v["n_4"]),
                reads=("n_1", "n_2", "n_3", "n_4"),
                source="FedAvg's weighted mean Σ n_k θ_k / Σ n_k (McMahan et al. 2017, Alg. 1) of the "
                       "notebook's client values (1, 2, 3, 6)"),
    SliderCheck("08_rdp_accounting.ipynb", slider="noise z", presses=4, printed="ε",
                expected=lambda v: _dp_accounting_epsilon(
                    noise_multiplier=v["noise z"], sampling_rate=v["q"],
                    steps=int(round(v["steps"])), delta=v["δ"]),
                reads=("noise z", "q", "steps", "δ"),
                source="dp-accounting's RdpAccountant (Google; the independent reference) on "
                       "fldp_teach.accounting.DEFAULT_ORDERS: T-fold Poisson-sampled Gaussian",
                button="compute ε_PLD", button_printed="ε_PLD",
                button_expected=lambda v: _dp_accounting_pld_epsilon(
                    noise_multiplier=v["noise z"], sampling_rate=v["q"],
                    steps=int(round(v["steps"])), delta=v["δ"]),
                readme_image=True),
    SliderCheck("10_central_dp_fedavg.ipynb", slider="noise z", presses=4, printed="ε",
                expected=lambda v: _central_epsilon(
                    noise_multiplier=v["noise z"], rounds=int(v["rounds"]), sampling_rate=v["q"],
                    delta=1e-5),   # DELTA of the notebook (not a slider)
                reads=("noise z", "rounds", "q"),
                source="fldp_teach.dp_fedavg.central_epsilon over `rounds` identical rounds "
                       "(the widget itself prints accounting.dp_sgd_epsilon)"),
]
COURSE_CHECKS = [c for c in COURSE_CHECKS if (ROOT / "notebooks" / c.notebook).exists()]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("check", COURSE_CHECKS, ids=[c.notebook[:2] for c in COURSE_CHECKS])
def test_course_notebook_runs_and_slider_updates(open_notebook, check):
    """Run All in quick mode shows no error; moving the slider redraws the plot and the printed
    value follows the library's formula for the new slider value."""
    stem = Path(check.notebook).stem
    notebook = open_notebook(f"notebooks/{check.notebook}")
    TIMES[f"{stem}: run all"] = round(notebook.run_all(timeout=RUN_ALL_TIMEOUT_S), 1)
    # issue 15: no pink stderr block (TF's start-up lines), no solution output before it is asked for
    stderr = notebook.stderr_outputs()
    assert not stderr, f"{stem} shows stderr to the student:\n" + "\n---\n".join(t[:300] for t in stderr)
    cells = json.loads((ROOT / "notebooks" / check.notebook).read_text())["cells"]
    solutions = sum("solution" in c.get("metadata", {}).get("tags", []) for c in cells)
    shown = notebook.collapsed_cell_outputs()
    assert len(shown) == solutions, f"{stem}: {len(shown)} collapsed cells on the page, {solutions} solutions in the file"
    assert not any(shown), f"{stem}: a hidden solution shows output under its exercise: {shown}"
    slider = notebook.slider(check.slider, occurrence=check.occurrence)
    before = slider.wait_rendered(timeout=SLIDER_TIMEOUT_S)
    slider.cell.scroll_into_view_if_needed()
    notebook.page.screenshot(path=str(ARTIFACTS / f"{stem}_after_run_all.png"))
    slider.screenshot(ARTIFACTS / f"{stem}_widget_before.png")

    def expected(_value: float) -> float:
        return check.expected({name: slider.sibling(name).value() for name in check.reads})

    start = time.monotonic()
    slider.press("ArrowRight" if check.presses > 0 else "ArrowLeft", abs(check.presses))
    value, printed = slider.wait_updated(before, name=check.printed, expected=expected,
                                         timeout=SLIDER_TIMEOUT_S)
    TIMES[f"{stem}: slider update"] = round(time.monotonic() - start, 1)
    slider.screenshot(ARTIFACTS / f"{stem}_widget_after.png")
    assert value != parse_readout(before.readout)

    if check.button:
        values = {name: slider.sibling(name).value() for name in check.reads}
        want = check.button_expected(values)
        image_before = slider.image_src()
        start = time.monotonic()
        slider.click_button(check.button)
        shown = slider.wait_printed(check.button_printed, want, image_before=image_before,
                                    timeout=SLIDER_TIMEOUT_S)
        TIMES[f"{stem}: button {check.button!r}"] = round(time.monotonic() - start, 1)
        assert shown <= printed + 5e-4, (check.button_printed, shown, check.printed, printed)
    if check.readme_image:   # the lead copies it to docs/img/notebook_sliders.png (< 150 KB)
        slider.screenshot(ARTIFACTS / "notebook_sliders.png")
    assert notebook.error_outputs() == []


# --------------------------------------------------------------------------- Chinese glyphs
@pytest.mark.timeout(600)
@pytest.mark.parametrize("relative_path", ["notebooks/00_setup_and_tour.ipynb",
                                           "notebooks/zh/00_setup_and_tour.ipynb"])
def test_article_mermaid_labels_render_with_a_cjk_font(open_notebook, relative_path):
    """Issue 13: the article's Mermaid diagrams (notebook 00, section 3) have Chinese labels;
    without a CJK font JupyterLab draws them as empty boxes. The fonts Chromium actually used for a
    Chinese label (DevTools' record) must all be fonts that contain CJK glyphs. The Noto CJK fonts
    come from scripts/ensure_chromium.sh, the step that installs Chromium."""
    from browser.fonts import cjk_font_families, glyph_problem, tofu_report

    assert cjk_font_families(), "no font with CJK glyphs is installed (bash scripts/ensure_chromium.sh)"
    notebook = open_notebook(relative_path)
    page = notebook.page
    diagrams = page.locator(".jp-RenderedMermaid")

    def rendered() -> bool:   # JupyterLab renders Markdown cells as they scroll into view
        page.evaluate("""() => { for (const el of document.querySelectorAll('.jp-WindowedPanel-outer'))
                                     el.scrollTop += el.clientHeight * 0.8; }""")
        return page.locator(".jp-RenderedMermaid img").count() >= 5
    try:
        wait_for(rendered, timeout=90, what="the five Mermaid diagrams to render", interval=0.5)
    except WaitTimeout:
        page.screenshot(path=str(ARTIFACTS / f"FAILED_mermaid_{Path(relative_path).parent.name}.png"))
        raise
    diagrams.first.scroll_into_view_if_needed()
    edition = "zh" if "/zh/" in relative_path else "en"
    diagrams.first.screenshot(path=str(ARTIFACTS / f"mermaid_cjk_{edition}.png"))
    # JupyterLab shows each diagram as an <img> of the SVG Mermaid drew; DevTools reports fonts
    # only for DOM text, so the same SVG is inlined into a blank page of the same browser.
    src = page.locator(".jp-RenderedMermaid img").first.get_attribute("src")
    assert src.startswith("data:image/svg+xml"), src[:80]
    svg = urllib.parse.unquote(src.split(",", 1)[1])
    probe = page.context.new_page()
    probe.set_content("<!doctype html><html><body>" + svg[svg.index("<svg"):] + "</body></html>")
    text, fonts, not_cjk = tofu_report(probe, "svg")
    problem = glyph_problem(text, fonts, not_cjk)
    assert problem is None, problem
