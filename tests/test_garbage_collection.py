"""The cycle collector of a worker or replay: run for cycles, not every ~100 events."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from streams.cli import main
from streams.garbage_collection import YOUNG_THRESHOLD, collecting_for_batches


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


# Counts the collections of a ``driftline replay``, in an interpreter of its own: pytest's
# has run a great deal before.
_REPLAY = """
import gc, sys
from streams.cli import main
runs = []
gc.callbacks.append(lambda phase, info: phase == "stop" and runs.append(info["generation"]))
assert main(["replay", {path!r}, "--format", "jsonl"]) == 0
print(len(runs), file=sys.stderr)
"""


def test_a_replay_runs_a_few_collections_not_one_every_hundred_events(stream: Path):
    collections = int(_python(_REPLAY.format(path=str(stream))))
    # CPython's default threshold (700) gave 218 here: one per ~100 events.
    assert collections < 20


def test_cycles_are_still_collected_once_past_the_threshold():
    class Node:
        pass

    with collecting_for_batches():
        first = Node()
        first.self = first
        watched = weakref.ref(first)
        del first
        alive_after_a_little = watched() is not None
        kept = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # live objects: the count climbs
        assert alive_after_a_little and watched() is None
        del kept


def test_start_up_is_frozen_within_and_the_collector_is_as_it_was_after():
    before = gc.get_threshold(), gc.get_freeze_count()
    with collecting_for_batches():
        assert gc.get_freeze_count() > 1000
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    with pytest.raises(KeyError), collecting_for_batches():
        raise KeyError("a command that fails")
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
