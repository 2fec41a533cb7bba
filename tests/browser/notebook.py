"""Drive one notebook in JupyterLab the way a person does: open it, Run ▸ Run All Cells, wait
until every cell has run, look for error output, move a slider with the arrow keys and read
what the widget prints and plots. Every wait is bounded."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import WaitTimeout, wait_for

STATUSBAR = "#jp-main-statusbar"
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
ERROR_RE = re.compile(r"Traceback|\b\w*Error\b")
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"

# For every code cell with a collapsed input: how many outputs it shows under the exercise.
_COLLAPSED_OUTPUTS_JS = """
() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
  .filter(cell => cell.querySelector('.jp-InputPlaceholder'))
  .map(cell => cell.querySelectorAll('.jp-OutputArea-output').length)
"""

# For every code cell: its prompt ("[ ]:", "[*]:", "[3]:") and whether its source is empty
# (JupyterLab does not send an empty cell to the kernel, so its prompt stays "[ ]:").
_CELL_STATES_JS = """
() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
  .map(cell => {
    const prompt = cell.querySelector('.jp-InputArea-prompt');
    const source = cell.querySelector('.jp-InputArea-editor .cm-content');
    return [prompt ? prompt.textContent.trim() : '',
            source ? source.textContent.trim().length > 0 : false];
  })
"""


def rounding_tolerance(printed: str) -> float:
    """Half a unit in the last printed digit of ``printed`` (``"1.234"`` → 0.0005,
    ``"3e-05"`` → 5e-06), plus a hair for binary floating point."""
    mantissa, _, exponent = printed.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals) * (1 + 1e-9)


def parse_readout(text: str) -> float:
    """A slider readout as a number: "1.20" → 1.2, "−0.50" → -0.5, "10,000" → 10000.0."""
    return float(text.strip().replace("\u2212", "-").replace(",", ""))


class NotebookError(AssertionError):
    """A notebook showed error output or its kernel died."""


@dataclass(frozen=True)
class SliderState:
    readout: str          # the number the slider shows next to it
    image_src: str        # src of the (first) plot image in the slider's cell ('' if none)
    output_text: str      # text of the slider's cell output area


class Notebook:
    """One notebook open in a Playwright page of a running JupyterLab."""

    def __init__(self, page, name: str):
        self.page = page
        self.name = name

    # ---- opening and running -------------------------------------------------------------
    @classmethod
    def open(cls, page, url: str, name: str, *, timeout: float = 120.0) -> "Notebook":
        """Load ``url`` (from ``LabServer.notebook_url``) and wait until the notebook's name and
        a kernel reporting "Idle" are in the status bar."""
        page.goto(url, timeout=timeout * 1000)
        notebook = cls(page, name)

        def ready() -> bool:
            dialogs = page.locator(".jp-Dialog")
            if dialogs.count():   # e.g. "Select Kernel": the notebook has no usable kernelspec
                raise NotebookError(f"{name}: a dialog blocks the notebook: "
                                    f"{dialogs.first.inner_text()!r}")
            status = notebook.status_text()
            return name in status and "Idle" in status

        wait_for(ready, timeout=timeout, what=f"{name} to open with an idle kernel",
                 describe=notebook.status_text, interval=0.5)
        return notebook

    def status_text(self) -> str:
        try:
            return self.page.locator(STATUSBAR).inner_text(timeout=2_000)
        except Exception:  # the page may still be loading
            return ""

    def kernel_status(self) -> str:
        for state in ("Idle", "Busy", "Starting", "Restarting", "Dead", "Unknown",
                      "Connecting", "Initializing", "Disconnected", "No Kernel"):
            if state in self.status_text():
                return state
        return ""

    def run_all(self, *, timeout: float = 180.0) -> float:
        """Run ▸ Run All Cells through the menu bar; wait until every non-empty code cell has
        an execution count and the kernel is idle. Return the seconds it took. Raise
        ``NotebookError`` with the error text as soon as an error output shows and the kernel is
        idle (Run All stops at an error), or if the kernel dies."""
        page = self.page
        start = time.monotonic()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()

        def finished() -> bool:
            status = self.kernel_status()
            if status in ("Dead", "Unknown"):
                raise NotebookError(f"{self.name}: kernel is {status} during Run All")
            if status != "Idle":
                return False
            states = self.cell_states()
            if any(prompt == "[*]:" for prompt, _ in states):
                return False
            errors = self.error_outputs()
            if errors:
                raise NotebookError(f"{self.name}: error output after Run All:\n"
                                    + "\n---\n".join(errors))
            return bool(states) and all(re.fullmatch(r"\[\d+\]:", prompt)
                                        for prompt, has_source in states if has_source)

        wait_for(finished, timeout=timeout, what=f"Run All of {self.name} to finish",
                 describe=lambda: f"kernel {self.kernel_status()!r}, prompts "
                                  f"{[p for p, _ in self.cell_states()]}", interval=0.5)
        return time.monotonic() - start

    def cell_states(self) -> list[tuple[str, bool]]:
        return [tuple(s) for s in self.page.evaluate(_CELL_STATES_JS)]

    def error_outputs(self) -> list[str]:
        """Texts of stderr outputs (errors render as stderr) that contain a traceback or a
        ``...Error`` name, in cells and inside widget output areas alike."""
        texts = self.page.locator(STDERR_OUTPUT).all_inner_texts()
        return [t for t in texts if ERROR_RE.search(t)]

    def stderr_outputs(self) -> list[str]:
        """All stderr output texts (warnings included), for reports."""
        return self.page.locator(STDERR_OUTPUT).all_inner_texts()

    def collapsed_cell_outputs(self) -> list[int]:
        """For each code cell whose input is collapsed (JupyterLab shows a placeholder: the
        course's hidden solutions), the number of outputs it shows."""
        return self.page.evaluate(_COLLAPSED_OUTPUTS_JS)

    def wait_idle(self, *, timeout: float = 60.0) -> None:
        wait_for(lambda: self.kernel_status() == "Idle", timeout=timeout,
                 what=f"{self.name}'s kernel to be idle", describe=self.kernel_status)

    # ---- widgets -------------------------------------------------------------------------
    def slider(self, description: str, *, occurrence: int | None = None) -> "Slider":
        """The ipywidgets slider whose description label reads exactly ``description``: the
        only one in the notebook, or (``occurrence`` = 0, 1, ...) the n-th in reading order."""
        return Slider.find(self, self.page, description, occurrence=occurrence)


def _labelled_sliders(page, scope, description: str):
    # a `has=` locator is queried relative to each candidate, so it is built from the page
    label = page.locator(".widget-label", has_text=re.compile(
        r"^\s*" + re.escape(description) + r"\s*$"))
    return scope.locator(".widget-slider").filter(has=label)


class Slider:
    """An ipywidgets slider and the output of the notebook cell that shows it."""

    def __init__(self, notebook: Notebook, description: str, locator):
        self.notebook = notebook
        self.description = description
        self.locator = locator
        # the code cell whose output area holds this slider (and the widget's output area)
        self.cell = locator.locator(
            "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' jp-CodeCell ')]")
        self.handle = locator.locator(".noUi-handle")

    @classmethod
    def find(cls, notebook: Notebook, scope, description: str, *,
             occurrence: int | None = None) -> "Slider":
        sliders = _labelled_sliders(notebook.page, scope, description)
        count = sliders.count()
        if (count != 1) if occurrence is None else not (0 <= occurrence < count):
            found = scope.locator(".widget-slider .widget-label").all_inner_texts()
            raise AssertionError(
                f"{notebook.name}: expected {'one slider' if occurrence is None else f'slider #{occurrence}'}"
                f" labelled {description!r}, found {count}; slider labels here: {found}")
        return cls(notebook, description, sliders.nth(occurrence or 0))

    def sibling(self, description: str) -> "Slider":
        """The slider labelled ``description`` in the same cell (the same widget) as this one."""
        return Slider.find(self.notebook, self.cell, description)

    def readout(self) -> str:
        return self.locator.locator(".widget-readout").inner_text(timeout=5_000).strip()

    def value(self) -> float:
        """The value shown in the slider's readout (the model value, formatted with the
        slider's ``readout_format`` by d3-format, which writes "−" (U+2212) for minus and may
        group thousands with ",")."""
        return parse_readout(self.readout())

    def image_src(self) -> str:
        images = self.cell.locator(".widget-output img")
        return images.first.get_attribute("src", timeout=5_000) if images.count() else ""

    def output_text(self) -> str:
        return self.cell.locator(".jp-Cell-outputArea").inner_text(timeout=5_000)

    def state(self) -> SliderState:
        return SliderState(self.readout(), self.image_src(), self.output_text())

    def printed_text(self, name: str) -> str | None:
        """The number, as printed, in the last line ``name = value`` of this cell's output."""
        matches = re.findall(r"(?m)^\s*" + re.escape(name) + r"\s*=\s*(" + NUMBER + r")",
                             self.output_text())
        return matches[-1] if matches else None

    def printed(self, name: str) -> float | None:
        text = self.printed_text(name)
        return None if text is None else float(text)

    def wait_rendered(self, *, timeout: float = 60.0) -> SliderState:
        """Wait until the widget's output area shows a plot image; return the state."""
        wait_for(self.image_src, timeout=timeout,
                 what=f"a plot under slider {self.description!r}",
                 describe=lambda: self.output_text()[:500])
        return self.state()

    def press(self, key: str, times: int = 1) -> None:
        """Focus the slider handle and press ``key`` (e.g. "ArrowRight") ``times`` times, as a
        person using the keyboard does."""
        self.handle.focus()
        for _ in range(times):
            self.handle.press(key)

    def wait_updated(self, before: SliderState, *, name: str, expected,
                     timeout: float = 90.0) -> tuple[float, float]:
        """After moving the slider: wait until the readout differs from ``before``, the plot
        image differs, the kernel is idle, no error shows, and the printed ``name = value``
        equals ``expected(slider value)`` rounded as printed (within half a unit of the last
        printed digit, e.g. ±0.0005 for ``:.3f``). Return (slider value, printed value)."""
        notebook = self.notebook
        seen = {}

        def settled():
            errors = notebook.error_outputs()
            if errors:
                raise NotebookError(f"{notebook.name}: error after moving {self.description!r}:"
                                    "\n" + "\n---\n".join(errors))
            if notebook.kernel_status() != "Idle":
                return None
            now = self.state()
            seen["state"] = now
            if now.readout == before.readout or not now.image_src \
                    or now.image_src == before.image_src:
                return None
            text = self.printed_text(name)
            if text is None:
                return None
            printed, value = float(text), parse_readout(now.readout)
            want = float(expected(value))
            seen["check"] = (value, printed, want)
            return (value, printed) if abs(printed - want) <= rounding_tolerance(text) else None

        def describe():
            state = seen.get("state")
            return (f"kernel {notebook.kernel_status()!r}; readout {before.readout!r} -> "
                    f"{state.readout if state else '?'!r}; image changed: "
                    f"{bool(state and state.image_src and state.image_src != before.image_src)}"
                    f"; (slider, printed, expected) = {seen.get('check')}; output: "
                    f"{(state.output_text if state else '')[:400]!r}")

        return wait_for(settled, timeout=timeout, interval=0.5,
                        what=f"{name} = expected value after moving {self.description!r}",
                        describe=describe)

    def click_button(self, description: str) -> None:
        """Click the ipywidgets Button labelled ``description`` in this slider's widget."""
        buttons = self.cell.locator(".widget-button", has_text=re.compile(
            r"^\s*" + re.escape(description) + r"\s*$"))
        if buttons.count() != 1:
            raise AssertionError(f"{self.notebook.name}: expected one button {description!r} "
                                 f"next to slider {self.description!r}, found {buttons.count()}")
        buttons.first.click()

    def wait_printed(self, name: str, expected: float, *, image_before: str,
                     timeout: float = 90.0) -> float:
        """Wait until a line ``name = value`` shows ``expected`` (as rounded when printed),
        the plot image differs from ``image_before``, the kernel is idle and no error shows;
        return the printed value."""
        notebook = self.notebook
        seen = {}

        def shown():
            errors = notebook.error_outputs()
            if errors:
                raise NotebookError(f"{notebook.name}: error while waiting for {name}:\n"
                                    + "\n---\n".join(errors))
            if notebook.kernel_status() != "Idle":
                return None
            text = seen["text"] = self.printed_text(name)
            if text is None or abs(float(text) - expected) > rounding_tolerance(text):
                return None
            image = self.image_src()
            return float(text) if image and image != image_before else None

        return wait_for(shown, timeout=timeout, interval=0.5,
                        what=f"{name} = {expected} under slider {self.description!r}",
                        describe=lambda: f"printed {name} = {seen.get('text')}; output: "
                                         f"{self.output_text()[:400]!r}")

    def screenshot(self, path: Path) -> None:
        """A PNG of this cell's output area (slider, printed lines and plot)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.cell.locator(".jp-Cell-outputArea").screenshot(path=str(path), timeout=30_000)


__all__ = ["Notebook", "NotebookError", "Slider", "SliderState", "WaitTimeout"]
