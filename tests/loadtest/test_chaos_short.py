"""CI's short form of the fault-injection suite (``loadtest/chaos.py --short``).

A subset that stays under ~4.5 minutes on a 2-core machine (both modes): a crash-free
reference run, then three SIGKILLs (twice: the second time switching the routing mode), a
SIGTERM and restart, a broker restart, a hung Redis (and one with the worker killed during
it), a Redis killed and restarted from its append-only file (once as it was, and twice as it
was earlier: behind its last writes, with the worker running on, and with the worker killed
with it), two workers with one killed, two with one frozen past its session time-out and
woken once the other has its partitions, a corrupt state key, and a Redis that loses every
key of the run (mid-stream, the worker killed later; with two workers, one killed at once
and the other taking its partitions over; and once the stream is applied). Each must
reproduce the reference run's applied counts and alert ids, dead-letter every bad record
once, and resume in its stated time. Four scenarios of the full suite are left to tests that
hold them more strictly and cost less (CI must stay under 20 minutes): unkeyed input over
three workers (tests/integration/test_ownership.py: the same alert ids as keyed input, not
only every drift caught), a 4 MiB record (tests/integration/test_no_stall.py: dead-lettered
whole, with its digest), 5,000 one-event model ids and 3,000 versions of one model
(tests/integration/test_caps.py: expired warm-ups free their slots across workers; versions
past the cap dead-lettered, idle ones retired). ``broker_kill`` and ``redis_lost_2_workers``
are left to the full suite: they cost what ``broker_restart`` and ``redis_lost`` cost again,
on the same paths of the worker. The full suite (every scenario, 200,001 events) is run by
hand; its figures are in RELIABILITY.md. Direct routing (``DRIFTLINE_ROUTING=direct``:
records on their model's partition applied where they are read, under a fence of their own)
meets the crashes too, Redis back behind its last writes with the worker killed with it (the
records a router applies where it reads them are read again from their fence), and Redis
losing every key (the roads with them, and with a takeover after it); ``switch_routing``
kills the worker three times, each replacement routing the other way (in both runs: starting
from either mode).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SUBSET = ("kill9_x3", "switch_routing", "sigterm_restart", "broker_restart", "redis_outage",
          "redis_outage_kill", "two_workers_kill", "paused_worker", "redis_restart",
          "redis_rollback", "redis_rollback_crash", "corrupt_state", "redis_lost",
          "redis_lost_takeover", "redis_lost_idle")  # fmt: skip
DIRECT_SUBSET = ("kill9_x3", "switch_routing", "sigterm_restart", "two_workers_kill",
                 "paused_worker", "redis_rollback_crash", "redis_lost",
                 "redis_lost_takeover")  # fmt: skip


@pytest.mark.parametrize(
    ("routing", "subset"),
    [("repartition", SUBSET), ("direct", DIRECT_SUBSET)],
    ids=["repartition", "direct"],
)
def test_the_short_chaos_suite_passes(routing: str, subset: tuple[str, ...]):
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.chaos", "--short", "--only", *subset],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DRIFTLINE_ROUTING": routing},
    )
    rows = [line.split("|") for line in done.stdout.splitlines() if line.startswith("| ")]
    verdicts = {cells[1].strip(): cells[-2].strip() for cells in rows[1:]}
    assert verdicts == dict.fromkeys(("reference", *subset), "pass"), done.stdout[-3000:]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
