"""A rollout to watch: a model's v1 with a candidate version taking a share of the traffic.

Both versions see the same inputs; the candidate's scores can be shifted (a broken
release) and some requests scored by both (shadow traffic, one ``event_id``). Events come
at ``rate_per_s`` in event time, so canary windows fill predictably.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streams.core.alerts.alert import format_time

__all__ = ["rollout_events"]


def rollout_events(
    count: int,
    *,
    candidate_share: float = 0.1,
    score_shift: float = 0.0,
    shadow_share: float = 0.0,
    candidate_after: int = 0,
    rate_per_s: float = 100.0,
    start_ms: int = 1_780_000_000_000,
    model_id: str = "rollout",
    versions: tuple[str, str] = ("v1", "v2"),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``count`` prediction events (JSON-ready dicts, schemas/prediction_event.json) in
    stream order; a shadow-scored request adds the candidate's copy right after it. The
    candidate takes traffic from event ``candidate_after`` on."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 2))
    base = 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 1] - 1.0)))
    candidate = (rng.random(count) < candidate_share) & (np.arange(count) >= candidate_after)
    shadow = ~candidate & (rng.random(count) < shadow_share) & (np.arange(count) >= candidate_after)
    latency = rng.lognormal(np.log(20.0), 0.3, size=count)
    events = []
    for i in range(count):
        version = versions[1] if candidate[i] else versions[0]
        timestamp = start_ms + int(i * 1000 / rate_per_s)
        copies = [(version, base[i])]
        if shadow[i]:
            copies.append((versions[1], base[i]))
        for v, score in copies:
            shifted = float(np.clip(score + (score_shift if v == versions[1] else 0.0), 0, 1))
            events.append({
                "event_id": f"{model_id}-{i}", "model_id": model_id, "model_version": v,
                "timestamp": format_time(timestamp), "features": {"x1": float(x[i, 0]),
                "x2": float(x[i, 1])}, "prediction": shifted > 0.5, "score": shifted,
                "latency_ms": float(latency[i]),
            })  # fmt: skip
    return events
