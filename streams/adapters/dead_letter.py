"""Dead-letter records: the original bytes, and headers saying where they came from and why.

Headers follow both Driftline's own names and Kafka Connect's ``__connect.errors.*`` names, so
tools built for either understand them (see ``schemas/README.md``).

By default a dead letter is the original record, PII included: it is there to be inspected
and replayed, so the DLQ topic needs ACLs as strict as the predictions topic's. With
``DRIFTLINE_DLQ_REDACT_PII=true`` (``DeadLetterRedactor``) a record that parses as a JSON
object naming a model with a spec is re-encoded with that spec's PII features and
attributes hashed (or removed), and the error message no longer quotes a PII value. A record
that does not parse (not JSON, not UTF-8, not an object) or names no known model cannot be
redacted and goes as it came; header ``driftline.dlq.pii`` says ``redacted`` or
``unredacted``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import orjson

from streams.core.ingestor import Rejection
from streams.core.pii import PiiPolicy, has_pii
from streams.core.registry import SpecRegistry
from streams.core.spec import ModelSpec

__all__ = ["DeadLetterRedactor", "dead_letter_headers", "dead_letter_message"]

logger = logging.getLogger(__name__)

_MAX_HEADER_TEXT = 1024


def dead_letter_headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    """The headers for one rejected record."""
    record = rejection.record
    message = f"{rejection.field}: {rejection.detail}" if rejection.field else rejection.detail
    message = message[:_MAX_HEADER_TEXT]
    headers = [
        ("driftline.dlq.original.topic", record.source),
        ("driftline.dlq.original.partition", str(record.partition)),
        ("driftline.dlq.original.offset", str(record.offset)),
        ("driftline.dlq.original.timestamp", str(record.timestamp_ms)),
        ("driftline.dlq.exception.class", rejection.error_class),
        ("driftline.dlq.reason", rejection.reason.value),
        ("driftline.dlq.exception.message", message),
        ("__connect.errors.topic", record.source),
        ("__connect.errors.partition", str(record.partition)),
        ("__connect.errors.offset", str(record.offset)),
        ("__connect.errors.exception.class.name", rejection.error_class),
        ("__connect.errors.exception.message", message),
    ]
    if rejection.field:
        headers.append(("driftline.dlq.field", rejection.field))
    if rejection.model_id:
        headers.append(("driftline.dlq.model_id", rejection.model_id))
    return [(name, value.encode()) for name, value in headers]


def dead_letter_message(
    rejection: Rejection,
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """The dead-letter record: the original key and bytes, with the headers."""
    record = rejection.record
    logger.debug("dead-lettering %s[%d]@%d: %s", record.source, record.partition,
                 record.offset, rejection.reason)  # fmt: skip
    return record.key, record.value, dead_letter_headers(rejection)


class DeadLetterRedactor:
    """Dead letters with the PII of their model's spec redacted by ``pii``."""

    def __init__(self, registry: SpecRegistry, pii: PiiPolicy) -> None:
        self.registry = registry
        self.pii = pii

    def message(
        self, rejection: Rejection
    ) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """Like ``dead_letter_message``, redacted where the record allows."""
        key, value, headers = dead_letter_message(rejection)
        raw = _object(value)
        model_id, version = (raw or {}).get("model_id"), (raw or {}).get("model_version")
        spec = None
        if raw is not None and isinstance(model_id, str):
            spec = self.registry.spec_for(model_id, version if isinstance(version, str) else "")
        if raw is None or spec is None:
            return key, value, [*headers, ("driftline.dlq.pii", b"unredacted")]
        if has_pii(spec):
            value = orjson.dumps(self.pii.redact_event(raw, spec))
            if _names_pii(rejection.field, spec):
                withheld = replace(rejection, detail="(value withheld: PII)")
                headers = dead_letter_headers(withheld)
        return key, value, [*headers, ("driftline.dlq.pii", b"redacted")]


def _object(value: bytes | None) -> dict | None:
    try:
        raw = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None
    return raw if isinstance(raw, dict) else None


def _names_pii(field: str | None, spec: ModelSpec) -> bool:
    kind, _, name = (field or "").partition(".")
    feature = spec.features.get(name) if kind == "features" else None
    return (feature is not None and feature.pii) or (
        kind == "attributes" and name in spec.pii_attributes
    )
