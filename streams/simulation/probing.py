"""Traffic of many clients, with one client probing the model (adversarial tests and benchmarks).

Normal clients (volumes Zipf-like, so a few are heavy) send independent inputs: five
standard-normal features, scored by a fixed logistic model. The prober, from event
``attack_start`` on, sends ``attack_share`` of the events: one base input with a single
feature walked in small steps across the decision boundary (score 0.5), so its events are
near-duplicates, and many of their scores sit close to the threshold: the pattern of a
client searching for the input that flips the decision.

Examples
--------
>>> config = ProbingConfig(seed=1, attack_share=0.5, attack_start=0)
>>> events = probing_events(config, 0, 1000)
>>> sum(e.attributes["client_id"] == PROBER for e in events) > 400
True
>>> probing_events(config, 500, 1500)[:2] == events[500:502]
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.core.alerts.alert import format_time
from streams.core.contract.event import PredictionEvent

__all__ = ["FEATURES", "PROBER", "ProbingConfig", "probing_events", "to_json"]

FEATURES = ("f0", "f1", "f2", "f3", "f4")
PROBER = "client-prober"
_WEIGHTS = np.array([1.2, -0.8, 0.5, 0.9, -0.4])
_START_MS = 1_767_225_600_000  # 2026-01-01
_BLOCK = 1000  # events drawn together: any slice of the stream gives the same events


@dataclass(frozen=True, slots=True)
class ProbingConfig:
    """A stream of ``clients`` normal clients and, when ``attack_share`` > 0, one prober."""

    seed: int = 0
    model_id: str = "probed"
    model_version: str = "v1"
    clients: int = 1000
    attack_share: float = 0.0
    attack_start: int = 0
    walked: int = 0
    step_ms: int = 10


def probing_events(config: ProbingConfig, start: int, stop: int) -> list[PredictionEvent]:
    """Events ``start`` to ``stop`` of the stream (the same indices give the same events)."""
    first, last = start // _BLOCK, (stop - 1) // _BLOCK + 1
    blocks = [_block(config, b) for b in range(first, last)]
    cut = slice(start - first * _BLOCK, stop - first * _BLOCK)
    features, clients, draws = (np.concatenate(parts)[cut] for parts in zip(*blocks, strict=True))
    index = np.arange(start, stop)
    probing = (index >= config.attack_start) & (draws < config.attack_share)
    features[probing] = _probes(config, index[probing])
    score = 1 / (1 + np.exp(-(features @ _WEIGHTS)))
    return [
        PredictionEvent(
            event_id=f"{config.model_id}-{i}",
            model_id=config.model_id,
            model_version=config.model_version,
            timestamp_ms=_START_MS + i * config.step_ms,
            features=dict(zip(FEATURES, row, strict=True)),
            prediction=int(s >= 0.5),
            score=s,
            attributes={"client_id": PROBER if probe else f"client-{c}"},
        )
        for i, row, s, c, probe in zip(
            index.tolist(),
            features.tolist(),
            score.tolist(),
            clients.tolist(),
            probing.tolist(),
            strict=True,
        )
    ]


def _block(config: ProbingConfig, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block ``block`` of the stream's random draws: features, clients, attack draws."""
    rng = np.random.default_rng([config.seed, block])
    features = rng.standard_normal((_BLOCK, len(FEATURES)))
    weights = 1 / np.arange(1, config.clients + 1) ** 0.6
    clients = rng.choice(config.clients, size=_BLOCK, p=weights / weights.sum())
    return features, clients, rng.random(_BLOCK)


def _probes(config: ProbingConfig, index: np.ndarray) -> np.ndarray:
    """The prober's inputs: a fixed base, feature ``walked`` swept across the boundary."""
    base = np.random.default_rng([config.seed, 7]).standard_normal(len(FEATURES))
    others = base @ _WEIGHTS - base[config.walked] * _WEIGHTS[config.walked]
    crossing = -others / _WEIGHTS[config.walked]  # the walked value that scores 0.5
    # A slow sweep of +-0.4 around the crossing, restarting every 40 probes.
    offsets = ((index * 7919) % 40) / 40 * 0.8 - 0.4
    rows = np.tile(base, (len(index), 1))
    rows[:, config.walked] = crossing + offsets
    return rows


def to_json(event: PredictionEvent) -> dict[str, Any]:
    """The JSON form of a prediction event (``schemas/prediction_event.json``)."""
    return {
        "event_id": event.event_id,
        "model_id": event.model_id,
        "model_version": event.model_version,
        "timestamp": format_time(event.timestamp_ms),
        "features": dict(event.features),
        "prediction": event.prediction,
        "score": event.score,
        "attributes": dict(event.attributes or {}),
    }
