"""``AlertConsumer``: act on Driftline's alerts and retraining requests, each once.

Commit order, per record: the caller's loop body (its handler) runs on the yielded value;
when the loop asks for the next one, that record's offset + 1 is committed synchronously,
then the next record is read. So an alert is committed only after its handler returned; if
the handler raises (or the loop ``break``s), the record in hand is not committed and comes
again to the group's next consumer. Records are at least once, so each topic's ids
(``alert_id``, ``request_id``) pass through a bounded LRU (``SeenIds``): a re-sent one is
skipped, counted in ``duplicates`` and committed.

A read error is logged and reading goes on, except Kafka's refusal of the topic or the group
(a missing ACL): that raises ``AccessRefused``, naming the grant, where polling on would log
a warning twice a second for ever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException

from streams.client.event_logger import client_settings
from streams.client.received_alert import ReceivedAlert
from streams.client.retrain_request import ReceivedRetrainRequest
from streams.client.seen_ids import SeenIds
from streams.core.errors import AccessRefused
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = ["AlertConsumer"]

log = logging.getLogger("driftline.client")

_T = TypeVar("_T")


class AlertConsumer:
    """Iterate typed alerts (and retraining requests), de-duplicated, committed after use.

    Parameters
    ----------
    group_id
        The consumer group: consumers sharing it share the work, and it keeps their place.
    settings, kafka
        As for ``PredictionLogger``: topic names and the connection (SASL/TLS included).
    topic, retrain_topic
        ``settings.topic_alerts`` and ``settings.topic_retrain`` unless given.
    start
        Where a group with no committed offset begins: ``"earliest"`` (every alert still
        retained) or ``"latest"`` (only alerts published from now on).
    remember
        How many ids per topic the de-duplication keeps.
    consumer_options
        More librdkafka settings, applied last.

    Examples
    --------
    >>> with AlertConsumer("pager") as alerts:  # doctest: +SKIP
    ...     for alert in alerts:
    ...         page(alert)  # committed when the loop comes back for the next one
    """

    def __init__(
        self,
        group_id: str,
        *,
        settings: Settings | None = None,
        kafka: KafkaConfig | None = None,
        topic: str | None = None,
        retrain_topic: str | None = None,
        start: Literal["earliest", "latest"] = "earliest",
        remember: int = 10_000,
        consumer_options: dict[str, Any] | None = None,
    ) -> None:
        if start not in ("earliest", "latest"):
            raise ValueError(f"start must be 'earliest' or 'latest', not {start!r}")
        settings = client_settings(settings, kafka)
        self.topic = topic or settings.topic_alerts
        self.retrain_topic = retrain_topic or settings.topic_retrain
        self._config = (kafka or settings.kafka).confluent(
            {
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": start,
                "log_level": 0,
                **(consumer_options or {}),
            }
        )
        self._remember = remember
        self._seen: dict[str, SeenIds] = {}
        self._consumers: list[Consumer] = []
        self.duplicates = 0
        self.skipped = 0

    def __iter__(self) -> Iterator[ReceivedAlert]:
        return self.alerts()

    def alerts(
        self, *, idle_timeout_s: float | None = None, max_items: int | None = None
    ) -> Iterator[ReceivedAlert]:
        """Alerts as they come; ends after ``idle_timeout_s`` without a record or after
        ``max_items`` alerts, else runs until closed.

        Raises
        ------
        AccessRefused
            Kafka refuses the principal Read on the topic or the group.
        """
        return self._iterate(self.topic, ReceivedAlert.from_json, lambda a: a.alert_id,
                             idle_timeout_s, max_items)  # fmt: skip

    def retrain_requests(
        self, *, idle_timeout_s: float | None = None, max_items: int | None = None
    ) -> Iterator[ReceivedRetrainRequest]:
        """Retraining requests, as ``alerts()`` (de-duplicated by ``request_id``)."""
        return self._iterate(self.retrain_topic, ReceivedRetrainRequest.from_json,
                             lambda r: r.request_id, idle_timeout_s, max_items)  # fmt: skip

    def close(self) -> None:
        """Leave the group (committed offsets stay)."""
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.close()

    def __enter__(self) -> AlertConsumer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _iterate(
        self,
        topic: str,
        parse: Callable[[bytes | None], _T],
        identity: Callable[[_T], str],
        idle_timeout_s: float | None,
        max_items: int | None,
    ) -> Iterator[_T]:
        consumer = Consumer(self._config)
        self._consumers.append(consumer)
        consumer.subscribe([topic])
        try:
            yield from self._read(consumer, topic, parse, identity, idle_timeout_s, max_items)
        finally:
            # An iterator that ended leaves the group at once: a member that no longer polls
            # would hold up the group's next rebalance until its poll interval ran out.
            if consumer in self._consumers:  # else close() has closed it already
                self._consumers.remove(consumer)
                consumer.close()

    def _read(
        self,
        consumer: Consumer,
        topic: str,
        parse: Callable[[bytes | None], _T],
        identity: Callable[[_T], str],
        idle_timeout_s: float | None,
        max_items: int | None,
    ) -> Iterator[_T]:
        seen = self._seen.setdefault(topic, SeenIds(capacity=self._remember))
        given, last_record = 0, time.monotonic()
        while max_items is None or given < max_items:
            message = consumer.poll(0.5)
            if message is None:
                if idle_timeout_s is not None and time.monotonic() - last_record > idle_timeout_s:
                    return
                continue
            error = message.error()
            if error:
                _raise_if_refused(error, topic, self._config["group.id"])
                log.warning("reading %s: %s", topic, error.str())
                continue
            last_record = time.monotonic()
            try:
                item = parse(message.value())
            except ValueError as exc:
                self.skipped += 1
                log.warning("skipped %s[%d]@%d: %s", topic, message.partition(),
                            message.offset(), exc)  # fmt: skip
            else:
                if seen.check_and_add(identity(item)):
                    self.duplicates += 1
                else:
                    given += 1
                    yield item  # the caller's handler runs here; a raise skips the commit
            _commit(consumer, message)


#: Refusals only an operator's grant mends: reading on would wait for ever.
_REFUSED = {KafkaError.TOPIC_AUTHORIZATION_FAILED: "Read on topic {topic!r}",
            KafkaError.GROUP_AUTHORIZATION_FAILED: "Read on consumer group {group!r}"}  # fmt: skip


def _raise_if_refused(error: KafkaError, topic: str, group: str) -> None:
    grant = _REFUSED.get(error.code())
    if grant is not None:
        raise AccessRefused(
            f"Kafka refuses this AlertConsumer ({error.str()}): grant its principal "
            f"{grant.format(topic=topic, group=group)} (`driftline kafka-acl --role "
            f"alert-consumer --group {group} --principal User:NAME` prints what it needs)"
        )


def _commit(consumer: Consumer, message: Any) -> None:
    try:
        consumer.commit(message=message, asynchronous=False)
    except KafkaException as exc:
        # A rebalance took the partition away: its next owner gets the record again, and
        # that is what at-least-once means; the ids let handlers recognise it.
        log.warning("commit of %s[%d]@%d failed: %s", message.topic(), message.partition(),
                    message.offset(), exc)  # fmt: skip
