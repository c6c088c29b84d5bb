"""A stream of one model's events over ten regions, with drift in one region only.

Regions ``r0`` .. ``r9``: ``r0`` takes 5% of the traffic, the others share the rest
(``r1`` most, ``r9`` least), and each region has its own mean of ``x0`` (so a segment's
reference is not the global one). Features ``x0`` .. ``x3`` are numeric, ``plan`` a
category; the score follows ``x0``. ``drift`` shifts ``x1`` by ``shift`` standard deviations
in ``r0`` alone from event ``drift_at`` on: 0.05 sigma of the whole stream, under every
global detector's threshold. Events are ``PredictionEvent`` objects (no decoding), so the
core can be driven at its own speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from streams.core.alerts.alert import format_time
from streams.core.contract.event import PredictionEvent
from streams.core.contract.spec import ModelSpec

__all__ = [
    "REGIONS",
    "SHARES",
    "segment_events",
    "segment_records",
    "segment_spec",
    "write_segment_jsonl",
]

REGIONS = tuple(f"r{i}" for i in range(10))
_WEIGHTS = np.array([0.0, 20, 17, 15, 13, 11, 9, 7, 5, 3])
SHARES = np.concatenate([[0.05], 0.95 * _WEIGHTS[1:] / _WEIGHTS[1:].sum()])
_PLANS = np.array(["basic", "gold", "silver"])
_START_MS = 1_795_400_000_000


def segment_spec(model_id: str = "regional", *, top_k: int = 20, pii: bool = False) -> ModelSpec:
    """The spec of ``segment_events``' model: segments by ``region``."""
    features: dict[str, Any] = {f"x{i}": {"type": "number"} for i in range(4)}
    features["plan"] = {"type": "string"}
    return ModelSpec.from_dict({
        "model_id": model_id, "features": features, "segments": ["region"],
        "segments_top_k": top_k, "attributes": {"region": {"pii": pii}},
    })  # fmt: skip


def segment_events(
    count: int,
    *,
    model_id: str = "regional",
    seed: int = 5,
    drift_at: int | None = None,
    shift: float = 1.0,
    region: int = 0,
    chunk: int = 5000,
) -> Iterator[list[PredictionEvent]]:
    """``count`` events in lists of ``chunk``; with ``drift_at``, ``x1`` of ``region``
    (``r0`` by default) shifted by ``shift`` from that event on."""
    rng = np.random.default_rng(seed)
    for lo in range(0, count, chunk):
        n = min(chunk, count - lo)
        where = rng.choice(len(REGIONS), size=n, p=SHARES)
        x = rng.normal(0.0, 1.0, (n, 4))
        x[:, 0] += 0.2 * where
        if drift_at is not None:
            index = np.arange(lo, lo + n)
            x[:, 1] += shift * ((where == region) & (index >= drift_at))
        plan = _PLANS[rng.integers(0, 3, n)]
        score = 1 / (1 + np.exp(-x[:, 0]))
        yield [
            PredictionEvent(
                event_id=f"{model_id}-{lo + i}",
                model_id=model_id,
                model_version="v1",
                timestamp_ms=_START_MS + lo + i,
                features={"x0": a, "x1": b, "x2": c, "x3": d, "plan": p},
                prediction=int(s > 0.5),
                score=s,
                attributes={"region": REGIONS[r]},
            )
            for i, (a, b, c, d, p, s, r) in enumerate(
                zip(*x.T.tolist(), plan.tolist(), score.tolist(), where.tolist(), strict=True)
            )
        ]


def segment_records(count: int, **options: Any) -> list[bytes]:
    """``segment_events(count, **options)`` as JSON prediction events."""
    return [orjson.dumps(_plain(e)) for events in segment_events(count, **options) for e in events]


def write_segment_jsonl(path: Path, count: int, **options: Any) -> None:
    """``segment_records(count, **options)``, one JSON line each."""
    path.write_bytes(b"".join(line + b"\n" for line in segment_records(count, **options)))


def _plain(event: PredictionEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id, "model_id": event.model_id,
        "model_version": event.model_version, "timestamp": format_time(event.timestamp_ms),
        "features": event.features, "prediction": event.prediction, "score": event.score,
        "attributes": event.attributes,
    }  # fmt: skip
