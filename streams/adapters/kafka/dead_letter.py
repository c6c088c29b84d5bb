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

A record too large for the dead-letter topic (or the producer) is sent as a truncated copy:
the first bytes of its value, with its original length and SHA-256 in headers and
``driftline.dlq.truncated: too_large``, so it is still accounted for and can be matched with
the original. That happens before sending when the value is over the limit the worker knows
(``max_value_bytes``), and after a permanent size error from the broker (``rescue``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

import orjson

from streams.adapters.durable import Message
from streams.adapters.failures import failure_reason
from streams.core.contract.ingestor import Rejection
from streams.core.contract.pii import PiiPolicy, has_pii
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec

__all__ = ["DEAD_LETTER_SCHEMA_VERSION", "RESCUE_VALUE_BYTES", "DeadLetterRedactor",
           "dead_letter_headers", "dead_letter_message", "rescue", "truncated_copy"]  # fmt: skip

# The major version of the header table in schemas/README.md the records follow.
DEAD_LETTER_SCHEMA_VERSION = 1

logger = logging.getLogger(__name__)

_MAX_HEADER_TEXT = 1024
#: What a copy keeps of a value the broker refused as too large although the worker thought it
#: fit (the topic's limit was lowered since the worker started): small enough for any topic.
RESCUE_VALUE_BYTES = 64 * 1024
_LENGTH, _SHA256 = "driftline.dlq.original.length", "driftline.dlq.original.sha256"


def dead_letter_headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    """The headers for one rejected record."""
    record = rejection.record
    message = f"{rejection.field}: {rejection.detail}" if rejection.field else rejection.detail
    message = message[:_MAX_HEADER_TEXT]
    headers = [
        ("driftline.dlq.schema_version", str(DEAD_LETTER_SCHEMA_VERSION)),
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


def dead_letter_message(rejection: Rejection, *, max_value_bytes: int | None = None) -> Message:
    """The dead-letter record: the original key and bytes, with the headers.

    A value longer than ``max_value_bytes`` is cut to that (``truncated_copy``).
    """
    record = rejection.record
    logger.debug("dead-lettering %s[%d]@%d: %s", record.source, record.partition,
                 record.offset, rejection.reason)  # fmt: skip
    return _fit((record.key, record.value, dead_letter_headers(rejection)), rejection,
                max_value_bytes)  # fmt: skip


def _fit(message: Message, rejection: Rejection, max_value_bytes: int | None) -> Message:
    size = len(message[1] or b"")
    if max_value_bytes is None or size <= max_value_bytes:
        return message
    record = rejection.record
    logger.warning("dead-lettering %s[%d]@%d as a truncated copy: %d bytes, the limit is %d",
                   record.source, record.partition, record.offset, size,
                   max_value_bytes)  # fmt: skip
    return truncated_copy(message, max_value_bytes)


def truncated_copy(message: Message, max_value_bytes: int) -> Message:
    """``message`` with its value cut to ``max_value_bytes``, its original length and SHA-256
    in headers (those of the first cut, if it was cut already)."""
    key, value, headers = message
    value = value or b""
    headers = list(headers or [])
    if not any(name == _LENGTH for name, _ in headers):
        headers += [
            (_LENGTH, str(len(value)).encode()),
            (_SHA256, hashlib.sha256(value).hexdigest().encode()),
            ("driftline.dlq.truncated", b"too_large"),
        ]
    return key, value[:max_value_bytes], headers


def rescue(message: Message, exc: BaseException) -> Message | None:
    """The copy to send instead of a dead letter the broker refused for good: a truncated one
    if it was too large, none otherwise (``DurableWriter`` then logs and counts the loss)."""
    if failure_reason(exc) != "too_large":
        return None
    return truncated_copy(message, RESCUE_VALUE_BYTES)


class DeadLetterRedactor:
    """Dead letters with the PII of their model's spec redacted by ``pii``."""

    def __init__(self, registry: SpecRegistry, pii: PiiPolicy) -> None:
        self.registry = registry
        self.pii = pii

    def message(self, rejection: Rejection, *, max_value_bytes: int | None = None) -> Message:
        """Like ``dead_letter_message``, redacted where the record allows."""
        key, value, headers = dead_letter_message(rejection)
        headers = headers or []
        raw = _object(value)
        model_id, version = (raw or {}).get("model_id"), (raw or {}).get("model_version")
        spec = None
        if raw is not None and isinstance(model_id, str):
            spec = self.registry.spec_for(model_id, version if isinstance(version, str) else "")
        if raw is None or spec is None:
            unredacted = (key, value, [*headers, ("driftline.dlq.pii", b"unredacted")])
            return _fit(unredacted, rejection, max_value_bytes)
        if has_pii(spec):
            value = orjson.dumps(self.pii.redact_event(raw, spec))
            if _names_pii(rejection.field, spec):
                withheld = replace(rejection, detail="(value withheld: PII)")
                headers = dead_letter_headers(withheld)
        redacted = (key, value, [*headers, ("driftline.dlq.pii", b"redacted")])
        return _fit(redacted, rejection, max_value_bytes)


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
