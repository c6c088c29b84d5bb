"""Bytes to ``PredictionEvent``: the checks of ``schemas/prediction_event.json``, written out.

A general JSON Schema validator costs tens of microseconds per event; these checks cost a few,
and ``tests/core/test_decoder.py`` runs every example of the schema through both to keep them
in agreement. A plainly valid event passes one inlined pass; anything else is decoded again
by the rules of ``field_rules``, one after another, for the reason of its rejection.
Model-specific rules (feature types, bounds, categories) live in ``ModelSpec``.
"""

from __future__ import annotations

from typing import Any

import orjson

from streams.core.contract import field_rules as rules
from streams.core.contract.event import (
    FeatureShape,
    FeatureValue,
    LabelEvent,
    PredictionEvent,
    RawRecord,
)
from streams.core.contract.field_rules import (
    IDENTIFIERS,
    MAX_FEATURE_STRING,
    MAX_PREDICTION_STRING,
    MAX_TEXT_ID,
    SCALAR_TYPES,
    is_identifier,
    remember,
)
from streams.core.contract.timestamps import SecondCache
from streams.core.errors import InvalidEvent, Reason

__all__ = ["EventDecoder", "LabelDecoder"]

# The size and feature caps of a prediction event unless the worker's settings or the
# model's spec say otherwise (Settings takes its defaults from here).
DEFAULT_MAX_MESSAGE_BYTES = 65536
DEFAULT_MAX_FEATURES = 1000

_FIELDS = frozenset(
    {
        "event_id",
        "model_id",
        "model_version",
        "timestamp",
        "features",
        "prediction",
        "score",
        "latency_ms",
        "attributes",
        "trace_id",
    }
)
_REQUIRED = ("event_id", "model_id", "model_version", "features", "prediction")
_REQUIRED_SET = frozenset(_REQUIRED)
_LABEL_REQUIRED = ("event_id", "model_id", "label")
_LABEL_FIELDS = frozenset({*_LABEL_REQUIRED, "model_version", "timestamp"})


class EventDecoder:
    """Decode and check one prediction event against the schema.

    Parameters
    ----------
    max_message_bytes
        Larger records are rejected before they are parsed.
    max_features
        Events with more features are rejected.
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_features: int = DEFAULT_MAX_FEATURES,
    ) -> None:
        if max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be positive, got {max_message_bytes}")
        if max_features < 1:
            raise ValueError(f"max_features must be positive, got {max_features}")
        self.max_message_bytes = max_message_bytes
        self.max_features = max_features
        self._seconds = SecondCache()
        # The field names, in an event's order, of events the fast path found right (producers
        # send one or two layouts): a set lookup is half the cost of comparing key sets.
        self._layouts: set[tuple[str, ...]] = set()

    def decode(self, record: RawRecord) -> PredictionEvent:
        """Return the event in ``record`` or raise ``InvalidEvent`` saying what is wrong."""
        return self.decode_with_shape(record)[0]

    def decode_with_shape(self, record: RawRecord) -> tuple[PredictionEvent, FeatureShape | None]:
        """``decode``, and the event's feature shape when the checks took it on the way
        (None if not): the spec check then need not take it again (``ModelSpec.check``)."""
        value = record.value
        if value and len(value) <= self.max_message_bytes:
            try:
                document = orjson.loads(value)
            except orjson.JSONDecodeError:
                document = None
            if type(document) is dict:
                plain = self._plain_event(document, record.timestamp_ms, len(value))
                if plain is not None:
                    return plain
        return self._decode_checking_each_rule(record), None

    def _plain_event(
        self, document: dict[str, Any], record_time_ms: int, message_bytes: int
    ) -> tuple[PredictionEvent, FeatureShape] | None:
        """The event and its feature shape if ``document`` is plainly valid, else None.

        The rules of ``_decode_checking_each_rule`` inlined, in its order, for events that
        pass them all: a record this refuses is decoded again the long way, so every
        rejection keeps its reason and text. What may raise here (the timestamp, the
        attributes, the trace id) raises exactly as the long way, the rules before it passed.
        """
        layout = tuple(document)
        if layout not in self._layouts:
            keys = document.keys()
            if not (keys >= _REQUIRED_SET and keys <= _FIELDS):
                return None
            remember(self._layouts, layout)
        stamp = document.get("timestamp")
        if stamp is not None and type(stamp) is str:
            timestamp = self._seconds(stamp)
        elif "timestamp" in document:
            return None
        else:
            timestamp = record_time_ms
        event_id, features = document["event_id"], document["features"]
        if type(event_id) is not str or not 0 < len(event_id) <= MAX_TEXT_ID:
            return None
        model_id, version = document["model_id"], document["model_version"]
        if type(model_id) is not str or type(version) is not str:
            return None
        # ``is_identifier``'s own memory, looked up here without the two calls.
        known = model_id in IDENTIFIERS and version in IDENTIFIERS
        if not (known or (is_identifier(model_id) and is_identifier(version))):
            return None
        if type(features) is not dict or len(features) > self.max_features:
            return None
        fine = _SCALAR_OR_TEXT_TYPES if message_bytes <= MAX_FEATURE_STRING else SCALAR_TYPES
        kinds = tuple(map(type, features.values()))
        if not fine.issuperset(kinds):
            return None
        prediction = document["prediction"]
        kind = type(prediction)
        if kind not in _OUTCOME_TYPES or (kind is str and len(prediction) > MAX_PREDICTION_STRING):
            return None
        score = document.get("score", 0.0)
        latency = document.get("latency_ms", 0.0)
        if type(score) not in _NUMBER_TYPES or type(latency) not in _NUMBER_TYPES or latency < 0:
            return None
        event = PredictionEvent(
            event_id,
            model_id,
            version,
            timestamp,
            features,
            prediction,
            float(score) if "score" in document else None,
            float(latency) if "latency_ms" in document else None,
            rules.attributes(document["attributes"]) if "attributes" in document else None,
            rules.trace_id(document["trace_id"]) if "trace_id" in document else None,
        )
        return event, (tuple(features), kinds)

    def _decode_checking_each_rule(self, record: RawRecord) -> PredictionEvent:
        # The long way: one rule after another, raising for the first one broken.
        document = rules.parse(record.value, self.max_message_bytes)
        rules.check_fields(document, _REQUIRED, _FIELDS, "prediction")
        timestamp = rules.optional(document, "timestamp", rules.timestamp_field)
        return PredictionEvent(
            event_id=rules.text(document["event_id"], "event_id", MAX_TEXT_ID),
            model_id=rules.identifier(document["model_id"], "model_id"),
            model_version=rules.identifier(document["model_version"], "model_version"),
            timestamp_ms=record.timestamp_ms if timestamp is None else timestamp,
            features=self._features(document["features"], len(record.value or b"")),
            prediction=rules.prediction(document["prediction"]),
            score=rules.optional(document, "score", rules.score),
            latency_ms=rules.optional(document, "latency_ms", rules.latency),
            attributes=rules.optional(document, "attributes", rules.attributes),
            trace_id=rules.optional(document, "trace_id", rules.trace_id),
        )

    def _features(self, features: object, message_bytes: int) -> dict[str, FeatureValue]:
        if type(features) is not dict:
            raise rules.wrong_type("features", "an object", features)
        if len(features) > self.max_features:
            raise InvalidEvent(
                Reason.TOO_MANY_FEATURES,
                f"{len(features)} features is over the limit of {self.max_features}",
                field="features",
            )
        kinds = set(map(type, features.values()))
        # No string is longer than the message holding it: small events skip the length loop.
        fine = _SCALAR_OR_TEXT_TYPES if message_bytes <= MAX_FEATURE_STRING else SCALAR_TYPES
        if not kinds <= fine:
            rules.check_values(features, "features", MAX_FEATURE_STRING)
        return features


_SCALAR_OR_TEXT_TYPES = SCALAR_TYPES | {str}
_OUTCOME_TYPES = frozenset({int, float, bool, str})
_NUMBER_TYPES = frozenset({int, float})


class LabelDecoder:
    """Decode and check one label event against ``schemas/label_event.json``.

    Parameters
    ----------
    max_message_bytes
        Larger records are rejected before they are parsed.
    """

    def __init__(self, *, max_message_bytes: int = 4096) -> None:
        if max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be positive, got {max_message_bytes}")
        self.max_message_bytes = max_message_bytes

    def decode(self, record: RawRecord) -> LabelEvent:
        """Return the label in ``record`` or raise ``InvalidEvent`` saying what is wrong."""
        document = rules.parse(record.value, self.max_message_bytes)
        rules.check_fields(document, _LABEL_REQUIRED, _LABEL_FIELDS, "label")
        timestamp = rules.optional(document, "timestamp", rules.timestamp_field)
        return LabelEvent(
            event_id=rules.text(document["event_id"], "event_id", MAX_TEXT_ID),
            model_id=rules.identifier(document["model_id"], "model_id"),
            label=rules.outcome(document["label"], "label"),
            timestamp_ms=record.timestamp_ms if timestamp is None else timestamp,
            model_version=rules.optional(document, "model_version", rules.version),
        )
