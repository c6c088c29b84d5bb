"""Reading the JSON records Driftline publishes: an object, of a major version we know."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["SCHEMA_MAJOR", "json_object", "schema_major"]

#: The major version of schemas/alert.json and schemas/retrain_request.json this client reads.
SCHEMA_MAJOR = 1


def json_object(value: bytes | None) -> dict[str, Any]:
    """``value`` parsed as a JSON object, else ``ValueError``."""
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def schema_major(document: dict[str, Any]) -> int:
    """The record's ``schema_version``, if this client reads it, else ``ValueError``."""
    version = document.get("schema_version")
    if version != SCHEMA_MAJOR:
        raise ValueError(f"schema_version {version!r}; this client reads {SCHEMA_MAJOR}")
    return version
