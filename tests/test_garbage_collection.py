"""The cycle collector of a worker or replay: run for cycles, not every few hundred events.

Each test runs in its own interpreter: the settings are the process's, and pytest's must
stay CPython's defaults.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import main


def _python(code: str) -> str:
    """What ``code`` printed last on standard error."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gc") / "events.jsonl"
    assert main(["simulate", "--events", "20000", "--out", str(path)]) == 0
    return path


# Counts the collections of a ``driftline replay``.
_REPLAY = """
import gc, sys
from streams.cli import main
runs = []
gc.callbacks.append(lambda phase, info: phase == "stop" and runs.append(info["generation"]))
assert main(["replay", {path!r}, "--format", "jsonl"]) == 0
print(len(runs), file=sys.stderr)
"""


def test_a_replay_runs_a_few_collections_not_one_every_few_hundred_events(stream: Path):
    collections = int(_python(_REPLAY.format(path=str(stream))))
    # CPython's default threshold (700) gave 218 here: one per ~100 events.
    assert collections < 20


def test_cycles_are_still_collected_once_past_the_threshold():
    found = _python("""
import gc, sys, weakref
from streams.garbage_collection import YOUNG_THRESHOLD, collect_for_batches

class Node:
    pass

collect_for_batches()
first = Node()
first.self = first
watched = weakref.ref(first)
del first
alive_after_a_little = watched() is not None
kept = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # live objects: the count climbs
print(alive_after_a_little, watched() is None, file=sys.stderr)
""")
    assert found == "True True"


def test_what_exists_at_start_up_is_frozen_out_of_later_collections():
    frozen = _python("""
import gc, sys
from streams.garbage_collection import collect_for_batches
before = gc.get_freeze_count()
collect_for_batches()
print(before == 0 and gc.get_freeze_count() > 1000, file=sys.stderr)
""")
    assert frozen == "True"
