"""TF's C++ start-up lines (absl, CUDA on a CPU machine) are filtered out of stderr at the first
import of TensorFlow after ``import fldp_teach``; every other stderr line is kept."""
import os
import subprocess
import sys

from fldp_teach._quiet_tf import filtered_stderr, is_startup_noise

SCRIPT = """
import os, sys
import fldp_teach
import tensorflow as tf
from fldp_teach.device import describe_device
print(describe_device())
print("a real warning", file=sys.stderr)
os.write(2, b"a C++ line after the import\\n")
"""


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "FLDP_SHOW_TF_STARTUP")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)


def test_importing_tensorflow_after_fldp_teach_prints_no_startup_lines():
    done = _run({})
    assert done.returncode == 0 and "TensorFlow" in done.stdout
    lines = done.stderr.splitlines()
    assert not [line for line in lines if is_startup_noise(line)], done.stderr
    assert "a real warning" in lines and "a C++ line after the import" in lines


def test_the_filter_keeps_other_lines(capfd):
    with filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n")
        os.write(2, b"something the student must see\n")
    err = capfd.readouterr().err
    assert err == "something the student must see\n"
    assert is_startup_noise("E0000 00:00:1 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error")
    assert not is_startup_noise("UserWarning: delta is large")


def test_first_tensorflow_op_and_the_cli_print_no_cuda_probe():
    """Issue 11: the "failed call to cuInit" line comes from the first device query, after the
    import; it must not reach a script's or the CLI's stderr either."""
    import subprocess
    import sys

    script = "import fldp_teach.data\nimport tensorflow as tf\nprint(int(tf.constant(1) + 1))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "2"
    assert not [line for line in done.stderr.splitlines() if line.strip()], done.stderr
    cli = subprocess.run([sys.executable, "-m", "fldp_teach.cli", "demo", "--help"], capture_output=True,
                         text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert not [line for line in cli.stderr.splitlines() if line.strip()], cli.stderr
