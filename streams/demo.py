"""``driftline demo``: the stack, a worker, good and bad events, and what became of them.

The detection-engine work turns this into a drift demo; today it shows ingestion: valid events
applied per model, every bad record dead-lettered with its reason, the worker healthy after.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Mapping

from streams import stack
from streams.adapters.kafka_admin import ensure_worker_topics
from streams.adapters.kafka_records import ReadRecord, end_offsets, publish, read_from
from streams.adapters.worker_process import WorkerProcess
from streams.samples import BAD_RECORDS, sample_events
from streams.settings import Settings

__all__ = ["run_demo"]

MODELS = ("churn-classifier", "fraud-scorer")
EVENTS_PER_MODEL = 600


def run_demo(environ: Mapping[str, str]) -> int:
    config = stack.StackConfig.from_env(environ)
    _step("Starting Kafka and Redis")
    stack.up(config, log=lambda line: print(f"  {line}"))
    worker_env = {
        **environ,
        "DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "DRIFTLINE_REDIS_URL": config.redis_url,
        "DRIFTLINE_APP_ID": environ.get("DRIFTLINE_APP_ID", "driftline-demo"),
    }
    settings = Settings.from_env(worker_env)
    ensure_worker_topics(settings)
    dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)

    _step("Starting a worker")
    worker = WorkerProcess(
        worker_env, web_port=settings.web_port, log_path=config.state_dir / "demo-worker.log"
    )
    worker.start()
    print(f"  healthy; metrics at {worker.base_url}/metrics, log at {worker.log_path}")
    try:
        sent = _publish(settings)
        _wait_until_counted(worker, sent)
        _report(
            worker,
            read_from(
                settings.kafka_bootstrap, settings.topic_dlq, dlq_start, count=len(BAD_RECORDS)
            ),
        )
    finally:
        worker.stop()
    print("\nKafka and Redis are still running: `driftline stack down` stops them.")
    return 0


def _publish(settings: Settings) -> int:
    _step(
        f"Publishing {EVENTS_PER_MODEL} events for each of {len(MODELS)} models, "
        f"and {len(BAD_RECORDS)} bad records half-way"
    )
    good = [
        (model.encode(), value)
        for model in MODELS
        for value in sample_events(model, EVENTS_PER_MODEL)
    ]
    half = len(good) // 2
    bad = [(b"bad-input", record.value) for record in BAD_RECORDS]
    records = list(itertools.chain(good[:half], bad, good[half:]))
    publish(settings.kafka_bootstrap, settings.topic_predictions, records)
    for record in BAD_RECORDS:
        print(f"  bad: {record.name}")
    return len(records)


def _wait_until_counted(worker: WorkerProcess, sent: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = worker.metric_total("driftline_events_processed_total") + worker.metric_total(
            "driftline_events_rejected_total"
        )
        if done >= sent:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the worker counted {done:.0f} of {sent} records in {timeout_s:.0f}s")


def _report(worker: WorkerProcess, dead_letters: list[ReadRecord]) -> None:
    _step("Accepted, per model (from /metrics)")
    for model in MODELS:
        count = worker.metric_total("driftline_events_processed_total", model=model)
        print(f"  {model:<20} {count:>6.0f}")
    _step("Dead-lettered, read back from the DLQ topic")
    for record in dead_letters:
        headers = {k: v.decode(errors="replace") for k, v in record.headers.items()}
        origin = (
            f"{headers['driftline.dlq.original.topic']}[{headers['driftline.dlq.original.partition']}]"
            f"@{headers['driftline.dlq.original.offset']}"
        )
        reason = headers["driftline.dlq.reason"]
        message = headers["driftline.dlq.exception.message"][:64]
        print(f"  {origin:<18} {reason:<18} {message}")
    reasons = Counter(r.headers["driftline.dlq.reason"].decode() for r in dead_letters)
    print(f"  {len(dead_letters)} dead letters: {dict(reasons)}")
    status, health = worker.health()
    _step(f"Worker health after all that: HTTP {status}")
    for part in ("kafka", "redis", "stream"):
        print(f"  {part:<7} {'ok' if health[part]['ok'] else 'FAILING'}")


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)
