"""OutageLogFilter on a real logger and handler: one line per outage, then a summary."""

from __future__ import annotations

import logging

import pytest

from streams.adapters.outage_log import OutageLogFilter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def noisy():
    """A logger like aiokafka's, with the filter, and the lines its handler received."""
    clock = Clock()
    log = logging.getLogger("test.outage_log.noisy")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log_filter = OutageLogFilter(quiet_s=10, clock=clock)
    log.addFilter(log_filter)
    yield log, log_filter, clock, lines
    log.removeHandler(handler)
    log.removeFilter(log_filter)


def test_an_outage_gives_its_first_line_and_one_summary(noisy):
    log, log_filter, clock, lines = noisy
    for attempt in range(1232):
        clock.now += 34 / 1232
        log.error("Unable connect to node with id %s: %s", 1, f"refused #{attempt}")
    assert lines == ["Unable connect to node with id 1: refused #0"]
    clock.now += 5
    log_filter.flush()
    assert len(lines) == 1, "still inside the outage: no summary yet"
    clock.now += 10
    log_filter.flush()
    assert len(lines) == 2
    assert "repeated 1231 more times over 34.0s" in lines[1]
    assert "Unable connect to node" in lines[1]
    log.error("Unable connect to node with id %s: %s", 1, "refused again")
    assert lines[2] == "Unable connect to node with id 1: refused again", "a new outage"


def test_other_messages_and_info_lines_pass(noisy):
    log, _, _, lines = noisy
    log.error("Unable connect to node with id %s", 1)
    log.error("something else %s", 1)
    log.info("info %s", 1)
    log.info("info %s", 2)
    assert lines == ["Unable connect to node with id 1", "something else 1", "info 1", "info 2"]


def test_a_single_failure_gets_no_summary(noisy):
    log, log_filter, clock, lines = noisy
    log.warning("blip")
    clock.now += 60
    log_filter.flush()
    assert lines == ["blip"]
