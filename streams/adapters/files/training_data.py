"""Reference profiles from training data: a CSV with a header, or JSON lines.

JSON lines may be prediction events (their ``features``, ``score`` and ``prediction`` are
used) or flat objects of feature values. CSV cells that parse as numbers are numbers, empty
cells are missing. Columns named ``score`` and ``prediction`` profile the model's outputs, so
prediction drift is judged against training too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.drift.model_monitor import MIN_EVENTS, ModelMonitor, MonitorConfig
from streams.core.drift.profile import ReferenceProfile
from streams.core.errors import InvalidSpec

__all__ = ["profile_from_file", "read_rows"]

_OUTPUTS = ("score", "prediction")


def profile_from_file(
    path: Path,
    *,
    model_id: str,
    model_version: str,
    spec: ModelSpec | None = None,
    pii: PiiPolicy | None = None,
) -> ReferenceProfile:
    """Profile every row of ``path``; feature types from ``spec``, else from the values.
    PII features are profiled by their keyed hash under ``pii``, or left out (None: drop).
    Raises ``InvalidSpec`` for a file of fewer than ``MIN_EVENTS`` rows."""
    rows = list(read_rows(path))
    if not rows:
        raise InvalidSpec(f"{path}: no rows to profile")
    if len(rows) < MIN_EVENTS:
        raise InvalidSpec(
            f"{path}: {len(rows)} rows; a profile needs at least {MIN_EVENTS} "
            "(and to mean much, more rows than a window of events)"
        )
    spec = spec or _infer_spec(model_id, rows)
    events = [
        PredictionEvent(
            event_id=str(i),
            model_id=model_id,
            model_version=model_version,
            timestamp_ms=0,
            features={k: v for k, v in row.items() if k not in _OUTPUTS},
            prediction=row.get("prediction"),  # type: ignore[arg-type]
            score=row.get("score"),
        )
        for i, row in enumerate(rows)
    ]
    config = MonitorConfig(reference_events=len(events))
    watcher = ModelMonitor(spec, model_version, config, pii=pii)
    watcher.process(events, [(0, i) for i in range(len(events))])
    assert watcher.profile is not None
    return watcher.profile


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a CSV with a header (numbers parsed, empty cells None) or of JSON lines
    (a prediction event gives its features, score and prediction)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as file:
            for row in csv.DictReader(file):
                yield {name: _cell(value) for name, value in row.items()}
        return
    with path.open("rb") as file:
        for number, line in enumerate(file):
            if not line.strip():
                continue
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidSpec(f"{path}:{number + 1}: not JSON: {exc}") from exc
            if "features" in document:
                yield {**document["features"], **{k: document.get(k) for k in _OUTPUTS}}
            else:
                yield document


def _cell(value: str | None) -> float | str | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _infer_spec(model_id: str, rows: list[dict[str, Any]]) -> ModelSpec:
    names = dict.fromkeys(name for row in rows for name in row if name not in _OUTPUTS)
    features = {}
    for name in names:
        values = [row.get(name) for row in rows if row.get(name) is not None]
        numeric = values and all(type(v) in (int, float) for v in values)
        features[name] = FeatureSpec(type="number" if numeric else "string", required=False)
    scored = any(row.get("score") is not None for row in rows)
    regression = not scored and all(type(row.get("prediction")) in (int, float) for row in rows)
    return ModelSpec(
        model_id=model_id,
        features=features,
        task="regression" if regression else "classification",
    )
