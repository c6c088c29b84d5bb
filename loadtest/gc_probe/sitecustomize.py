"""Time spent in the cycle collector, per process: put this folder on ``PYTHONPATH``.

Every Python process started with it (a harness and the workers it starts) sums the CPU
time between each collection's start and stop and, at exit, writes one line to
``$GC_PROBE_DIR/gc.<pid>.txt``: its command, the collections per generation, their CPU
seconds and the process's own. A probe for benchmarks, never imported by Driftline.

    GC_PROBE_DIR=/tmp/gc PYTHONPATH=loadtest/gc_probe .venv/bin/python -m loadtest.run --worker-only
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import time
from typing import Any

_started: list[float] = []
_spent = [0.0]
_runs = [0, 0, 0]


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[:] = [time.process_time()]
    elif _started:
        _spent[0] += time.process_time() - _started[0]
        _runs[info["generation"]] += 1


def _report(folder: str) -> None:
    line = (f"{' '.join(sys.argv)}: collections {_runs[0]} / {_runs[1]} / {_runs[2]}, "
            f"{_spent[0]:.3f} s of {time.process_time():.3f} s CPU\n")  # fmt: skip
    with open(os.path.join(folder, f"gc.{os.getpid()}.txt"), "w") as out:
        out.write(line)


if os.environ.get("GC_PROBE_DIR"):
    gc.callbacks.append(_on_collection)
    atexit.register(_report, os.environ["GC_PROBE_DIR"])
