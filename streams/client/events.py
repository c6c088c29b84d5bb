"""The records the loggers send, built as ``schemas/prediction_event.json`` and
``schemas/label_event.json`` say, and checked by the worker's own decoders.

Optional fields the caller left out are left out of the record too: the schemas refuse an
explicit ``null`` for ``score``, ``latency_ms`` and ``attributes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from streams.client.timestamps import rfc3339
from streams.core.contract.decoder import EventDecoder, LabelDecoder
from streams.core.contract.event import RawRecord

__all__ = ["check", "encode", "label_event", "prediction_event", "timestamp_text"]

# numpy scalars (a scikit-learn model's predictions and scores) serialize as plain numbers.
_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def prediction_event(
    *,
    event_id: str,
    timestamp: datetime | str,
    model_id: str,
    model_version: str,
    features: Mapping[str, Any],
    prediction: Any,
    score: float | None = None,
    latency_ms: float | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A prediction event as a JSON-ready dict."""
    event = {
        "event_id": event_id,
        "model_id": model_id,
        "model_version": model_version,
        "timestamp": timestamp_text(timestamp),
        "features": features,
        "prediction": prediction,
    }
    if score is not None:
        event["score"] = score
    if latency_ms is not None:
        event["latency_ms"] = latency_ms
    if attributes is not None:
        event["attributes"] = attributes
    return event


def label_event(
    *, event_id: str, model_id: str, label: Any, timestamp: datetime | str
) -> dict[str, Any]:
    """A label event as a JSON-ready dict."""
    return {"event_id": event_id, "model_id": model_id, "label": label,
            "timestamp": timestamp_text(timestamp)}  # fmt: skip


def timestamp_text(timestamp: datetime | str) -> str:
    """A caller's timestamp as RFC 3339: an aware ``datetime`` is converted to UTC, a string
    is taken as given (the decoder checks it)."""
    return timestamp if isinstance(timestamp, str) else rfc3339(timestamp)


def encode(event: Mapping[str, Any]) -> bytes:
    """The record's bytes (UTF-8 JSON)."""
    return orjson.dumps(event, option=_DUMPS_OPTIONS)


def check(value: bytes, decoder: EventDecoder | LabelDecoder) -> None:
    """Raise ``InvalidEvent`` if the worker would dead-letter ``value``: the same code decides."""
    decoder.decode(RawRecord(value=value, timestamp_ms=0, source="client", partition=0, offset=0))
