"""A labelled validation set as the performance reference stored with a profile.

``driftline profile TRAIN --labels FILE`` reads FILE (a CSV with a header, or JSON lines of
flat objects) whose rows hold ``prediction``, ``label`` and, for a classifier, optionally
``score``; the reference metrics and their uncertainty go into the profile under
``"labels"`` (``LabelReference``), and the monitors of that model version hold later
windows against them instead of learning a reference from the stream's first labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from streams.adapters.files.training_data import read_rows
from streams.core.contract.spec import ModelSpec
from streams.core.errors import InvalidSpec
from streams.core.labels.label_reference import LabelReference, validation_reference
from streams.core.labels.labelled import LabelledPrediction

__all__ = ["PROFILE_KEY", "reference_from_file", "references_of_profiles"]

#: Where a profile keeps its labelled reference.
PROFILE_KEY = "labels"


def reference_from_file(
    path: Path, *, model_id: str, model_version: str, spec: ModelSpec | None = None
) -> LabelReference:
    """The reference of the labelled rows in ``path``; the task from ``spec``, else a
    classifier unless the rows have no score and non-integral numbers.

    Raises ``InvalidSpec`` naming the file for a row without a prediction or label, or a file
    without rows.
    """
    rows = list(read_rows(path))
    if not rows:
        raise InvalidSpec(f"{path}: no labelled rows")
    for number, row in enumerate(rows, 1):
        if row.get("prediction") is None or row.get("label") is None:
            raise InvalidSpec(f"{path}: row {number} needs a prediction and a label")
    spec = spec or ModelSpec(model_id, {}, task=_task(rows))
    regression = spec.task == "regression"
    pairs = [
        LabelledPrediction(model_id, model_version, str(i), _outcome(row["prediction"], regression),
                           _outcome(row["label"], regression), row.get("score"), None, 0, 0)
        for i, row in enumerate(rows)
    ]  # fmt: skip
    try:
        return validation_reference(spec, pairs)
    except ValueError as exc:
        raise InvalidSpec(f"{path}: {exc}") from exc


def references_of_profiles(
    profiles: list[Mapping[str, Any]],
) -> dict[tuple[str, str], LabelReference]:
    """The labelled references stored in ``profiles``, by (model, version)."""
    return {
        (raw["model_id"], raw["model_version"]): LabelReference.from_dict(raw[PROFILE_KEY])
        for raw in profiles
        if raw.get(PROFILE_KEY) is not None
    }


def _task(rows: list[dict[str, Any]]) -> Literal["classification", "regression"]:
    if any(row.get("score") is not None for row in rows):
        return "classification"
    values = [row[k] for row in rows for k in ("prediction", "label")]
    fractional = any(type(v) is float and not v.is_integer() for v in values)
    return "regression" if fractional else "classification"


def _outcome(value: Any, regression: bool) -> Any:
    # A CSV cell "1" is read as 1.0; a class is compared by its JSON text, "1" as events give.
    if not regression and type(value) is float and value.is_integer():
        return int(value)
    return value
