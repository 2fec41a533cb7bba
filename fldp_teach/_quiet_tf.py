"""Keep TensorFlow's C++ start-up chatter out of the notebooks, the CLI and the demo.

Importing TensorFlow on a machine without CUDA prints lines such as "WARNING: All log messages
before absl::InitializeLog() is called are written to STDERR", "cudart_stub.cc:31] Could not find
cuda drivers ..." and "failed call to cuInit". They come from C++ code that writes to file
descriptor 2 before TF's log level (``TF_CPP_MIN_LOG_LEVEL``) is read, so Python's ``warnings``
and the log level cannot hide them; in Jupyter they show as a pink stderr block at the top of
every notebook. They say nothing a student can act on: the device actually used is printed by
:func:`fldp_teach.device.describe_device`.

:func:`filtered_stderr` captures file descriptor 2 while a block runs and re-emits every line
that is not one of these known start-up messages, so a real warning still reaches the student.
:func:`install` (called when ``fldp_teach`` is imported) wraps the first ``import tensorflow``
in it. ``FLDP_SHOW_TF_STARTUP=1`` turns the filtering off.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

__all__ = ["STARTUP_NOISE", "is_startup_noise", "filtered_stderr", "install"]

#: Start-up lines of TF's C++ runtime that carry no information for a student on a CPU machine.
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc.*(Could not find cuda drivers|Could not load dynamic library)"
    r"|cuda_platform\.cc.*failed call to cuInit"
    r"|cuda_(fft|dnn|blas)\.cc.*Unable to register"
    r"|computation_placer\.cc.*already registered"
    r"|cpu_feature_guard\.cc.*This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .*rebuild TensorFlow"
    r"|oneDNN custom operations are on"
    r"|TF-TRT Warning: Could not find TensorRT"
)


def is_startup_noise(line: str) -> bool:
    """True for one of TF's known start-up lines (see :data:`STARTUP_NOISE`)."""
    return bool(STARTUP_NOISE.search(line))


@contextlib.contextmanager
def filtered_stderr():
    """Run the block with file descriptor 2 captured; afterwards write every captured line that
    is not start-up noise to ``sys.stderr``. Does nothing if ``FLDP_SHOW_TF_STARTUP=1`` or if
    file descriptor 2 cannot be duplicated."""
    if os.environ.get("FLDP_SHOW_TF_STARTUP") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines()
                    if line.strip() and not is_startup_noise(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


class _QuietTensorFlowImport:
    """A ``sys.meta_path`` finder that runs the first ``import tensorflow`` inside
    :func:`filtered_stderr` and then removes itself."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        import importlib.util

        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("tensorflow")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            try:
                with filtered_stderr():
                    original(module)
                    # the CUDA probe ("failed call to cuInit") runs at the first device query,
                    # not at import: make that query here, inside the filter
                    with contextlib.suppress(Exception):
                        module.config.list_physical_devices()
            finally:
                with contextlib.suppress(AttributeError):
                    del spec.loader.exec_module  # back to the class's own method
        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Filter TF's start-up lines at its first import (no-op if TF is already imported)."""
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's own INFO and WARNING log lines
    sys.meta_path.insert(0, _QuietTensorFlowImport())
