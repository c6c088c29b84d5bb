"""Dead-letter records: the original bytes, and headers saying where they came from and why.

Headers follow both Driftline's own names and Kafka Connect's ``__connect.errors.*`` names, so
tools built for either understand them (see ``schemas/README.md``).
"""

from __future__ import annotations

import logging

from streams.core.ingestor import Rejection

__all__ = ["DEAD_LETTER_SCHEMA_VERSION", "dead_letter_headers", "dead_letter_message"]

# The major version of the header table in schemas/README.md the records follow.
DEAD_LETTER_SCHEMA_VERSION = 1

logger = logging.getLogger(__name__)

_MAX_HEADER_TEXT = 1024


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


def dead_letter_message(
    rejection: Rejection,
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """The dead-letter record: the original key and bytes, with the headers."""
    record = rejection.record
    logger.debug("dead-lettering %s[%d]@%d: %s", record.source, record.partition,
                 record.offset, rejection.reason)  # fmt: skip
    return record.key, record.value, dead_letter_headers(rejection)
