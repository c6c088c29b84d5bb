"""A load-test module run as its users run it: what it printed, once it exited 0."""

from __future__ import annotations

import subprocess
import sys


def run_module(module: str, *args: str, timeout_s: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout_s
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout
