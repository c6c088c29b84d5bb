"""Records in, validated events out: the first step of every batch, under any runtime."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.contract.decoder import EventDecoder
from streams.core.contract.event import PredictionEvent, RawRecord
from streams.core.contract.registry import SpecRegistry
from streams.core.errors import InvalidEvent, Reason

__all__ = ["IngestResult", "Ingestor", "Rejection"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that will not be applied, and why.

    ``model_id`` is set only for models the registry knows, so it is safe as a metric label;
    ``model_version`` (the decoded event's) only with it. A version is not bounded by the
    registry: it feeds the canary's rejection rate (which counts only versions it has
    seen events of), never a metric label.
    """

    record: RawRecord
    reason: Reason
    detail: str
    error_class: str
    field: str | None = None
    model_id: str | None = None
    model_version: str | None = None

    @classmethod
    def of(cls, record: RawRecord, exc: InvalidEvent, model_id: str | None = None) -> Rejection:
        """The rejection of ``record`` for the rule ``exc`` names."""
        error_class = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return cls(record, exc.reason, exc.detail, error_class, exc.field, model_id)


@dataclass(slots=True)
class IngestResult:
    """What became of one batch: every record is in exactly one of the two lists.

    ``positions[i]`` is the ``(partition, offset)`` that ``accepted[i]`` was read from.
    """

    accepted: list[PredictionEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    positions: list[tuple[int, int]] = field(default_factory=list)

    def accepted_per_model(self) -> Counter[str]:
        return Counter(event.model_id for event in self.accepted)


class Ingestor:
    """Decode each record, check it against its model's spec, sort it into accepted/rejected.

    An unexpected exception on one record rejects that record as ``internal_error`` (logged
    with its position) instead of failing the batch: one bad record never stops the stream.
    """

    def __init__(self, decoder: EventDecoder, registry: SpecRegistry) -> None:
        self.decoder = decoder
        self.registry = registry

    def ingest(self, records: Iterable[RawRecord]) -> IngestResult:
        result = IngestResult()
        accept, reject = result.accepted.append, result.rejected.append
        place = result.positions.append
        decode, check = self.decoder.decode_with_shape, self.registry.check
        for record in records:
            event = None
            try:
                event, shape = decode(record)
                check(event, len(record.value or b""), shape)
            except InvalidEvent as exc:
                reject(self._rejection(record, event, exc.reason, exc.detail, exc, exc.field))
            except Exception as exc:
                logger.exception(
                    "unexpected error on %s[%d]@%d", record.source, record.partition, record.offset
                )
                reject(self._rejection(record, event, Reason.INTERNAL_ERROR, repr(exc), exc))
            else:
                accept(event)
                place((record.partition, record.offset))
        return result

    def _rejection(
        self,
        record: RawRecord,
        event: PredictionEvent | None,
        reason: Reason,
        detail: str,
        exc: Exception,
        field: str | None = None,
    ) -> Rejection:
        known = event is not None and self.registry.knows(event.model_id)
        model_id, version = (
            (event.model_id, event.model_version) if event and known else (None, None)
        )
        error_class = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return Rejection(record, reason, detail, error_class, field, model_id, version)
