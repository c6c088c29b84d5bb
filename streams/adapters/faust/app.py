"""The worker: its Faust app, agents and rebalance hooks over the services.

``build_worker`` assembles the named parts: the app (``_build_app``), its topics
(``topics.py``), the object graph (``services.py``), the agents, the timers and background
tasks (``worker_tasks.py``), and the pages (``routes.py``). The order parts are added to the
app is the order they start in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP

from streams.adapters.faust.access_refused import stop_worker, write_refused
from streams.adapters.faust.batch_app import BatchApp
from streams.adapters.faust.batch_consumer import FetchedChunk
from streams.adapters.faust.direct import direct_route, forget_roads_at_rebalance
from streams.adapters.faust.health import StreamLiveness
from streams.adapters.faust.progress import PartitionProgress
from streams.adapters.faust.rewind import state_marks
from streams.adapters.faust.routes import add_routes
from streams.adapters.faust.services import (
    PRODUCER_MAX_REQUEST_BYTES,
    WorkerServices,
    build_services,
)
from streams.adapters.faust.topics import WorkerTopics, declare_topics, raw_topic
from streams.adapters.faust.worker_tasks import (
    add_eviction_warning,
    add_health_sampling,
    add_label_retries,
    add_lost_state_restore,
    add_progress_watch,
    add_spec_sync,
)
from streams.adapters.kafka.producer import KafkaProducer
from streams.adapters.kafka.routing import Router
from streams.adapters.prometheus.text_families import MetricsRegistry
from streams.adapters.redis.client import connect
from streams.adapters.redis.replicas import after_each_batch
from streams.adapters.redis.road_store import RoadCheck
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.core.alerts.sink import AlertSink
from streams.core.contract.event import RawRecord
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.errors import StoreUnavailable
from streams.settings import Settings

__all__ = ["Worker", "build_worker", "load_stored_specs"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Worker:
    """The app and the parts tests and the CLI reach into."""

    app: BatchApp
    registry: SpecRegistry
    metrics_registry: MetricsRegistry
    spec_store: RedisSpecStore


def load_stored_specs(settings: Settings) -> list[ModelSpec]:
    """The specs in Redis now, before the worker starts; none if Redis does not answer."""

    async def load() -> list[ModelSpec]:
        client = connect(settings.redis_url, socket_timeout=5)
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
    app = _build_app(settings)
    topics = declare_topics(app, settings)
    services = build_services(
        settings,
        topics,
        specs=[*stored_specs, *file_specs],
        pii=pii,
        dead_letter_limits=dead_letter_limits or {},
        refused=lambda target, exc: stop_worker(app, write_refused(target, exc)),
    )
    # The order things are added to the app is the order they start in: keep it.
    _add_agents(app, settings, topics, services)
    held = {settings.topic_predictions, settings.topic_labels, *settings.internal_topics}
    add_progress_watch(app, services.progress, services.metrics, held)
    add_label_retries(app, settings, services.label_service)
    add_health_sampling(app, services.health)
    _add_rebalance_hooks(app, settings, services)
    add_spec_sync(app, settings, services, file_specs, pii)
    add_eviction_warning(app, services.spec_store.client)
    add_lost_state_restore(app, settings, services)
    app.state_marks = state_marks(services.ingestion.applied, services.label_service.applied)
    _close_sink_at_shutdown(app, settings, services.sink)
    add_routes(
        app,
        metrics_registry=services.metrics_registry,
        health=services.health,
        liveness=services.liveness,
        metrics_token=settings.web_token,
    )
    return Worker(app, services.registry, services.metrics_registry, services.spec_store)


def _build_app(settings: Settings) -> BatchApp:
    """The Faust app: its Kafka clients, consumer group, local data and web server."""
    data_dir = settings.data_dir.expanduser() / settings.app_id
    data_dir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return BatchApp(
        settings.app_id,
        max_chunk_records=settings.batch_max_records,
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


def _add_agents(
    app: BatchApp, settings: Settings, topics: WorkerTopics, services: WorkerServices
) -> None:
    """One agent per input topic, or (routed) one copying it by model and one reading the
    copy."""
    ingestion = services.ingestion
    # The monitoring agent and, with direct routing, the routing agent both apply batches:
    # one at a time, as one agent would.
    applying = asyncio.Lock()

    writer = ingestion.writer  # the stages' own: its retries and failures counted alike
    replicated = after_each_batch(services.replicas, writer)
    if services.replicas is not None:
        app.closing.append(services.replicas.close)

    async def ingest(records: list[RawRecord]) -> None:
        async with applying:
            await ingestion.process(records)
        await replicated()

    async def join_labels(records: list[RawRecord]) -> None:
        await services.label_service.process(records)
        await replicated()

    # The routing stage's copies go through librdkafka: Faust's producer was the worker's
    # largest cost per event (streams/adapters/kafka/producer.py).
    producer = KafkaProducer(settings.kafka, timeout_s=settings.producer_timeout_s,
                             max_message_bytes=PRODUCER_MAX_REQUEST_BYTES)  # fmt: skip
    app.closing.append(producer.close)
    liveness, progress, labels = services.liveness, services.progress, services.label_service
    # Records over the decoder's size limit are dead-lettered where they are first read.
    monitored = [
        (topics.predictions, topics.watched_predictions, ingest, "ingest",
         settings.max_message_bytes, ingestion.dead_letter_oversized),
        (topics.labels, topics.watched_labels, join_labels, "join_labels",
         labels.decoder.max_message_bytes, labels.dead_letter_oversized),
    ]  # fmt: skip
    for source, watched, process, name, limit, oversized in monitored:
        if watched == source.get_topic_name():
            _batch_agent(app, source, process, liveness, progress, name=name)
            continue
        by_model = raw_topic(app, watched)
        direct = direct_route(app, settings, producer, services, source, process)
        router = Router(producer.topic(watched), writer, max_bytes=limit, oversized=oversized,
                        bundle_bytes=settings.routing_bundle_bytes, direct=direct)  # fmt: skip
        if direct is not None:  # predictions: routed records are checked against their roads
            ingestion.applied.road_check = RoadCheck(
                services.roads, router.direct_road_now, router.held_roads, direct.claim_direct
            )
        forget_roads_at_rebalance(app, router)
        _batch_agent(app, source, router.forward, liveness, progress, name=f"route_{name}")
        _batch_agent(app, by_model, process, liveness, progress, name=name, routed=True)


def _close_sink_at_shutdown(app: BatchApp, settings: Settings, sink: AlertSink) -> None:
    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # typed (sender, *args)
    async def close_sink(sender: faust.App, **kwargs: object) -> None:
        # After the consumer stopped: queued webhook posts get one timeout's grace, the
        # rest are counted as given up (the alerts topic has them all).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sink.flush(), settings.webhook_timeout_s)
        await sink.close()


def _add_rebalance_hooks(app: BatchApp, settings: Settings, services: WorkerServices) -> None:
    """Keep the held predictions partitions in ``liveness``; drop the services' cached state
    at every rebalance (another worker may have changed it meanwhile), and the series of the
    model versions another worker holds now (``HeldVersions``)."""
    liveness, ingestion, labels = services.liveness, services.ingestion, services.label_service
    metrics = services.metrics
    predictions_name = settings.topic_predictions

    async def reset_between_passes() -> None:
        # Labels first: a label pass counts its labels in the canaries under the ingestion's
        # pass, so the ingestion is not reset while a label pass waits to do so.
        await labels.reset_between_passes()
        await ingestion.reset_between_passes()

    # Faust calls these with (sender, the partitions); mode's one type for every signal
    # handler is (sender, *args, signal=..., **kwargs), which mypy cannot match to them.
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # typed (sender, *args)
    async def partitions_revoked(sender: faust.App, revoked: set[TP], **kwargs: object) -> None:
        liveness.partitions -= {tp.partition for tp in revoked if tp.topic == predictions_name}
        await reset_between_passes()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # typed (sender, *args)
    async def partitions_assigned(sender: faust.App, assigned: set[TP], **kwargs: object) -> None:
        liveness.partitions |= {tp.partition for tp in assigned if tp.topic == predictions_name}
        liveness.joined = True
        await reset_between_passes()
        metrics.rebalanced(time.monotonic())

    @app.timer(MOVED_VERSIONS_CHECK_S)
    async def drop_moved_versions() -> None:
        metrics.drop_moved_versions(time.monotonic())


def _batch_agent(
    app: BatchApp,
    topic: faust.TopicT,
    process: Callable[[list[RawRecord]], Coroutine[Any, Any, None]],
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
                app.take(chunk)
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


#: How often the series of versions moved to another worker are looked for after a rebalance.
MOVED_VERSIONS_CHECK_S = 5.0
