"""Instructions per event of the worker's per-record steps, counted by callgrind.

Wall-clock and CPU times on this shared 2-core machine move by 10-30% from run to run; an
instruction count does not care what else runs. Each step runs in a child Python under
``valgrind --tool=callgrind`` twice, over ``--base`` and over ``--base + --events`` records
(711-byte events: 20 numeric + 4 categorical features, as ``bench_ingest.py`` makes them);
the difference divided by ``--events`` is the step's count per event, start-up and warm-up
cancelled. The records' own making is counted alone (``records``) and taken off the others.
Hash seeds are fixed; what still varies (objects hashed by address) is ~1% of a run.

Steps:
- ``ingest``: decode + check against the model's spec (``Ingestor.ingest``, batches of 1,000);
- ``route``: what the routing stage does per record, both ends: the source headers and the
  model key of the forwarded copy, and the ``RawRecord`` read back from the by-model topic.

Run: .venv/bin/python -m loadtest.bench_instructions [--events 10000] [--steps ingest route]
(valgrind from Debian's package; ~1 min a step).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from loadtest.bench_ingest import make_records
from streams.adapters.kafka.routing import model_key, routed_record, source_headers
from streams.core import EventDecoder, Ingestor, SpecRegistry

STEPS = ("ingest", "route")
_BATCH = 1000
_WARMUP = 200
_COLLECTED = re.compile(rb"Collected : (\d+)")


def run_step(step: str, events: int) -> None:
    """The step over ``events`` records (after a warm-up of its own), in this process."""
    records = make_records(_WARMUP + events, 20, 4)
    if step == "ingest":
        ingestor = Ingestor(EventDecoder(), SpecRegistry(warmup_events=100))
        for start in range(0, len(records), _BATCH):
            ingestor.ingest(records[start : start + _BATCH])
    elif step == "route":
        for record in records:
            headers = source_headers(record)
            key = model_key(record.value)
            routed_record("by-model", 0, record.offset, 0, record.value, key, headers)
    elif step != "records":
        raise SystemExit(f"unknown step {step!r}; one of {('records', *STEPS)}")


def count(step: str, events: int) -> int:
    """Instructions callgrind counts for the child running ``step`` over ``events``."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out",
            sys.executable, "-m", "loadtest.bench_instructions", "--child", step, str(events),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, env=env, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no count in callgrind's output: {done.stderr[-500:]!r}")
    return int(found[1])


def per_event(step: str, base: int, events: int) -> float:
    return (count(step, base + events) - count(step, base)) / events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--base", type=int, default=1_000)
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--child", nargs=2, metavar=("STEP", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_step(args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian's package valgrind)", file=sys.stderr)
        return 2
    print(f"tree: {Path(__file__).resolve().parent.parent}; {args.events:,} events")
    making = per_event("records", args.base, args.events)
    print("| step | instructions per event |\n| --- | --- |")
    print(f"| (making the records) | {making:,.0f} |")
    for step in args.steps:
        print(f"| {step} | {per_event(step, args.base, args.events) - making:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
