"""Creating Driftline's topics before a worker subscribes to them.

The broker runs with ``auto.create.topics.enable=false`` and Faust does not create topics it
only consumes, so a worker that started first would wait on a topic that never comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streams.core.errors import KafkaUnavailable, PublishFailed
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = [
    "DLQ_MAX_MESSAGE_BYTES",
    "connect_admin",
    "ensure_topics",
    "ensure_worker_topics",
    "wait_for_leaders",
]

logger = logging.getLogger(__name__)

# Rejected records go to the DLQ unchanged, whatever their size, so its limit is generous.
DLQ_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def connect_admin(kafka: KafkaConfig, *, timeout_s: float = 30.0) -> AdminClient:
    """An admin client that has had metadata from the brokers: the start-up probe.

    A wrong password or an untrusted certificate makes librdkafka retry forever, logging
    each attempt; here its own log is silenced and the first such error becomes one
    ``KafkaUnavailable`` line that says what to check.

    Raises
    ------
    KafkaUnavailable
        Authentication or the TLS handshake failed, or no broker answered in ``timeout_s``.
    """
    errors: list[KafkaError] = []
    admin = AdminClient(kafka.confluent({"log_level": 0, "error_cb": errors.append}))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=min(1.0, max(deadline - time.monotonic(), 0.1)))
            return admin
        except KafkaException as exc:
            last = str(exc.args[0])
        admin.poll(0)  # serves error_cb
        refused = next((e for e in errors if _refusal(kafka, e)), None)
        if refused is not None:
            raise KafkaUnavailable(_refusal(kafka, refused))
        if time.monotonic() >= deadline:
            seen = errors[-1].str() if errors else last
            raise KafkaUnavailable(
                f"Kafka at {kafka.describe()} did not answer within {timeout_s:.0f} s: {seen}"
            )


def _refusal(kafka: KafkaConfig, error: KafkaError) -> str | None:
    """A one-line explanation if ``error`` means retrying cannot help, else None."""
    text = error.str()
    if error.code() == KafkaError._AUTHENTICATION or "SASL authentication" in text:
        return (
            f"Kafka at {kafka.bootstrap} refused SASL authentication for user "
            f"{kafka.sasl_username!r} ({kafka.sasl_mechanism}): check DRIFTLINE_KAFKA_SASL_* "
            f"({text})"
        )
    if error.code() == KafkaError._SSL or "SSL handshake failed" in text:
        return (
            f"TLS handshake with Kafka at {kafka.bootstrap} failed: check "
            f"DRIFTLINE_KAFKA_SSL_CA_FILE (and _CERT_FILE/_KEY_FILE) ({_one_line(text)})"
        )
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ensure_topics(
    kafka: KafkaConfig,
    topics: Iterable[str],
    *,
    partitions: int,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create those of ``topics`` that do not exist yet; return the names created.

    ``configs`` maps a topic name to its topic-level configuration (``max.message.bytes``...).

    Raises
    ------
    KafkaUnavailable
        The broker could not be reached or refused our credentials.
    PublishFailed
        The broker refused to create a topic.
    """
    admin = connect_admin(kafka, timeout_s=timeout_s)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(name, partitions, 1) for name in dict.fromkeys(topics) if name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise PublishFailed(f"could not create topic {name!r}: {exc}") from exc
        else:
            created.append(name)
            logger.info("created topic %s with %d partitions", name, partitions)
    wait_for_leaders(admin, created, deadline=time.monotonic() + timeout_s)
    return created


def wait_for_leaders(
    client: Any, topics: Iterable[str], *, deadline: float
) -> dict[str, list[int]]:
    """Each topic's partitions, once every one has a leader in the broker's metadata.

    A topic created a moment ago can be missing from the metadata for a while (an empty
    answer then means "not yet"); a Faust worker subscribing then is assigned none of its
    partitions ("Ignoring missing topic") until the next rebalance. ``client`` is an
    ``AdminClient`` or a ``Consumer``: both answer ``list_topics``.
    """
    pending, ready = set(topics), {}
    while pending:
        metadata = client.list_topics(timeout=max(deadline - time.monotonic(), 1.0)).topics
        for name in list(pending):
            topic = metadata.get(name)
            if (topic is not None and topic.error is None and topic.partitions
                    and all(p.leader >= 0 for p in topic.partitions.values())):  # fmt: skip
                ready[name] = sorted(topic.partitions)
                pending.discard(name)
        if pending and time.monotonic() >= deadline:
            raise PublishFailed(f"topics {sorted(pending)} have no leader yet")
        if pending:
            time.sleep(0.2)
    return ready


def ensure_worker_topics(settings: Settings) -> list[str]:
    """Create the topics a worker reads and writes, the DLQ with room for any rejected record."""
    return ensure_topics(
        settings.kafka,
        settings.topics,
        partitions=settings.partitions,
        configs={
            dlq: {"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)}
            for dlq in (settings.topic_dlq, settings.topic_labels_dlq)
        },
    )
