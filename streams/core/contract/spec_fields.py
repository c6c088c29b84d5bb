"""The checks of a model spec's fields beyond a feature's type (``schemas/model_spec.json``):
each takes the field's raw JSON value and returns it checked, or raises ``InvalidSpec``
naming what is wrong, whatever shape of value it was given."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

from streams.core.contract.field_rules import check_name
from streams.core.detectors import default_configs
from streams.core.errors import InvalidEvent, InvalidSpec, Reason
from streams.core.labels.fairness import FairnessPolicy

__all__ = [
    "MAX_LATENCY_OBJECTIVE_MS",
    "POLICY_KEYS",
    "bounded_int",
    "detectors",
    "fairness",
    "is_finite",
    "json_object",
    "latency_objective",
    "optional_text",
    "plain_detectors",
    "policy_fields",
    "segments",
    "source_attribute",
]

#: The largest latency objective a spec may set (an hour, in ms), as the schema says.
MAX_LATENCY_OBJECTIVE_MS = 3_600_000


def source_attribute(raw: object, model_id: str) -> str | None:
    """A spec's ``source_attribute``: an attribute name, or None."""
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise InvalidEvent(Reason.INVALID_VALUE, "not a text", field="source_attribute")
        check_name(raw, "source_attribute")
    except InvalidEvent as error:
        raise InvalidSpec(f"{model_id}: source_attribute must be an attribute name") from error
    return raw


def latency_objective(raw: object, model_id: str) -> float | None:
    """A spec's ``latency_objective_ms``: a number in (0, ``MAX_LATENCY_OBJECTIVE_MS``]."""
    if raw is None:
        return None
    if not is_finite(raw) or not 0 < cast(float, raw) <= MAX_LATENCY_OBJECTIVE_MS:
        raise InvalidSpec(
            f"{model_id}: latency_objective_ms must be a number in "
            f"(0, {MAX_LATENCY_OBJECTIVE_MS}], got {raw!r}"
        )
    return float(cast(float, raw))


def segments(raw: object, model_id: str) -> tuple[str, ...]:
    """A spec's ``segments``: at most 4 distinct attribute names."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > 4 or len(set(map(str, raw))) != len(raw):
        raise InvalidSpec(f"{model_id}: segments is a list of at most 4 distinct attribute names")
    for name in raw:
        if not isinstance(name, str):
            raise InvalidSpec(f"{model_id}: segments: {name!r} is not an attribute name")
        try:
            check_name(name, "segments")
        except InvalidEvent as exc:
            raise InvalidSpec(f"{model_id}: segments: {exc}") from exc
    return tuple(raw)


def detectors(raw: Any, where: str) -> Mapping[str, Mapping[str, Any]] | None:
    """A spec's ``detectors`` object, checked against the registered detectors' settings."""
    if raw is None:
        return None
    raw = json_object(raw, f"{where}: detectors")
    try:
        default_configs().overridden(raw)
    except ValueError as exc:
        raise InvalidSpec(f"{where}: detectors: {exc}") from exc
    return plain_detectors(raw)


def plain_detectors(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Detector settings as plain dicts (JSON's form)."""
    return {name: dict(fields) for name, fields in settings.items()}


POLICY_KEYS = ("attribute", "reference_group", "min_group_size", "max_parity_difference",
               "max_equal_opportunity_difference", "min_disparate_impact")  # fmt: skip


def policy_fields(policy: FairnessPolicy) -> dict[str, Any]:
    return {key: getattr(policy, key) for key in POLICY_KEYS}


def fairness(model_id: str, raw: Mapping[str, Any]) -> FairnessPolicy:
    raw = json_object(raw, f"{model_id}: fairness")
    unknown = set(raw) - set(POLICY_KEYS)
    if unknown:
        raise InvalidSpec(f"{model_id}: unknown fairness setting {sorted(unknown)[0]!r}")
    try:
        return FairnessPolicy(**raw)
    except (TypeError, ValueError) as exc:
        raise InvalidSpec(f"{model_id}: fairness: {exc}") from exc


def json_object(raw: Any, where: str) -> Mapping[str, Any]:
    """``raw``, if it is a JSON object; a document of another shape names ``where``."""
    if not isinstance(raw, Mapping):
        raise InvalidSpec(f"{where} must be an object, not {type(raw).__name__}")
    return raw


def optional_text(raw: Mapping[str, Any], key: str, model_id: str) -> str | None:
    """``raw[key]``: a non-empty text, or None when absent."""
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidSpec(f"{model_id}: {key} must be a non-empty text, got {value!r}")
    return value


def bounded_int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if type(value) is not int or not low <= value <= high:
        raise InvalidSpec(f"{key} must be an integer in [{low}, {high}], got {value!r}")
    return value


def is_finite(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(cast(float, value))
