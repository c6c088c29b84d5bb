"""The Kafka ACLs each of Driftline's principals needs on brokers that enforce them: the
worker's, the services' that log predictions and labels, and an alert consumer's.

A worker reads the input topics, writes alerts, dead letters and retraining requests, copies
its input to the by-model topics and reads them back, and commits in its consumer group. A
principal granted ``worker_grants`` and nothing else runs a worker (the secure integration
test runs one so, on a broker with an authorizer):

- the input topics (``predictions``, ``labels``): Read, Describe, and DescribeConfigs (their
  ``max.message.bytes`` sizes the dead-letter topics: ``ensure_worker_topics``);
- ``alerts`` and ``retrain-requests``: Write, Describe;
- the dead-letter topics: Write, Describe, DescribeConfigs, AlterConfigs (a dead-letter topic
  takes any record its source takes, so its limit is raised to match);
- every topic whose name starts with ``<app_id>-`` (a PREFIXED pattern: the by-model topics
  and Faust's own): Read, Write, Describe, DescribeConfigs, AlterConfigs;
- the consumer group ``<app_id>``: Read, Describe;
- with ``create``, Create on each topic (the worker creates those missing at start);
- with ``check_session``, DescribeConfigs on the cluster: the worker then refuses a
  ``DRIFTLINE_SESSION_TIMEOUT_S`` the brokers would refuse (``check_session_timeout``);
  without it that check is skipped.

A service logging with ``PredictionLogger`` and ``LabelLogger`` needs Write and Describe on
the input topics and nothing else (``logger_grants``); an ``AlertConsumer`` needs Read and
Describe on ``alerts`` and ``retrain-requests`` and Read on its own group
(``alert_consumer_grants``). ``driftline redrive`` reads the dead-letter topics (Read,
Describe, and DescribeConfigs for their retention) and writes their records back to the
input topics (Write, Describe), joining no group but naming one, ``<app_id>-redrive``
(Describe: librdkafka looks its coordinator up; ``redrive_grants``): an operator's, not
the worker's. Keeping them apart is what lets consumers trust an alert:
only the worker may write one, and a logging service cannot read another's predictions.

Idempotent producers need no cluster grant on Kafka 3.0 and later (KIP-679).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from streams.adapters.kafka.admin import connect_admin
from streams.core.errors import KafkaUnavailable
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = [
    "Grant",
    "acl_bindings",
    "alert_consumer_grants",
    "create_acls",
    "kafka_acls_commands",
    "logger_grants",
    "redrive_grants",
    "redrive_group",
    "worker_grants",
]

READ, WRITE, CREATE, DESCRIBE = "Read", "Write", "Create", "Describe"
DESCRIBE_CONFIGS, ALTER_CONFIGS = "DescribeConfigs", "AlterConfigs"


@dataclass(frozen=True, slots=True)
class Grant:
    """Operations allowed on one resource: a topic, a group or the cluster (``name`` None),
    by its literal name or (``prefixed``) every name that starts with it."""

    resource: str  # "topic", "group" or "cluster"
    name: str | None
    operations: tuple[str, ...]
    prefixed: bool = False


def worker_grants(
    settings: Settings, *, create: bool = True, check_session: bool = True
) -> list[Grant]:
    """What a worker with ``settings`` needs (the module's list)."""
    creating = (CREATE,) if create else ()
    internal = f"{settings.app_id}-"
    grants = [
        *(Grant("topic", t, (READ, DESCRIBE, DESCRIBE_CONFIGS, *creating))
          for t in (settings.topic_predictions, settings.topic_labels)),
        *(Grant("topic", t, (WRITE, DESCRIBE, *creating))
          for t in (settings.topic_alerts, settings.topic_retrain)),
        *(Grant("topic", t, (WRITE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, *creating))
          for t in (settings.topic_dlq, settings.topic_labels_dlq)),
        Grant("topic", internal,
              (READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, *creating), prefixed=True),
        *(Grant("topic", t, (READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, *creating))
          for t in settings.internal_topics if not t.startswith(internal)),
        Grant("group", settings.app_id, (READ, DESCRIBE)),
    ]  # fmt: skip
    if check_session:
        grants.append(Grant("cluster", None, (DESCRIBE_CONFIGS,)))
    return grants


def logger_grants(settings: Settings) -> list[Grant]:
    """What a service logging predictions and labels (``streams.client``) needs."""
    return [Grant("topic", topic, (WRITE, DESCRIBE))
            for topic in (settings.topic_predictions, settings.topic_labels)]  # fmt: skip


def redrive_grants(settings: Settings) -> list[Grant]:
    """What ``driftline redrive`` needs: read the dead letters, write them back."""
    return [
        *(Grant("topic", topic, (READ, DESCRIBE, DESCRIBE_CONFIGS))
          for topic in (settings.topic_dlq, settings.topic_labels_dlq)),
        *(Grant("topic", topic, (WRITE, DESCRIBE))
          for topic in (settings.topic_predictions, settings.topic_labels)),
        Grant("group", redrive_group(settings), (DESCRIBE,)),
    ]  # fmt: skip


def redrive_group(settings: Settings) -> str:
    """The consumer group ``driftline redrive`` names (a consumer must) and never joins."""
    return f"{settings.app_id}-redrive"


def alert_consumer_grants(settings: Settings, group: str) -> list[Grant]:
    """What an ``AlertConsumer`` in consumer group ``group`` needs."""
    if not group:
        raise ValueError("an alert consumer's grants need its consumer group")
    return [
        *(Grant("topic", topic, (READ, DESCRIBE))
          for topic in (settings.topic_alerts, settings.topic_retrain)),
        Grant("group", group, (READ, DESCRIBE)),
    ]  # fmt: skip


def kafka_acls_commands(principal: str, grants: Iterable[Grant]) -> list[str]:
    """``kafka-acls.sh`` command lines adding ``grants`` for ``principal`` (``User:NAME``);
    the operator adds ``--bootstrap-server`` and ``--command-config`` for their own login."""
    _checked(principal)
    lines = []
    for grant in grants:
        words = ["kafka-acls.sh", "--add", "--allow-principal", principal]
        for operation in grant.operations:
            words += ["--operation", operation]
        if grant.prefixed:
            words += ["--resource-pattern-type", "prefixed"]
        words += ["--cluster"] if grant.name is None else [f"--{grant.resource}", grant.name]
        lines.append(shlex.join(words))
    return lines


def acl_bindings(principal: str, grants: Iterable[Grant], host: str = "*") -> list[AclBinding]:
    """``grants`` for ``principal`` as the admin API's bindings (``AdminClient.create_acls``)."""
    _checked(principal)
    return [_binding(principal, grant, operation, host) for grant, operation in _each(grants)]


def _each(grants: Iterable[Grant]) -> Iterator[tuple[Grant, str]]:
    for grant in grants:
        for operation in grant.operations:
            yield grant, operation


def _binding(principal: str, grant: Grant, operation: str, host: str) -> AclBinding:
    return AclBinding(
        _RESOURCES[grant.resource],
        grant.name or "kafka-cluster",
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        principal,
        host,
        _operation(operation),
        AclPermissionType.ALLOW,
    )


def create_acls(
    kafka: KafkaConfig, principal: str, grants: Iterable[Grant], *, timeout_s: float = 30.0
) -> int:
    """Create ``grants`` for ``principal`` on the brokers ``kafka`` reaches (logged in as a
    principal allowed to alter ACLs); how many ACLs that is. Creating an ACL that exists
    changes nothing.

    Raises
    ------
    KafkaUnavailable
        No broker answered, or one refused an ACL (no authorizer, or no right to add it).
    """
    _checked(principal)
    wanted = {_binding(principal, grant, op, "*"): (grant, op) for grant, op in _each(grants)}
    admin = connect_admin(kafka, timeout_s=timeout_s)
    for binding, future in admin.create_acls(list(wanted), request_timeout=timeout_s).items():
        try:
            future.result()
        except KafkaException as exc:
            grant, operation = wanted[binding]
            raise KafkaUnavailable(
                f"Kafka refused the ACL {operation} on {grant.resource} {grant.name or ''!r} "
                f"for {principal}: {exc.args[0].str()}"
            ) from exc
    return len(wanted)


_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP,
              "cluster": ResourceType.BROKER}  # fmt: skip


def _operation(name: str) -> AclOperation:
    # "DescribeConfigs" -> DESCRIBE_CONFIGS
    return AclOperation["".join("_" + c if c.isupper() else c for c in name).lstrip("_").upper()]


def _checked(principal: str) -> str:
    kind, _, name = principal.partition(":")
    if not kind or not name or any(c.isspace() for c in principal):
        raise ValueError(f"a Kafka principal is TYPE:NAME, e.g. User:driftline: {principal!r}")
    return principal
