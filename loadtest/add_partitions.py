"""Partitions added to the predictions and by-model topics between two generations of
workers, and whether every record is then applied once.

- ``stopped``: the first worker applies 2,000 records, stops (SIGTERM: it commits), the
  partitions go from 3 to 4 by ``driftline partitions 4`` (``partitions.grow``), two workers
  with ``DRIFTLINE_PARTITIONS=4`` take the rest. The way the docs give (k8s/README.md):
  each record must be applied once.
- ``crashed``: the same with a SIGKILL and nothing committed. ``grow`` refuses (records not
  consumed); the partitions are added anyway, by the admin client, and the 2,000 are read
  again under the new count: the figures say what the refusal prevents.

    .venv/bin/python -m loadtest.add_partitions [--routing repartition|direct]

Exits 1 unless the ``stopped`` run applied each record once and ``grow`` refused the
``crashed`` one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from loadtest.chaos_run import wait_for
from streams import stack
from streams.adapters.kafka.admin import connect_admin
from streams.adapters.kafka.partitions import (
    PartitionsRefused,
    consumed_topics,
    create_partitions,
    grow,
)
from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.simulation import StreamConfig, keyed_events
from streams.stack.worker import (
    WorkerProcess,
    free_port,
    metric_sum,
    route_direct_from_the_start,
    run_names,
)

__all__ = ["Applied", "main", "run"]

FIRST, LATER, MODELS = 2_000, 1_000, 6
PROCESSED, SKIPPED = "driftline_events_processed_total", "driftline_replayed_records_skipped_total"


@dataclass(frozen=True)
class Applied:
    """What the second generation of workers applied, and what it should have."""

    processed: int
    expected: int
    skipped: int
    #: Why ``driftline partitions`` refused the change (None: it made it).
    refused: str | None = None

    @property
    def exact(self) -> bool:
        return self.processed == self.expected


def run(config: stack.StackConfig, workdir: Path, routing: str, *, crash: bool) -> Applied:
    """One run on its own topics: ``FIRST`` records, a stop (or a crash), a partition added
    to both topics, then ``LATER`` records on two workers."""
    environ = _environ(config, workdir, routing, partitions=3)
    settings = Settings.from_env(environ)
    route_direct_from_the_start(environ)
    records = _records()
    first = WorkerProcess(environ, web_port=free_port(), log_path=workdir / "first.log")
    first.start()
    publish(settings.kafka, settings.topic_predictions, records[:FIRST])
    _wait_total([first], FIRST)
    if crash:
        first.kill()
    else:
        first.stop()
    refused = _add_partition(settings, 4)
    later = {**environ, "DRIFTLINE_PARTITIONS": "4"}
    workers = [WorkerProcess(later, web_port=free_port(), log_path=workdir / f"later{i}.log")
               for i in range(2)]  # fmt: skip
    try:
        for worker in workers:
            worker.start()
            worker.wait_for_partitions()
        publish(settings.kafka, settings.topic_predictions, records[FIRST:])
        _wait_total(workers, LATER)
        time.sleep(3)  # anything applied twice would show by now
        processed, skipped = int(metric_sum(workers, PROCESSED)), int(metric_sum(workers, SKIPPED))
        return Applied(processed, LATER, skipped, refused)
    finally:
        for worker in workers:
            worker.stop()


def _environ(config: stack.StackConfig, workdir: Path, routing: str, partitions: int) -> dict:
    return {
        **os.environ,
        **run_names(f"addparts-{uuid.uuid4().hex[:8]}"),
        "DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "DRIFTLINE_REDIS_URL": config.redis_url,
        "DRIFTLINE_DATA_DIR": str(workdir / "faust"),
        "DRIFTLINE_ROUTING": routing,
        "DRIFTLINE_PARTITIONS": str(partitions),
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
        "DRIFTLINE_COMMIT_INTERVAL_S": "3600",  # a crash commits nothing
    }


def _records() -> list[tuple[bytes, bytes]]:
    """Six models' events keyed by model, interleaved: with 3 partitions and then 4, some
    models move to another partition."""
    streams = [keyed_events(StreamConfig(model_id=f"grow-{m}", seed=m), (FIRST + LATER) // MODELS)
               for m in range(MODELS)]  # fmt: skip
    return [record for group in zip(*streams, strict=True) for record in group]


def _add_partition(settings: Settings, count: int) -> str | None:
    """``count`` partitions on the consumed topics: by ``grow``, or (where it refuses) by the
    admin client; the refusal."""
    try:
        grow(settings, count)
    except PartitionsRefused as refused:
        create_partitions(connect_admin(settings.kafka), consumed_topics(settings), count)
        return str(refused)
    return None


def _wait_total(workers: list[WorkerProcess], count: int) -> None:
    wait_for(lambda: metric_sum(workers, PROCESSED) >= count, 120, f"{count} events processed", 0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routing", choices=("repartition", "direct"), default="repartition")
    args = parser.parse_args(argv)
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    print(
        f"| {args.routing} | processed by the new workers | expected | skipped as applied "
        "| `driftline partitions 4` |"
    )
    print("|---|---|---|---|---|")
    exact = True
    for crash in (False, True):
        with tempfile.TemporaryDirectory() as workdir:
            applied = run(config, Path(workdir), args.routing, crash=crash)
        command = f"refused: {applied.refused}" if applied.refused else "added them"
        print(f"| {'crashed' if crash else 'stopped'} | {applied.processed:,} | "
              f"{applied.expected:,} | {applied.skipped:,} | {command} |")  # fmt: skip
        # The documented way applies each record once; the command refuses the other.
        exact = exact and (applied.refused is not None if crash else applied.exact)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
