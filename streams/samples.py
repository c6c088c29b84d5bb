"""Sample prediction events for the demo and the integration tests: good ones, and a catalogue
of bad records, each with the reason the worker must give for it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from streams.core.errors import Reason

__all__ = ["BAD_RECORDS", "BadRecord", "sample_events"]

_PLANS = ("basic", "plus", "gold")
_START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def sample_events(model_id: str, count: int, *, seed: int = 7) -> Iterator[bytes]:
    """``count`` valid, encoded prediction events of a churn-like classifier."""
    rng = random.Random(seed)
    for i in range(count):
        age = round(rng.gauss(42, 12), 1)
        score = round(rng.random(), 4)
        yield orjson.dumps(
            {
                "event_id": f"{model_id}-{seed}-{i}",
                "model_id": model_id,
                "model_version": "v1",
                "timestamp": (_START + timedelta(milliseconds=250 * i)).isoformat(),
                "features": {
                    "age": age,
                    "tenure_months": rng.randint(0, 120),
                    "monthly_spend": round(rng.lognormvariate(3.5, 0.6), 2),
                    "plan": rng.choice(_PLANS),
                    "has_support_ticket": rng.random() < 0.2,
                },
                "prediction": int(score > 0.5),
                "score": score,
                "latency_ms": round(rng.uniform(2, 20), 2),
                "attributes": {"region": rng.choice(("eu", "us", "apac"))},
            }
        )


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record no worker may accept, and why."""

    name: str
    value: bytes
    reason: Reason


def _event(**overrides: object) -> dict:
    event = orjson.loads(next(sample_events("bad-input", 1)))
    event.update(overrides)
    return event


def _without(field: str) -> bytes:
    event = _event()
    del event[field]
    return orjson.dumps(event)


BAD_RECORDS: tuple[BadRecord, ...] = (
    BadRecord("not JSON", b"this is not json", Reason.NOT_JSON),
    BadRecord("empty value", b"", Reason.EMPTY),
    BadRecord("JSON array, not an object", b'[{"event_id": "a"}]', Reason.NOT_AN_OBJECT),
    BadRecord("missing event_id", _without("event_id"), Reason.MISSING_FIELD),
    BadRecord("missing features", _without("features"), Reason.MISSING_FIELD),
    BadRecord("score as text '12,5'", orjson.dumps(_event(score="12,5")), Reason.WRONG_TYPE),
    BadRecord(
        "NaN literal",
        orjson.dumps(_event()).replace(b'"score":', b'"score":NaN,"x":', 1),
        Reason.NON_FINITE_NUMBER,
    ),
    BadRecord(
        "Infinity literal",
        orjson.dumps(_event()).replace(b'"score":', b'"score":Infinity,"x":', 1),
        Reason.NON_FINITE_NUMBER,
    ),
    BadRecord(
        "1e999 overflows to infinity",
        orjson.dumps(_event()).replace(b'"score":', b'"score":1e999,"x":', 1),
        Reason.NON_FINITE_NUMBER,
    ),
    BadRecord(
        "nested object as a feature value",
        orjson.dumps(_event(features={"age": {"years": 41}})),
        Reason.WRONG_TYPE,
    ),
    BadRecord(
        "invalid UTF-8",
        orjson.dumps(_event()).replace(b'"v1"', b'"v\xff\xfe1"', 1),
        Reason.INVALID_UTF8,
    ),
    BadRecord(
        "5,000 features",
        orjson.dumps(_event(features={f"f{i}": i for i in range(5000)})),
        Reason.TOO_MANY_FEATURES,
    ),
    BadRecord(
        "2 MB message",
        orjson.dumps(_event(trace_id="x" * 2_000_000)),
        Reason.TOO_LARGE,
    ),
    BadRecord(
        "model id ../../etc/passwd",
        orjson.dumps(_event(model_id="../../etc/passwd")),
        Reason.INVALID_VALUE,
    ),
)
