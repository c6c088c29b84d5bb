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
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from streams.core.errors import KafkaUnavailable, PublishFailed
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = [
    "DLQ_HEADER_ROOM",
    "KAFKA_DEFAULT_MAX_MESSAGE_BYTES",
    "check_session_timeout",
    "connect_admin",
    "ensure_topics",
    "ensure_worker_topics",
    "replication_for",
    "topic_configs",
    "wait_for_leaders",
]

logger = logging.getLogger(__name__)

#: What a dead letter's headers may add to the original record (a dozen, each cut to 1 KiB).
DLQ_HEADER_ROOM = 64 * 1024
#: The broker's ``message.max.bytes`` unless configured: a topic's limit when none is known.
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
_MAX_MESSAGE_BYTES = "max.message.bytes"
_MIN_INSYNC = "min.insync.replicas"
_SESSION_BOUNDS = ("group.min.session.timeout.ms", "group.max.session.timeout.ms")


def replication_for(brokers: int, factor: int = 0, min_insync: int = 0) -> tuple[int, int]:
    """``(replicas, min.insync.replicas)`` of a new topic on a cluster of ``brokers``.

    A value of 0 is derived: 3 replicas where 3 brokers answer (fewer on a smaller
    cluster), and 2 of them in sync, so one broker may fail without refusing acks=all
    writes or losing an acknowledged one; a single replica needs only itself.

    >>> replication_for(1)
    (1, 1)
    >>> replication_for(3)
    (3, 2)
    >>> replication_for(5, 0, 3)
    (3, 3)
    >>> replication_for(2)
    (2, 1)
    """
    replicas = factor or max(1, min(3, brokers))
    return replicas, min_insync or (2 if replicas >= 3 else 1)


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
    replication_factor: int = 0,
    min_insync_replicas: int = 0,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create those of ``topics`` that do not exist yet; return the names created.

    New topics get ``replication_factor`` replicas and ``min.insync.replicas``; 0 derives
    them from the brokers that answer now (``replication_for``). Existing topics keep theirs:
    raising min.insync.replicas above a topic's replica count would refuse every acks=all
    write to it.

    ``configs`` maps a topic name to its topic-level configuration (``max.message.bytes``...),
    applied when the topic is created. A topic that exists already is altered where its value
    falls short (a number below the wanted one, another text); if the broker refuses, that is
    logged as a warning and the topic is used as it is.

    Raises
    ------
    KafkaUnavailable
        The broker could not be reached or refused our credentials.
    PublishFailed
        The broker refused to create a topic.
    """
    admin = connect_admin(kafka, timeout_s=timeout_s)
    metadata = admin.list_topics(timeout=timeout_s)
    existing = set(metadata.topics)
    configs = configs or {}
    names = list(dict.fromkeys(topics))
    raise_configs(admin, {n: configs[n] for n in names if n in existing and n in configs},
                  timeout_s=timeout_s)  # fmt: skip
    if all(name in existing for name in names):
        return []
    replicas, in_sync = replication_for(len(metadata.brokers), replication_factor,
                                        min_insync_replicas)  # fmt: skip
    wanted = [
        NewTopic(name, partitions, replicas,
                 config={**configs.get(name, {}), _MIN_INSYNC: str(in_sync)})
        for name in names
        if name not in existing
    ]  # fmt: skip
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise PublishFailed(f"could not create topic {name!r}: {exc}") from exc
        else:
            created.append(name)
            logger.info("created topic %s with %d partitions, %d replicas, min.insync.replicas "
                        "%d", name, partitions, replicas, in_sync)  # fmt: skip
    wait_for_leaders(admin, created, deadline=time.monotonic() + timeout_s)
    return created


def topic_configs(
    admin: AdminClient, topics: Iterable[str], *, timeout_s: float = 30.0
) -> dict[str, dict[str, str]]:
    """Each topic's effective configuration (overrides and the broker's defaults).

    A topic created a moment ago may not be known yet to the broker asked (with several
    brokers its metadata reaches them one by one): such a topic is asked again until
    ``timeout_s``.
    """
    pending = list(dict.fromkeys(topics))
    deadline = time.monotonic() + timeout_s
    found: dict[str, dict[str, str]] = {}
    while pending:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in pending]
        pending = []
        for resource, future in admin.describe_configs(
            resources, request_timeout=timeout_s
        ).items():
            try:
                entries = future.result()
            except KafkaException as exc:
                error = exc.args[0]
                not_yet = error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART or error.retriable()
                if not not_yet or time.monotonic() > deadline:
                    raise PublishFailed(
                        f"could not read the configuration of {resource.name}: {exc}"
                    ) from exc
                pending.append(resource.name)
                continue
            found[resource.name] = {name: entry.value for name, entry in entries.items()}
        if pending:
            time.sleep(0.2)
    return found


def raise_configs(
    admin: AdminClient, configs: Mapping[str, Mapping[str, str]], *, timeout_s: float = 30.0
) -> None:
    """Alter existing topics' configuration where it falls short of ``configs``."""
    current = topic_configs(admin, configs, timeout_s=timeout_s)
    resources = []
    for name, wanted in configs.items():
        changes = [
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
            for key, value in wanted.items()
            if _falls_short(current.get(name, {}).get(key), value)
        ]
        if changes:
            resources.append(ConfigResource(ResourceType.TOPIC, name, incremental_configs=changes))
    if not resources:
        return
    for resource, future in admin.incremental_alter_configs(
        resources, request_timeout=timeout_s
    ).items():
        entries = {e.name: e.value for e in resource.incremental_configs}
        try:
            future.result()
        except KafkaException as exc:
            logger.warning("topic %s keeps %s, which falls short of %s: the broker refused to "
                           "alter it (%s)", resource.name,
                           {k: current.get(resource.name, {}).get(k) for k in entries}, entries,
                           exc)  # fmt: skip
        else:
            logger.info("altered topic %s: %s", resource.name, entries)


def _falls_short(current: str | None, wanted: str) -> bool:
    if current is None:
        return True
    try:
        return int(current) < int(wanted)
    except ValueError:
        return current != wanted


def wait_for_leaders(
    client: Any, topics: Iterable[str], *, deadline: float, count: int = 1
) -> dict[str, list[int]]:
    """Each topic's partitions, once it has ``count`` or more and every one has a leader in
    the broker's metadata.

    A topic created a moment ago can be missing from the metadata for a while (an empty
    answer then means "not yet"); a Faust worker subscribing then is assigned none of its
    partitions ("Ignoring missing topic") until the next rebalance; partitions just added
    likewise. ``client`` is an ``AdminClient`` or a ``Consumer``: both answer
    ``list_topics``.
    """
    pending, ready = set(topics), {}
    while pending:
        metadata = client.list_topics(timeout=max(deadline - time.monotonic(), 1.0)).topics
        for name in list(pending):
            topic = metadata.get(name)
            if (topic is not None and topic.error is None and len(topic.partitions) >= count
                    and all(p.leader >= 0 for p in topic.partitions.values())):  # fmt: skip
                ready[name] = sorted(topic.partitions)
                pending.discard(name)
        if pending and time.monotonic() >= deadline:
            wanted = f" for each of {count} partitions" if count > 1 else ""
            raise PublishFailed(f"topics {sorted(pending)} have no leader yet{wanted}")
        if pending:
            time.sleep(0.2)
    return ready


def ensure_worker_topics(settings: Settings, *, timeout_s: float = 30.0) -> dict[str, int]:
    """Create the topics a worker reads and writes; each dead-letter topic's limit in bytes.

    A dead-letter topic takes any record its source topic takes, with room for the headers:
    its ``max.message.bytes`` is raised to the source's plus ``DLQ_HEADER_ROOM``. A record
    larger still (the source's limit was raised after this) is dead-lettered truncated. The
    internal by-model topics (``Settings.internal_topics``) likewise take any record of the
    input topic they copy, with the routing headers.
    """
    sources = {settings.topic_dlq: settings.topic_predictions,
               settings.topic_labels_dlq: settings.topic_labels,
               **settings.internal_topics}  # fmt: skip
    others = [name for name in settings.topics if name not in sources]
    factor, in_sync = settings.replication_factor, settings.min_insync_replicas
    ensure_topics(settings.kafka, others, partitions=settings.partitions, timeout_s=timeout_s,
                  replication_factor=factor, min_insync_replicas=in_sync)  # fmt: skip
    admin = connect_admin(settings.kafka, timeout_s=timeout_s)
    limits = topic_configs(admin, set(sources.values()), timeout_s=timeout_s)
    ensure_topics(
        settings.kafka,
        sources,
        partitions=settings.partitions,
        configs={
            dlq: {_MAX_MESSAGE_BYTES: str(_limit(limits.get(source, {})) + DLQ_HEADER_ROOM)}
            for dlq, source in sources.items()
        },
        timeout_s=timeout_s,
        replication_factor=factor,
        min_insync_replicas=in_sync,
    )
    applied = topic_configs(admin, sources, timeout_s=timeout_s)
    return {dlq: _limit(config) for dlq, config in applied.items()}


def _limit(config: Mapping[str, str]) -> int:
    try:
        return int(config[_MAX_MESSAGE_BYTES])
    except (KeyError, ValueError):
        return KAFKA_DEFAULT_MAX_MESSAGE_BYTES


def check_session_timeout(settings: Settings, *, timeout_s: float = 30.0) -> None:
    """Refuse a ``DRIFTLINE_SESSION_TIMEOUT_S`` outside the brokers' bounds, before joining.

    A broker refuses such a join (``INVALID_SESSION_TIMEOUT``); aiokafka logs it once, and
    the worker then stays up, in no group, consuming nothing. The bounds
    are read from a broker's configuration; a user without the right to read it (an ACL
    without DescribeConfigs on the cluster) skips the check.

    Raises
    ------
    ValueError
        The session timeout is outside the bounds, which the message names.
    """
    admin = connect_admin(settings.kafka, timeout_s=timeout_s)
    broker = min(admin.list_topics(timeout=timeout_s).brokers)
    resource = ConfigResource(ResourceType.BROKER, str(broker))
    try:
        entries = admin.describe_configs([resource], request_timeout=timeout_s)[resource].result()
        low, high = (int(entries[name].value) for name in _SESSION_BOUNDS)
    except (KafkaException, KeyError, TypeError, ValueError) as exc:
        logger.info(
            "DRIFTLINE_SESSION_TIMEOUT_S not checked against the brokers: broker %s's "
            "bounds unread (%s)",
            broker,
            exc,
        )
        return
    wanted_ms = round(settings.session_timeout_s * 1000)
    if not low <= wanted_ms <= high:
        raise ValueError(
            f"DRIFTLINE_SESSION_TIMEOUT_S={settings.session_timeout_s:g} is outside what the "
            f"Kafka brokers accept, {low / 1000:g}-{high / 1000:g} s "
            f"({_SESSION_BOUNDS[0]}, {_SESSION_BOUNDS[1]}): the worker would never join its group"
        )
