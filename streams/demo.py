"""``driftline demo``: the stack, a worker, two simulated models, one of them drifting.

It shows the alert the drift raises, with its context, the bad records dead-lettered with
their reasons, the events applied per model, and the worker healthy after it all.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import orjson
import redis

from streams import stack
from streams.adapters.kafka.admin import connect_admin, ensure_worker_topics
from streams.adapters.kafka.records import ReadRecord, end_offsets, publish, read_from
from streams.samples import BAD_RECORDS
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, keyed_events
from streams.stack.worker import WorkerProcess, run_names

__all__ = ["run_demo"]

EVENTS_PER_MODEL = 12_000
DRIFT_AT = 8_000
DRIFTING_FEATURE = "x7"
STREAMS = (
    StreamConfig(
        model_id="churn-classifier",
        seed=1,
        scenarios=(
            Scenario(kind="abrupt", feature=DRIFTING_FEATURE, start=DRIFT_AT, magnitude=1.0),
        ),
    ),
    StreamConfig(model_id="fraud-scorer", seed=2),
)
MODELS = tuple(stream.model_id for stream in STREAMS)
_MESSAGE_WIDTH = 70  # a dead letter's message column, in an 100-column terminal


def run_demo(environ: Mapping[str, str]) -> int:
    config = stack.StackConfig.from_env(environ)
    _step("Starting Kafka and Redis")
    stack.up(config, log=lambda line: print(f"  {line}"))
    # Each run gets its own topics, consumer group and Redis prefix (unless the environment
    # names them), so a second demo starts from scratch instead of resuming the first.
    run = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    own_names = run_names(run)
    worker_env = {
        **own_names,
        **environ,
        "DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "DRIFTLINE_REDIS_URL": config.redis_url,
    }
    settings = Settings.from_env(worker_env)
    print(
        f"  topics {settings.topic_predictions}, {settings.topic_alerts}, {settings.topic_dlq}, ..."
    )
    ensure_worker_topics(settings)
    dlq_start = end_offsets(settings.kafka, settings.topic_dlq)
    alerts_start = end_offsets(settings.kafka, settings.topic_alerts)

    _step("Starting a worker")
    worker = WorkerProcess(
        worker_env, web_port=settings.web_port, log_path=config.state_dir / "demo-worker.log"
    )
    worker.start()
    print(f"  healthy; metrics at {worker.base_url}/metrics, log at {worker.log_path}")
    try:
        sent = _publish(settings)
        _wait_until_counted(worker, sent)
        kafka = settings.kafka
        # All alerts are out once every event is counted; the timeout only bounds the wait.
        alerts = read_from(kafka, settings.topic_alerts, alerts_start, count=50, timeout_s=3)
        _show_alerts(alerts)
        dead_letters = read_from(kafka, settings.topic_dlq, dlq_start, count=len(BAD_RECORDS))
        _report(worker, dead_letters)
    finally:
        worker.stop()
        _clean_up(settings, run)
    print(f"\nKafka and Redis are still running: `{_command()} stack down` stops them.")
    return 0


def _clean_up(settings: Settings, run: str) -> None:
    """Delete what this run named for itself (its topics, consumer group and Redis keys), so
    runs do not pile up; whatever the environment named is the user's and stays."""
    _step("Cleaning up")
    admin = connect_admin(settings.kafka)
    topics = [t for t in (*settings.topics, *settings.internal_topics) if run in t]
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        future.result()
    if run in settings.app_id:
        for future in admin.delete_consumer_groups([settings.app_id]).values():
            future.exception()  # a group the worker never formed is no loss
    if run in settings.redis_prefix:
        client = redis.Redis.from_url(settings.redis_url)
        for key in client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000):
            client.delete(key)
    print(f"  removed this run's {len(topics)} topics and its state")


def _command() -> str:
    """How to call ``driftline`` again from here: its name if that is on PATH, else its path
    (``make demo`` runs ``.venv/bin/driftline``, which no PATH holds)."""
    script = Path(sys.argv[0])
    if script.name != "driftline":
        return f"{sys.executable} -m streams.cli"
    on_path = shutil.which("driftline")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "driftline"
    return os.path.relpath(script) if not script.is_absolute() else str(script)


def _publish(settings: Settings) -> int:
    _step(
        f"Publishing {EVENTS_PER_MODEL} simulated events for each of {', '.join(MODELS)}; "
        f"{MODELS[0]}'s {DRIFTING_FEATURE} shifts by 1 sigma from event {DRIFT_AT}; "
        f"{len(BAD_RECORDS)} bad records half-way"
    )
    good = [record for stream in STREAMS for record in keyed_events(stream, EVENTS_PER_MODEL)]
    half = len(good) // 2
    bad = [(b"bad-input", record.value) for record in BAD_RECORDS]
    records = list(itertools.chain(good[:half], bad, good[half:]))
    publish(settings.kafka, settings.topic_predictions, records)
    return len(records)


def _show_alerts(alerts: list[ReadRecord]) -> None:
    _step(f"Alerts on the alerts topic: {len(alerts)}")
    for record in alerts:
        alert = orjson.loads(record.value or b"{}")
        statistic, trigger, window = alert["statistic"], alert["trigger"], alert["window"]
        print(
            f"  {alert['status'].upper()} {alert['severity']} {alert['type']}: "
            f"{alert['model_id']} {alert['model_version']} feature {alert['feature']}\n"
            f"    {statistic['name']} = {statistic['value']:.3f} (threshold "
            f"{statistic['threshold']}) over {window['count']} events "
            f"{window['start']} .. {window['end']}\n"
            f"    decided at event {trigger['event_id']} "
            f"(partition {trigger['partition']}, offset {trigger['offset']}); "
            f"alert_id {alert['alert_id']}"
        )


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
    _step("Dead-lettered, read back from the DLQ topic: [partition]@offset, reason, message")
    for record in sorted(dead_letters, key=_original_offset):
        headers = {k: v.decode(errors="replace") for k, v in record.headers.items()}
        origin = (
            f"[{headers['driftline.dlq.original.partition']}]"
            f"@{headers['driftline.dlq.original.offset']}"
        )
        reason = headers["driftline.dlq.reason"]
        # Whole words on as many lines as it takes: a reason cut mid-word reads as a typo.
        lines = textwrap.wrap(headers["driftline.dlq.exception.message"], width=_MESSAGE_WIDTH)
        print(f"  {origin:<8} {reason:<18} {lines[0] if lines else ''}")
        for line in lines[1:]:
            print(f"  {'':<8} {'':<18} {line}")
    reasons = Counter(r.headers["driftline.dlq.reason"].decode() for r in dead_letters)
    print(f"  {len(dead_letters)} dead letters: {dict(reasons)}")
    status, health = worker.health()
    _step(f"Worker health after all that: HTTP {status}")
    for part in ("kafka", "redis", "stream"):
        print(f"  {part:<7} {'ok' if health[part]['ok'] else 'FAILING'}")


def _original_offset(record: ReadRecord) -> int:
    return int(record.headers["driftline.dlq.original.offset"])


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)
