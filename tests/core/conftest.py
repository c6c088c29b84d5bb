from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.core.contract.event import RawRecord

RECORD_TIME_MS = 1_795_400_000_000


def event_dict(**overrides: Any) -> dict[str, Any]:
    """A valid prediction event, with ``overrides`` applied (``None`` deletes a field)."""
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "model_id": "churn",
        "model_version": "v3",
        "timestamp": "2026-11-23T08:00:00.250Z",
        "features": {"age": 41, "income": 52_000.5, "plan": "gold", "active": True},
        "prediction": 1,
        "score": 0.83,
    }
    for key, value in overrides.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def record(value: bytes | dict | None, offset: int = 0) -> RawRecord:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return RawRecord(raw, RECORD_TIME_MS, "predictions", 0, offset)


@pytest.fixture
def make_record():
    return record
