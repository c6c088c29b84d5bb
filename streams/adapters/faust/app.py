"""The Faust app: topics, the ingestion agent, /metrics and /health, spec refresh."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import faust
import redis.asyncio as aioredis
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.adapters.durable import DurableWriter
from streams.adapters.faust.batch_consumer import BatchApp, FetchedChunk
from streams.adapters.faust.health import HealthCheck, StreamLiveness
from streams.adapters.faust.ingestion import IngestionService
from streams.adapters.faust.labels import LabelService
from streams.adapters.faust.progress import PartitionProgress
from streams.adapters.faust.routes import add_routes
from streams.adapters.kafka.admin import DLQ_HEADER_ROOM, KAFKA_DEFAULT_MAX_MESSAGE_BYTES
from streams.adapters.kafka.dead_letter import DeadLetterRedactor
from streams.adapters.kafka.producer import KafkaProducer
from streams.adapters.kafka.routing import Router
from streams.adapters.outage_log import OutageLogFilter
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.warmup_slots import RedisWarmupSlots
from streams.core.contract.decoder import EventDecoder, LabelDecoder
from streams.core.contract.event import RawRecord
from streams.core.contract.ingestor import Ingestor
from streams.core.contract.pii import PiiPolicy, has_pii
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.errors import StoreUnavailable
from streams.core.labels.performance_monitor import PerformanceConfig
from streams.settings import Settings

__all__ = ["Worker", "build_worker", "load_stored_specs"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
#: The producer refuses larger records itself (aiokafka's ``max_request_size``).
PRODUCER_MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: Loggers that repeat one line per reconnect attempt during a Kafka outage.
_NOISY_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.consumer.group_coordinator",
                  "aiokafka.consumer.fetcher", "aiokafka.producer.sender")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Worker:
    """The app and the parts tests and the CLI reach into."""

    app: faust.App
    registry: SpecRegistry
    metrics_registry: CollectorRegistry
    spec_store: RedisSpecStore


def load_stored_specs(settings: Settings) -> list[ModelSpec]:
    """The specs in Redis now, before the worker starts; none if Redis does not answer."""

    async def load() -> list[ModelSpec]:
        client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5)
        try:
            return await RedisSpecStore(client, prefix=settings.redis_prefix).load()
        finally:
            await client.aclose()

    try:
        return asyncio.run(load())
    except StoreUnavailable as exc:
        logger.warning("starting without stored specs: %s", exc)
        return []


def build_worker(
    settings: Settings,
    *,
    stored_specs: list[ModelSpec],
    file_specs: list[ModelSpec],
    pii: PiiPolicy | None = None,
    dead_letter_limits: Mapping[str, int] | None = None,
) -> Worker:
    """Wire a worker. ``file_specs`` win over ``stored_specs`` and are stored for other workers.

    ``pii`` (built by the CLI, with its key) redacts PII; None drops it.
    ``dead_letter_limits``: each dead-letter topic's ``max.message.bytes``
    (``ensure_worker_topics``); a rejected record whose value would not fit is dead-lettered
    truncated. Unknown: the broker's default.
    """
    pii = pii or PiiPolicy(mode="drop")
    data_dir = settings.data_dir.expanduser() / settings.app_id
    data_dir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = BatchApp(
        settings.app_id,
        **settings.kafka.faust_options(),
        store="memory://",
        datadir=str(data_dir),
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=settings.batch_size,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 10,
        consumer_group_instance_id=settings.group_instance_id or None,
        broker_commit_interval=settings.commit_interval_s,
        producer_request_timeout=settings.producer_timeout_s,
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
    )
    predictions = app.topic(
        settings.topic_predictions, key_serializer="raw", value_serializer="raw"
    )
    dead_letters = app.topic(settings.topic_dlq, key_serializer="raw", value_serializer="raw")
    alerts = app.topic(settings.topic_alerts, key_serializer="raw", value_serializer="raw")
    labels = app.topic(settings.topic_labels, key_serializer="raw", value_serializer="raw")
    label_dead_letters = app.topic(
        settings.topic_labels_dlq, key_serializer="raw", value_serializer="raw"
    )
    retrain = app.topic(settings.topic_retrain, key_serializer="raw", value_serializer="raw")
    # What the monitors read: the input topics ("keyed") or their by-model copies.
    watched_predictions = settings.monitored(settings.topic_predictions)
    watched_labels = settings.monitored(settings.topic_labels)

    registry = SpecRegistry(
        [*stored_specs, *file_specs],
        unknown_models=settings.unknown_models,
        warmup_events=settings.warmup_events,
        max_models=settings.max_models,
        warmup_timeout_s=settings.warmup_timeout_s,
        max_versions_per_model=settings.max_versions_per_model,
        version_idle_s=settings.version_idle_s,
    )
    metrics_registry = CollectorRegistry()
    metrics = IngestMetrics(metrics_registry, max_statistic_series=settings.max_statistic_series)
    liveness = StreamLiveness()
    progress = PartitionProgress(settings.stall_s)
    limits = dead_letter_limits or {}

    def dead_letter_max_bytes(topic: str) -> int:
        limit = limits.get(topic, KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
        # A DLQ limit under the header room itself: keep 1 KiB; the broker may refuse even
        # that, and the refusal is logged and counted (DurableWriter).
        return max(min(limit, PRODUCER_MAX_REQUEST_BYTES) - DLQ_HEADER_ROOM, 1024)

    redis_client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5)
    spec_store = RedisSpecStore(redis_client, prefix=settings.redis_prefix)
    label_join = RedisLabelJoin(
        redis_client,
        prefix=settings.redis_prefix,
        ttl_s=max(settings.label_ttl_s, 1),
        wait_s=settings.label_wait_s,
        max_early=settings.max_early_labels,
        pii=pii,
    )
    ingestion = IngestionService(
        ingestor=Ingestor(
            EventDecoder(
                max_message_bytes=settings.max_message_bytes, max_features=settings.max_features
            ),
            registry,
        ),
        monitor=Monitor(
            registry,
            MonitorConfig(
                window_events=settings.window_events, reference_events=settings.reference_events
            ),
            pii=pii,
            # The registry caps models and versions per model; this guards the rest.
            max_versions=max(500, settings.max_models * settings.max_versions_per_model),
        ),
        store=RedisMonitorStore(
            redis_client,
            prefix=settings.redis_prefix,
            topic=watched_predictions,
            ttl_s=settings.state_ttl_s,
        ),
        dead_letters=dead_letters,
        alerts=alerts,
        metrics=metrics,
        liveness=liveness,
        label_join=label_join if settings.label_ttl_s > 0 else None,
        dlq_redactor=DeadLetterRedactor(registry, pii) if settings.dlq_redact_pii else None,
        dead_letter_max_bytes=dead_letter_max_bytes(settings.topic_dlq),
        warmup_slots=(
            RedisWarmupSlots(
                redis_client, prefix=settings.redis_prefix, timeout_s=settings.warmup_timeout_s
            )
            if settings.unknown_models == "auto"
            else None
        ),
    )
    label_service = LabelService(
        decoder=LabelDecoder(),
        join=label_join,
        registry=registry,
        config=PerformanceConfig(
            max_drop=settings.performance_max_drop,
            max_error_rise=settings.performance_max_error_rise,
            min_labels=settings.performance_min_labels,
            retrain_after=settings.retrain_after,
            retrain_cooldown=settings.retrain_cooldown,
        ),
        store=RedisMonitorStore(
            redis_client,
            prefix=settings.redis_prefix,
            topic=watched_labels,
            ttl_s=settings.state_ttl_s,
            namespace="performance",
        ),
        dead_letters=label_dead_letters,
        alerts=alerts,
        retrain=retrain,
        metrics=metrics,
        pii=pii,
        dead_letter_max_bytes=dead_letter_max_bytes(settings.topic_labels_dlq),
    )
    health = HealthCheck(
        kafka=settings.kafka,
        redis_client=redis_client,
        liveness=liveness,
        progress=progress,
    )
    pending: list[ModelSpec] = []

    async def ingest(records: list[RawRecord]) -> None:
        await ingestion.process(records)
        pending.extend(registry.take_inferred())

    writer = DurableWriter(metrics.retries, metrics.publish_failures)
    # The routing stage's copies go through librdkafka: Faust's producer was the worker's
    # largest cost per event (streams/adapters/kafka/producer.py).
    producer = KafkaProducer(settings.kafka, timeout_s=settings.producer_timeout_s,
                             max_message_bytes=PRODUCER_MAX_REQUEST_BYTES)  # fmt: skip
    app.closing.append(producer.close)
    monitored = [(predictions, watched_predictions, ingest, "ingest"),
                 (labels, watched_labels, label_service.process, "join_labels")]  # fmt: skip
    for source, watched, process, name in monitored:
        if watched == source.get_topic_name():
            _batch_agent(app, source, process, liveness, progress, name=name)
            continue
        by_model = app.topic(watched, key_serializer="raw", value_serializer="raw")
        limit = settings.max_message_bytes if source is predictions else None
        oversized = ingestion.dead_letter_oversized if source is predictions else None
        router = Router(producer.topic(watched), writer, max_bytes=limit, oversized=oversized)
        _batch_agent(app, source, router.forward, liveness, progress, name=f"route_{name}")
        _batch_agent(app, by_model, process, liveness, progress, name=name, routed=True)
    _watch_progress(app, progress, metrics, {settings.topic_predictions, settings.topic_labels,
                                             *settings.internal_topics})  # fmt: skip

    @app.timer(settings.label_retry_s)
    async def retry_waiting_labels() -> None:
        try:
            await label_service.retry_waiting()
        except Exception:
            logger.exception("retrying waiting labels failed; next round will try again")

    predictions_name = settings.topic_predictions

    @app.on_partitions_revoked.connect
    async def partitions_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:
        liveness.partitions -= {tp.partition for tp in revoked if tp.topic == predictions_name}
        ingestion.reset()
        label_service.reset()

    @app.on_partitions_assigned.connect
    async def partitions_assigned(sender: faust.App, assigned: set, **kwargs: object) -> None:
        liveness.partitions |= {tp.partition for tp in assigned if tp.topic == predictions_name}
        liveness.joined = True
        ingestion.reset()
        label_service.reset()

    @app.task
    async def store_file_specs() -> None:
        for spec in file_specs:
            await _try(spec_store.save(spec, replace=True))

    @app.timer(settings.spec_refresh_s)
    async def sync_specs() -> None:
        await _sync_specs(spec_store, registry, pending, pii)
        metrics.models_known.set(registry.model_count)

    add_routes(
        app,
        metrics_registry=metrics_registry,
        health=health,
        liveness=liveness,
        metrics_token=settings.web_token,
    )

    return Worker(app, registry, metrics_registry, spec_store)


def _batch_agent(
    app: BatchApp,
    topic: faust.TopicT,
    process: Callable[[list[RawRecord]], Awaitable[None]],
    liveness: StreamLiveness,
    progress: PartitionProgress,
    *,
    name: str,
    routed: bool = False,
) -> None:
    """An agent that processes each fetched chunk of ``topic``, then acks it (``routed``:
    ``topic`` is a by-model topic, see ``BatchApp.batch_channel``)."""

    async def agent(chunks: faust.StreamT) -> None:
        try:
            async for chunk in chunks:
                offsets = _offsets(chunk)
                progress.handed(offsets)
                if await app.run_batch(process(chunk.records)):
                    app.ack(chunk)
                    progress.processed(offsets)
        except Exception as exc:
            # Faust's agents die quietly; make the death loud and visible in /health.
            liveness.failure = repr(exc)
            logger.exception("the %s agent stopped", name)
            raise

    app.agent(app.batch_channel(topic, routed=routed), name=name, concurrency=1)(agent)


def _offsets(chunk: FetchedChunk) -> dict[tuple[str, int], list[int]]:
    return {(tp.topic, tp.partition): offsets for tp, offsets in chunk.offsets.items()}


def _watch_progress(
    app: BatchApp, progress: PartitionProgress, metrics: IngestMetrics, topics: set[str]
) -> None:
    """Track the held partitions of ``topics``; sample their lag into ``progress`` and the
    gauges; keep aiokafka's reconnect errors to one line per outage."""
    log_filter = OutageLogFilter()
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).addFilter(log_filter)

    @app.on_partitions_assigned.connect
    async def track(sender: faust.App, assigned: set, **kwargs: object) -> None:
        progress.assign((tp.topic, tp.partition) for tp in assigned if tp.topic in topics)

    @app.on_partitions_revoked.connect
    async def untrack(sender: faust.App, revoked: set, **kwargs: object) -> None:
        gone = [(tp.topic, tp.partition) for tp in revoked if tp.topic in topics]
        progress.revoke(gone)
        for topic, partition in gone:  # label sets only for partitions held now
            for gauge in (metrics.consumer_lag, metrics.seconds_since_progress):
                with contextlib.suppress(KeyError):
                    gauge.remove(topic, str(partition))

    @app.timer(min(1.0, progress.stall_s / 4))
    async def sample_lag() -> None:
        log_filter.flush()
        for topic, partition in progress.held:
            progress.observe((topic, partition), _highwater(app, TP(topic, partition)))
            lag = progress.lag((topic, partition))
            if lag is not None:
                metrics.consumer_lag.labels(topic, str(partition)).set(lag)
            seconds = progress.seconds_since_progress((topic, partition))
            metrics.seconds_since_progress.labels(topic, str(partition)).set(seconds)


def _highwater(app: BatchApp, tp: TP) -> int | None:
    # What the consumer learnt from its last fetch: no broker round trip.
    try:
        return app.consumer.highwater(tp)
    except Exception:  # aiokafka asserts the partition is assigned; mid-rebalance it is not
        return None


async def _sync_specs(
    store: RedisSpecStore, registry: SpecRegistry, pending: list[ModelSpec], pii: PiiPolicy
) -> None:
    """Persist inferred specs; pick up specs other workers or operators stored.

    A spec with PII that comes while no key is set is not refused (the stream goes on): its
    PII values are dropped, as ``pii`` then hashes nothing, and a warning says so once.
    """
    while pending:
        if not await _try(store.save(pending[0], replace=False)):
            return
        pending.pop(0)
    stored = await _try(store.load())
    for spec in stored or ():
        current = registry.spec_for(spec.model_id, spec.model_version or "")
        if current is None or current.to_dict() != spec.to_dict():
            registry.register(spec)
            if has_pii(spec) and not pii.hashes and pii.mode == "hash":
                _warn_unkeyed(spec.model_id)


@functools.cache
def _warn_unkeyed(model_id: str) -> None:
    # Cached: once per model per process, not at every refresh.
    logger.warning("model %s has PII features or attributes and no DRIFTLINE_PII_KEY is set: "
                   "its PII values are dropped, not hashed", model_id)  # fmt: skip


async def _try(operation: Awaitable[_T]) -> _T | None:
    try:
        return await operation
    except StoreUnavailable as exc:
        logger.warning("Redis unavailable, will retry: %s", exc)
        return None
