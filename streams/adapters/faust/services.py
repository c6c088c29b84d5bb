"""The worker's object graph: the core behind its two services, their Redis stores, metrics
and health, built from ``Settings`` and the worker's topics (``WorkerTopics``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis

from streams.adapters.durable import DurableWriter
from streams.adapters.faust.health import HealthCheck, StreamLiveness
from streams.adapters.faust.ingestion import IngestionService
from streams.adapters.faust.labels import LabelService
from streams.adapters.faust.progress import PartitionProgress
from streams.adapters.faust.topics import WorkerTopics
from streams.adapters.kafka.admin import DLQ_HEADER_ROOM, KAFKA_DEFAULT_MAX_MESSAGE_BYTES
from streams.adapters.kafka.dead_letter import DeadLetterRedactor
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.prometheus.stream_metrics import add_process_collectors
from streams.adapters.prometheus.text_families import MetricsRegistry
from streams.adapters.redis.client import connect
from streams.adapters.redis.duplicates import RedisDuplicates
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.replicas import ReplicaBarrier
from streams.adapters.redis.road_store import RedisRoads
from streams.adapters.redis.rollout_store import RedisRolloutStore
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.warmup_slots import RedisWarmupSlots
from streams.adapters.sinks import worker_sink
from streams.core.alerts.sink import AlertSink
from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.ingestor import Ingestor
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.drift.monitor import Monitor
from streams.settings import Settings

__all__ = [
    "PRODUCER_MAX_REQUEST_BYTES",
    "WorkerServices",
    "build_services",
    "dead_letter_max_bytes",
]

#: The producer refuses larger records itself (aiokafka's ``max_request_size``).
PRODUCER_MAX_REQUEST_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class WorkerServices:
    """What the worker's agents, timers, rebalance hooks and pages share."""

    registry: SpecRegistry
    metrics_registry: MetricsRegistry
    metrics: IngestMetrics
    liveness: StreamLiveness
    progress: PartitionProgress
    spec_store: RedisSpecStore
    ingestion: IngestionService
    label_service: LabelService
    health: HealthCheck
    #: Where alerts and retraining requests leave: Kafka, then the extra sinks turned on.
    sink: AlertSink
    #: Which road each predictions partition's records take (routed, ``routing.py``).
    roads: RedisRoads
    #: Waits after each batch until Redis's replicas hold its writes (None: no wait).
    replicas: ReplicaBarrier | None = None


def build_services(
    settings: Settings,
    topics: WorkerTopics,
    *,
    specs: list[ModelSpec],
    pii: PiiPolicy,
    dead_letter_limits: Mapping[str, int],
    refused: Callable[[str, BaseException], None] | None = None,
) -> WorkerServices:
    """The object graph over one Redis client; ``specs``: the registry's first specs;
    ``refused``: told of each write refused for want of a grant (``DurableWriter``)."""
    registry = settings.spec_registry(specs)
    metrics_registry, metrics = _worker_metrics(settings)
    liveness = StreamLiveness()
    progress = PartitionProgress(settings.stall_s)
    redis_client = connect(settings.redis_url, socket_timeout=5)
    spec_store = RedisSpecStore(redis_client, prefix=settings.redis_prefix)
    label_join = RedisLabelJoin(
        redis_client,
        prefix=settings.redis_prefix,
        ttl_s=max(settings.label_ttl_s, 1),
        wait_s=settings.label_wait_s,
        max_early=settings.max_early_labels,
        pii=pii,
    )
    # One writer for every write of the worker's: its retries and failures counted alike.
    writer = DurableWriter(metrics.retries, metrics.publish_failures, refused=refused)
    # Alerts and retraining requests leave here: Kafka, then the extra sinks the settings
    # turn on (streams/adapters/sinks.py registers them).
    sink = worker_sink(settings, alerts=topics.alerts, retrain=topics.retrain, metrics=metrics,
                       writer=writer)  # fmt: skip
    wiring = _Wiring(
        settings, topics, registry, metrics, redis_client, pii, dead_letter_limits, sink, writer
    )
    return WorkerServices(
        registry=registry,
        metrics_registry=metrics_registry,
        metrics=metrics,
        liveness=liveness,
        progress=progress,
        spec_store=spec_store,
        ingestion=(ingestion := wiring.ingestion(label_join, spec_store, liveness)),
        label_service=wiring.label_service(label_join, ingestion),
        health=HealthCheck(
            kafka=settings.kafka,
            redis_client=redis_client,
            liveness=liveness,
            progress=progress,
            on_report=metrics.stream.observe_health,
            writer=writer,
        ),
        sink=sink,
        roads=RedisRoads(
            redis_client, prefix=settings.redis_prefix, topic=settings.topic_predictions
        ),
        replicas=_replica_barrier(settings, redis_client),
    )


def _replica_barrier(settings: Settings, client: aioredis.Redis) -> ReplicaBarrier | None:
    """``DRIFTLINE_REDIS_REPLICAS``'s wait after each batch (None: none asked for)."""
    if not settings.redis_replicas:
        return None
    return ReplicaBarrier(client, prefix=settings.redis_prefix, replicas=settings.redis_replicas,
                          timeout_ms=settings.redis_replicas_timeout_ms)  # fmt: skip


def dead_letter_max_bytes(limits: Mapping[str, int], topic: str) -> int:
    """The longest value a record dead-lettered to ``topic`` may carry whole."""
    limit = limits.get(topic, KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
    # A DLQ limit under the header room itself: keep 1 KiB; the broker may refuse even
    # that, and the refusal is logged and counted (DurableWriter).
    return max(min(limit, PRODUCER_MAX_REQUEST_BYTES) - DLQ_HEADER_ROOM, 1024)


def _worker_metrics(settings: Settings) -> tuple[MetricsRegistry, IngestMetrics]:
    metrics_registry = MetricsRegistry()
    add_process_collectors(metrics_registry)
    metrics = IngestMetrics(
        metrics_registry,
        max_statistic_series=settings.max_statistic_series,
        latency_objective_ms=settings.latency_objective_ms,
        # A held version with events waiting is processed within stall_s, or /health fails.
        moved_grace_s=settings.stall_s,
    )
    return metrics_registry, metrics


@dataclass(frozen=True, slots=True)
class _Wiring:
    """What both services are built from."""

    settings: Settings
    topics: WorkerTopics
    registry: SpecRegistry
    metrics: IngestMetrics
    redis_client: aioredis.Redis
    pii: PiiPolicy
    dead_letter_limits: Mapping[str, int]
    sink: AlertSink
    writer: DurableWriter

    def ingestion(
        self, label_join: RedisLabelJoin, spec_store: RedisSpecStore, liveness: StreamLiveness
    ) -> IngestionService:
        settings, registry, redis_client = self.settings, self.registry, self.redis_client
        return IngestionService(
            ingestor=Ingestor(settings.event_decoder(), registry),
            monitor=Monitor(
                registry,
                settings.monitor_config(),
                pii=self.pii,
                # The registry caps models and versions per model; this guards the rest.
                max_versions=max(500, settings.max_models * settings.max_versions_per_model),
                new_version_reference=settings.new_version_reference,
                rollouts=settings.rollouts(),
            ),
            store=RedisMonitorStore(
                redis_client,
                prefix=settings.redis_prefix,
                topic=self.topics.watched_predictions,
                ttl_s=settings.state_ttl_s,
            ),
            dead_letters=self.topics.dead_letters,
            sink=self.sink,
            metrics=self.metrics,
            liveness=liveness,
            rollout_store=RedisRolloutStore(redis_client, prefix=settings.redis_prefix),
            spec_store=spec_store,
            label_join=label_join if settings.label_ttl_s > 0 else None,
            dlq_redactor=DeadLetterRedactor(registry, self.pii)
            if settings.dlq_redact_pii
            else None,
            dead_letter_max_bytes=dead_letter_max_bytes(
                self.dead_letter_limits, settings.topic_dlq
            ),
            warmup_slots=(
                RedisWarmupSlots(
                    redis_client, prefix=settings.redis_prefix, timeout_s=settings.warmup_timeout_s
                )
                if settings.unknown_models == "auto"
                else None
            ),
            duplicates=(
                RedisDuplicates(
                    redis_client, prefix=settings.redis_prefix, ttl_s=settings.dedup_ttl_s
                )
                if settings.dedup_ttl_s
                else None
            ),
            writer=self.writer,
        )

    def label_service(
        self, label_join: RedisLabelJoin, ingestion: IngestionService
    ) -> LabelService:
        settings = self.settings
        return LabelService(
            decoder=LabelDecoder(),
            join=label_join,
            registry=self.registry,
            config=settings.performance_config(),
            store=RedisMonitorStore(
                self.redis_client,
                prefix=settings.redis_prefix,
                topic=self.topics.watched_labels,
                ttl_s=settings.state_ttl_s,
                namespace="performance",
            ),
            dead_letters=self.topics.label_dead_letters,
            sink=self.sink,
            writer=self.writer,
            metrics=self.metrics,
            pii=self.pii,
            dead_letter_max_bytes=dead_letter_max_bytes(
                self.dead_letter_limits, settings.topic_labels_dlq
            ),
            profiles=RedisMonitorStore(
                self.redis_client,
                prefix=settings.redis_prefix,
                topic=self.topics.watched_predictions,
                ttl_s=settings.state_ttl_s,
            ),
            drift=ingestion.monitor,
            canaries=ingestion.count_labels,
        )
