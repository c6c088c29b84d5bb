"""What one model's events must look like (``schemas/model_spec.json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from streams.core.contract import spec_fields as checked
from streams.core.contract.decoder import DEFAULT_MAX_FEATURES, DEFAULT_MAX_MESSAGE_BYTES
from streams.core.contract.event import FeatureShape, PredictionEvent
from streams.core.contract.field_rules import check_name
from streams.core.contract.spec_fields import MAX_LATENCY_OBJECTIVE_MS
from streams.core.errors import InvalidEvent, InvalidSpec, Reason
from streams.core.labels.fairness import FairnessPolicy

__all__ = [
    "DEFAULT_LATENCY_OBJECTIVE_MS",
    "MAX_LATENCY_OBJECTIVE_MS",
    "FeatureSpec",
    "FeatureType",
    "ModelSpec",
]

FeatureType = Literal["number", "string", "boolean"]
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
}
_TASKS = ("classification", "regression")
_SOURCES = ("registered", "inferred")
_MAX_CACHED_SHAPES = 64
_DEFAULT_POSITIVE = frozenset({"true", "1"})
#: The latency objective of a model whose spec sets none (``DRIFTLINE_LATENCY_OBJECTIVE_MS``).
DEFAULT_LATENCY_OBJECTIVE_MS = 250.0


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """The contract of one feature. ``min``/``max`` are hard validity bounds, not drift bounds."""

    type: FeatureType
    required: bool = True
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    categories: frozenset[str] | None = None
    pii: bool = False
    #: Detector settings for this feature alone, over the model's (``DetectorConfigs``).
    detectors: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def constrains_values(self) -> bool:
        """Whether values need checking beyond their type."""
        return self.min is not None or self.max is not None or self.categories is not None

    def check_type(self, name: str, value: object) -> None:
        """Raise ``InvalidEvent`` if ``value`` is not of this feature's type."""
        if value is None:
            if not self.nullable:
                raise InvalidEvent(Reason.WRONG_TYPE, "must not be null", field=f"features.{name}")
        elif type(value) not in _PYTHON_TYPES[self.type]:
            raise InvalidEvent(
                Reason.WRONG_TYPE,
                f"expected a {self.type}, got {_describe(value)}",
                field=f"features.{name}",
            )

    def check(self, name: str, value: Any) -> None:
        """Raise ``InvalidEvent`` if a non-null ``value`` of the right type is out of bounds."""
        too_low = self.min is not None and value < self.min
        if too_low or (self.max is not None and value > self.max):
            raise InvalidEvent(
                Reason.OUT_OF_RANGE,
                f"{value} is outside [{self.min}, {self.max}]",
                field=f"features.{name}",
            )
        if self.categories is not None and value not in self.categories:
            raise InvalidEvent(
                Reason.UNKNOWN_CATEGORY,
                f"{value[:40]!r} is not one of the {len(self.categories)} allowed categories",
                field=f"features.{name}",
            )

    @classmethod
    def from_dict(cls, name: str, raw: Mapping[str, Any]) -> FeatureSpec:
        raw = checked.json_object(raw, f"feature {name!r}")
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in _PYTHON_TYPES:
            raise InvalidSpec(f"feature {name!r}: type must be number, string or boolean")
        bounds = raw.get("min"), raw.get("max")
        if kind != "number" and bounds != (None, None):
            raise InvalidSpec(f"feature {name!r}: min/max apply to numbers only")
        if not all(checked.is_finite(bound) for bound in bounds if bound is not None):
            raise InvalidSpec(f"feature {name!r}: min/max must be finite numbers")
        categories = raw.get("categories")
        if categories is not None and (
            kind != "string"
            or not isinstance(categories, list)
            or not categories
            or not all(isinstance(c, str) for c in categories)
        ):
            raise InvalidSpec(f"feature {name!r}: categories is a non-empty list of strings")
        return cls(
            type=cast(FeatureType, kind),
            required=bool(raw.get("required", True)),
            nullable=bool(raw.get("nullable", True)),
            min=bounds[0],
            max=bounds[1],
            categories=None if categories is None else frozenset(categories),
            pii=bool(raw.get("pii", False)),
            detectors=checked.detectors(raw.get("detectors"), f"feature {name!r}"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "required": self.required}
        out["nullable"] = self.nullable
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.categories is not None:
            out["categories"] = sorted(self.categories)
        out["pii"] = self.pii
        if self.detectors:
            out["detectors"] = checked.plain_detectors(self.detectors)
        return out


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """The contract of one model's prediction events.

    A spec without ``model_version`` applies to every version of the model.
    """

    model_id: str
    features: Mapping[str, FeatureSpec]
    model_version: str | None = None
    task: Literal["classification", "regression"] = "classification"
    pii_attributes: frozenset[str] = field(default_factory=frozenset)
    allow_extra_features: bool = False
    max_features: int = DEFAULT_MAX_FEATURES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    source: Literal["registered", "inferred"] = "registered"
    #: The positive class of a binary classifier, as its JSON text; None: true and 1.
    positive_class: str | None = None
    fairness: tuple[FairnessPolicy, ...] = ()
    #: Detector settings for every feature of this model, over the worker's settings.
    detectors: Mapping[str, Mapping[str, Any]] | None = None
    #: The model's latency SLO: its events' ``latency_ms`` should be at or below this (p99);
    #: None: the worker's default (``DRIFTLINE_LATENCY_OBJECTIVE_MS``).
    latency_objective_ms: float | None = None
    #: Attributes whose values are segments, each watched per value (``core/segments``).
    segments: tuple[str, ...] = ()
    #: Segment values watched on their own per attribute; the rest pooled as "other".
    segments_top_k: int = 20
    #: The attribute naming who sent an event (``client_id``): sources are tracked for
    #: probing and abuse (``streams.core.abuse``); None: not tracked.
    source_attribute: str | None = None
    required_features: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _constrained: tuple[tuple[str, FeatureSpec], ...] = field(init=False, repr=False, compare=False)
    _valid_shapes: set[FeatureShape] = field(
        init=False, repr=False, compare=False, default_factory=set
    )

    def __post_init__(self) -> None:
        required = tuple(name for name, spec in self.features.items() if spec.required)
        constrained = tuple((n, s) for n, s in self.features.items() if s.constrains_values)
        object.__setattr__(self, "required_features", required)
        object.__setattr__(self, "_constrained", constrained)

    @property
    def positive_classes(self) -> frozenset[str]:
        """The predictions and labels (as ``category_of`` texts) of the positive class."""
        return frozenset({self.positive_class}) if self.positive_class else _DEFAULT_POSITIVE

    def check(
        self, event: PredictionEvent, message_bytes: int, shape: FeatureShape | None = None
    ) -> None:
        """Raise ``InvalidEvent`` for the first rule of this spec that ``event`` breaks.

        ``shape`` is the event's feature shape if the caller has it (the decoder takes it on
        its way), else it is taken here.
        """
        if message_bytes > self.max_message_bytes:
            raise InvalidEvent(
                Reason.TOO_LARGE,
                f"{message_bytes} bytes is over this model's limit of {self.max_message_bytes}",
            )
        features = event.features
        # Producers send the same names with the same types event after event: check a shape
        # once, then only the values that have bounds or categories.
        if shape is None:
            shape = (tuple(features), tuple(map(type, features.values())))
        if shape not in self._valid_shapes:
            self._check_shape(features)
            if len(self._valid_shapes) >= _MAX_CACHED_SHAPES:
                self._valid_shapes.clear()
            self._valid_shapes.add(shape)
        for name, spec in self._constrained:
            value = features.get(name)
            if value is not None:
                spec.check(name, value)
        score = event.score
        if self.task == "classification" and score is not None and not 0.0 <= score <= 1.0:
            raise InvalidEvent(
                Reason.OUT_OF_RANGE, "a classifier's score must be within [0, 1]", field="score"
            )

    def _check_shape(self, features: Mapping[str, object]) -> None:
        if len(features) > self.max_features:
            raise InvalidEvent(
                Reason.TOO_MANY_FEATURES,
                f"{len(features)} features is over this model's limit of {self.max_features}",
                field="features",
            )
        for name in self.required_features:
            if name not in features:
                raise InvalidEvent(
                    Reason.MISSING_FEATURE, "required feature is missing", field=f"features.{name}"
                )
        specs = self.features
        for name, value in features.items():
            spec = specs.get(name)
            if spec is not None:
                spec.check_type(name, value)
            elif self.allow_extra_features:
                check_name(name, "features")
            else:
                raise InvalidEvent(
                    Reason.UNKNOWN_FEATURE, "not in the model spec", field=f"features.{name[:128]}"
                )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelSpec:
        """Build a spec from its JSON form, raising ``InvalidSpec`` naming what is wrong."""
        if not isinstance(raw, Mapping):
            raise InvalidSpec("a model spec is a JSON object")
        model_id = raw.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise InvalidSpec("model_id is required")
        features = raw.get("features")
        if not isinstance(features, Mapping):
            raise InvalidSpec(f"{model_id}: features must be an object")
        task = raw.get("task", "classification")
        source = raw.get("source", "registered")
        if task not in _TASKS or source not in _SOURCES:
            raise InvalidSpec(f"{model_id}: task is one of {_TASKS}, source one of {_SOURCES}")
        attributes = checked.json_object(raw.get("attributes") or {}, f"{model_id}: attributes")
        attributes = {
            a: checked.json_object(meta, f"{model_id}: attribute {a!r}")
            for a, meta in attributes.items()
        }
        performance = checked.json_object(raw.get("performance") or {}, f"{model_id}: performance")
        policies = performance.get("fairness", ())
        if not isinstance(policies, list | tuple):
            raise InvalidSpec(f"{model_id}: performance.fairness must be a list")
        return cls(
            model_id=model_id,
            model_version=checked.optional_text(raw, "model_version", model_id),
            features={name: FeatureSpec.from_dict(name, spec) for name, spec in features.items()},
            task=task,
            pii_attributes=frozenset(a for a, meta in attributes.items() if meta.get("pii")),
            allow_extra_features=bool(raw.get("allow_extra_features", False)),
            max_features=checked.bounded_int(raw, "max_features", DEFAULT_MAX_FEATURES, 1, 10_000),
            max_message_bytes=checked.bounded_int(
                raw, "max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES, 256, 4_194_304
            ),
            source=source,
            positive_class=checked.optional_text(performance, "positive_class", model_id),
            fairness=tuple(checked.fairness(model_id, p) for p in policies),
            detectors=checked.detectors(raw.get("detectors"), model_id),
            latency_objective_ms=checked.latency_objective(
                raw.get("latency_objective_ms"), model_id
            ),
            segments=checked.segments(raw.get("segments"), model_id),
            segments_top_k=checked.bounded_int(raw, "segments_top_k", 20, 1, 100),
            source_attribute=checked.source_attribute(raw.get("source_attribute"), model_id),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as ``schemas/model_spec.json`` describes it."""
        out: dict[str, Any] = {"model_id": self.model_id}
        if self.model_version is not None:
            out["model_version"] = self.model_version
        out["task"] = self.task
        out["features"] = {name: spec.to_dict() for name, spec in self.features.items()}
        if self.pii_attributes:
            out["attributes"] = {name: {"pii": True} for name in sorted(self.pii_attributes)}
        out["allow_extra_features"] = self.allow_extra_features
        out["max_features"] = self.max_features
        out["max_message_bytes"] = self.max_message_bytes
        out["source"] = self.source
        performance: dict[str, Any] = {}
        if self.positive_class is not None:
            performance["positive_class"] = self.positive_class
        if self.fairness:
            performance["fairness"] = [checked.policy_fields(p) for p in self.fairness]
        if performance:
            out["performance"] = performance
        if self.detectors:
            out["detectors"] = checked.plain_detectors(self.detectors)
        if self.latency_objective_ms is not None:
            out["latency_objective_ms"] = self.latency_objective_ms
        if self.segments:
            out["segments"] = list(self.segments)
            out["segments_top_k"] = self.segments_top_k
        if self.source_attribute is not None:
            out["source_attribute"] = self.source_attribute
        return out


def _describe(value: object) -> str:
    return repr(value) if isinstance(value, str) and len(value) <= 40 else type(value).__name__
