"""Ground truth for a simulated stream: label events as ``schemas/label_event.json`` has them.

The simulated model is calibrated: event ``i``'s label is 1 with probability ``score[i]``,
drawn from a generator seeded by the stream's seed and ``i``, so the same event always gets
the same label. ``flip_rate`` flips that share of labels, a model gone wrong (concept
drift), for the performance and concept-drift detectors to catch.
"""

from __future__ import annotations

import numpy as np
import orjson

from streams.core.alerts.alert import format_time
from streams.simulation.config import StreamConfig
from streams.simulation.generator import EventChunk

__all__ = ["keyed_labels"]


def keyed_labels(
    config: StreamConfig, chunk: EventChunk, *, flip_rate: float = 0.0, delay_ms: int = 60_000
) -> list[tuple[bytes, bytes]]:
    """The labels of ``chunk``'s events as ``(key, value)`` records keyed by model id,
    each known ``delay_ms`` after its prediction."""
    if not 0 <= flip_rate <= 1:
        raise ValueError(f"flip_rate must be in [0, 1], got {flip_rate}")
    rng = np.random.default_rng((config.seed, chunk.start, 7))
    labels = rng.random(len(chunk)) < chunk.score
    labels ^= rng.random(len(chunk)) < flip_rate
    key = config.model_id.encode()
    return [
        (key, orjson.dumps({"event_id": f"{config.model_id}-{chunk.start + i}",
                            "model_id": config.model_id, "label": int(label),
                            "timestamp": format_time(int(at) + delay_ms)}))
        for i, (label, at) in enumerate(zip(labels.tolist(), chunk.timestamps_ms, strict=True))
    ]  # fmt: skip
