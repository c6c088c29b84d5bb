"""``loadtest.soak.taken``: a /metrics scrape that times out is asked again, while the worker
runs (a loaded machine can keep the answer waiting; one slow scrape must not end a soak)."""

from __future__ import annotations

import pytest

from loadtest import soak


class SlowWorker:
    """Answers after ``timeouts`` scrapes have timed out; ``running`` as WorkerProcess has it."""

    def __init__(self, timeouts: int, *, running: bool = True) -> None:
        self.timeouts = timeouts
        self.running = running

    def events_taken(self) -> int:
        if self.timeouts:
            self.timeouts -= 1
            raise TimeoutError("timed out")
        return 1234


def test_a_timed_out_scrape_is_asked_again(monkeypatch):
    monkeypatch.setattr(soak.time, "sleep", lambda _: None)
    assert soak.taken(SlowWorker(timeouts=3)) == 1234  # type: ignore[arg-type]


def test_a_dead_worker_is_not_waited_for(monkeypatch):
    monkeypatch.setattr(soak.time, "sleep", lambda _: None)
    with pytest.raises(TimeoutError):
        soak.taken(SlowWorker(timeouts=3, running=False))  # type: ignore[arg-type]
