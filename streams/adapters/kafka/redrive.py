"""Dead letters sent again to the topic they came from, once their cause is mended.

A record is dead-lettered for what the worker cannot mend by itself: a model past the cap,
a feature its spec does not know, a value out of range, a producer's encoding. Once the
cause is mended (the cap raised, the spec stored, the producer fixed), ``redrive`` publishes
the chosen dead letters again to their original topic, key and value as they came, with a
header naming the dead letter they were (``driftline.redriven.from``: ``topic/partition/
offset``). The worker then takes them as any record: applied, or dead-lettered again (a new
dead letter) if still bad.

Each dead letter is sent again at most once, whatever each run chooses: Redis holds a bit
per dead-letter offset (``RedriveMarks``), set once the broker has the copy, and a run
passes over the marked ones. A run that dies between the two sends that chunk again on its
next run; the worker's duplicate filter skips those events within ``DRIFTLINE_DEDUP_TTL_S``.

Never sent: truncated copies (their value is the record's first bytes only) and redacted
ones (``DRIFTLINE_DLQ_REDACT_PII``: their PII is hashed already, and would be hashed again).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from confluent_kafka import Consumer, KafkaError, Message, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from streams.adapters.kafka.admin import connect_admin
from streams.adapters.kafka.records import Outgoing, ReadRecord, publish, read_record
from streams.adapters.kafka.routing import model_key
from streams.adapters.redis.redrive_marks import RedriveMarks
from streams.core.errors import DriftlineError, PublishFailed
from streams.kafka_config import KafkaConfig

__all__ = ["DeadLetter", "RedriveFailed", "RedriveReport", "Selection", "redrive"]

REDRIVEN_FROM = "driftline.redriven.from"
_TIMEOUT_S = 15.0
_CHUNK = 500


class RedriveFailed(DriftlineError):
    """A run could not go on (no such topic, a read or a copy refused); what it sent and
    marked before stays so, and a chunk sent but not marked is sent again next run."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as read, and what its headers say of it (``schemas/README.md``)."""

    record: ReadRecord
    topic: str | None  # where it was read from; None: not a Driftline dead letter
    reason: str
    model_id: str | None
    whole: bool  # False: a truncated copy, or its PII redacted

    @classmethod
    def of(cls, record: ReadRecord) -> DeadLetter:
        headers = {name: value.decode(errors="replace") for name, value in record.headers.items()}
        # The model header is there only for models the worker knew: an unknown model's dead
        # letters (the ones most often sent again) name theirs only in the record.
        model_id = headers.get("driftline.dlq.model_id") or model_key(record.value).decode()
        return cls(
            record=record,
            topic=headers.get("driftline.dlq.original.topic"),
            reason=headers.get("driftline.dlq.reason", ""),
            model_id=model_id or None,
            whole="driftline.dlq.truncated" not in headers
            and headers.get("driftline.dlq.pii") != "redacted",
        )


@dataclass(frozen=True)
class Selection:
    """The dead letters to send again: of these reasons and models (None: any)."""

    reasons: frozenset[str] | None = None
    models: frozenset[str] | None = None

    def passes_over(self, letter: DeadLetter) -> str | None:
        """Why ``letter`` is not sent (a report line's name), or None."""
        if letter.topic is None:
            return "not a Driftline dead letter"
        if not letter.whole:
            return "truncated or redacted (cannot be sent again)"
        if self.reasons is not None and letter.reason not in self.reasons:
            return "other reasons"
        if self.models is not None and letter.model_id not in self.models:
            return "other models"
        return None


@dataclass
class RedriveReport:
    """What a run sent, by reason and destination, and what it passed over, by why."""

    sent: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, reason)
    passed_over: Counter[str] = field(default_factory=Counter)

    def lines(self, *, dry_run: bool) -> list[str]:
        verb = "would send" if dry_run else "sent"
        total = sum(self.sent.values())
        lines = [f"{verb} {total:,} dead letter{'' if total == 1 else 's'} again"]
        lines += [f"  {n:,} to {topic} ({reason})" for (topic, reason), n in
                  sorted(self.sent.items())]  # fmt: skip
        lines += [f"passed over {n:,}: {why}" for why, n in sorted(self.passed_over.items())]
        return lines


async def redrive(
    kafka: KafkaConfig,
    group: str,
    client: aioredis.Redis,
    prefix: str,
    dead_letter_topic: str,
    selection: Selection,
    *,
    dry_run: bool = False,
) -> RedriveReport:
    """Send the dead letters of ``dead_letter_topic`` that ``selection`` takes and no earlier
    run sent to their original topics, and mark each in Redis (under ``prefix``) once the
    broker has it. Reads up to the topic's end as it was at the start (what this run has
    dead-lettered again comes after). Raises ``RedriveFailed`` if a copy is refused: the
    chunks before it stay sent and marked.

    Kafka's calls block: this runs alone on its event loop (``driftline redrive``).
    """
    report = RedriveReport()
    # Brokers that do not answer end the run here in one line (KafkaUnavailable); librdkafka's
    # own log stays off, its errors come back as exceptions and record errors.
    admin = connect_admin(kafka, timeout_s=_TIMEOUT_S)
    partitions, incarnation = _described(admin, dead_letter_topic)
    consumer = Consumer(kafka.confluent({  # a consumer must name a group: never joined
        "group.id": group, "enable.auto.commit": False, "log_level": 0}))  # fmt: skip
    try:
        ranges = _ranges(consumer, dead_letter_topic, partitions)
        marks = RedriveMarks(client, prefix=prefix, topic=dead_letter_topic, **incarnation)
        await marks.load(ranges)
        for chunk in _read(consumer, dead_letter_topic, ranges):
            chosen = _choose(chunk, selection, marks, report)
            if not dry_run and chosen:
                _send(kafka, dead_letter_topic, chosen)
                await marks.mark((letter.record.partition, letter.record.offset)
                                 for letter in chosen)  # fmt: skip
    finally:
        consumer.close()
    return report


def _choose(chunk: Sequence[DeadLetter], selection: Selection, marks: RedriveMarks,
            report: RedriveReport) -> list[DeadLetter]:  # fmt: skip
    chosen = []
    for letter in chunk:
        why = selection.passes_over(letter)
        if why is None and marks.has(letter.record.partition, letter.record.offset):
            why = "sent by an earlier run"
        if why is None:
            chosen.append(letter)
            report.sent[(letter.topic or "", letter.reason)] += 1
        else:
            report.passed_over[why] += 1
    return chosen


def _described(admin: AdminClient, topic: str) -> tuple[list[int], dict[str, Any]]:
    """The topic's partitions, and its id and ``retention.ms`` for its marks."""
    found = admin.list_topics(timeout=_TIMEOUT_S).topics.get(topic)
    if found is None or found.error is not None:
        raise RedriveFailed(f"no dead-letter topic {topic!r} on the brokers")
    (described,) = admin.describe_topics(TopicCollection([topic])).values()
    (configs,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    retention = configs.result(timeout=_TIMEOUT_S).get("retention.ms")
    return list(found.partitions), {
        "topic_id": str(described.result(timeout=_TIMEOUT_S).topic_id),
        "retention_ms": int(retention.value) if retention and retention.value else None,
    }


def _read(consumer: Consumer, topic: str,
          ranges: dict[int, tuple[int, int]]) -> Iterator[list[DeadLetter]]:  # fmt: skip
    """Every record of ``topic`` in ``ranges`` (``[low, high)`` per partition), in chunks.
    Assigned, never subscribed: no group is joined and nothing committed (the marks say
    what was sent)."""
    consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ranges.items()])
    pending = {p: high for p, (low, high) in ranges.items() if high > low}
    idle_since = time.monotonic()
    while pending:
        records = [read_record(m) for m in consumer.consume(_CHUNK, timeout=1.0) if _record(m)]
        chunk = [DeadLetter.of(r) for r in records if r.offset < ranges[r.partition][1]]
        if chunk:
            idle_since = time.monotonic()
            yield chunk
        elif time.monotonic() - idle_since > _TIMEOUT_S:
            raise RedriveFailed(f"reading {topic} made no progress for {_TIMEOUT_S:.0f} s")
        for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
            if (
                tp.partition is not None
                and tp.offset is not None
                and tp.offset >= pending[tp.partition]
            ):
                del pending[tp.partition]


def _ranges(consumer: Consumer, topic: str,
            partitions: list[int]) -> dict[int, tuple[int, int]]:  # fmt: skip
    """Each partition's first and next offsets now."""
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=_TIMEOUT_S)
            for p in partitions}  # fmt: skip


def _record(message: Message) -> bool:
    error = message.error()
    if error is None:
        return True
    if error.code() == KafkaError._PARTITION_EOF:
        return False
    raise RedriveFailed(f"reading the dead letters failed: {error}{_grant_hint(str(error))}")


def _grant_hint(error: str) -> str:
    if "AUTHORIZATION" in error.upper() or "not authorized" in error:
        return " (grant what `driftline kafka-acl --role redrive` prints)"
    return ""


def _send(kafka: KafkaConfig, dead_letter_topic: str, chosen: Sequence[DeadLetter]) -> None:
    """Publish ``chosen`` to their original topics; return once the broker has each."""
    by_topic: defaultdict[str, list[Outgoing]] = defaultdict(list)
    for letter in chosen:
        record = letter.record
        origin = f"{dead_letter_topic}/{record.partition}/{record.offset}".encode()
        by_topic[letter.topic or ""].append((record.key, record.value, [(REDRIVEN_FROM, origin)]))
    for topic, records in by_topic.items():
        try:
            publish(kafka, topic, records)
        except PublishFailed as exc:
            raise RedriveFailed(f"{exc}{_grant_hint(str(exc))}") from exc
