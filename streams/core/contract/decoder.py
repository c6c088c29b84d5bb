"""Bytes to ``PredictionEvent``: the checks of ``schemas/prediction_event.json``, written out.

A general JSON Schema validator costs tens of microseconds per event; these checks cost a few,
and ``tests/core/test_decoder.py`` runs every example of the schema through both to keep them
in agreement. Model-specific rules (feature types, bounds, categories) live in ``ModelSpec``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import orjson

from streams.core.contract.event import (
    FeatureShape,
    FeatureValue,
    LabelEvent,
    PredictionEvent,
    RawRecord,
)
from streams.core.contract.timestamps import SecondCache, timestamp_ms
from streams.core.errors import InvalidEvent, Reason

__all__ = ["EventDecoder", "LabelDecoder", "check_name"]

# The size and feature caps of a prediction event unless the worker's settings or the
# model's spec say otherwise (Settings takes its defaults from here).
DEFAULT_MAX_MESSAGE_BYTES = 65536
DEFAULT_MAX_FEATURES = 1000

_T = TypeVar("_T")
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NAME = re.compile(r"[^\x00-\x1f]{1,128}")
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
_NON_FINITE_TOKENS = (b"NaN", b"Infinity", b"-Infinity")
_MAX_FEATURE_STRING = 1024
_MAX_ATTRIBUTE_STRING = 256
_MAX_PREDICTION_STRING = 256
_MAX_ATTRIBUTES = 32
_MAX_TEXT_ID = 128
_MAX_REMEMBERED = 4096


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
            _remember(self._layouts, layout)
        stamp = document.get("timestamp")
        if stamp is not None and type(stamp) is str:
            timestamp = self._seconds(stamp)
        elif "timestamp" in document:
            return None
        else:
            timestamp = record_time_ms
        event_id, features = document["event_id"], document["features"]
        if type(event_id) is not str or not 0 < len(event_id) <= _MAX_TEXT_ID:
            return None
        model_id, version = document["model_id"], document["model_version"]
        if type(model_id) is not str or type(version) is not str:
            return None
        # ``_is_identifier``'s own memory, looked up here without the two calls.
        known = model_id in _IDENTIFIERS and version in _IDENTIFIERS
        if not (known or (_is_identifier(model_id) and _is_identifier(version))):
            return None
        if type(features) is not dict or len(features) > self.max_features:
            return None
        fine = _SCALAR_OR_TEXT_TYPES if message_bytes <= _MAX_FEATURE_STRING else _SCALAR_TYPES
        kinds = tuple(map(type, features.values()))
        if not fine.issuperset(kinds):
            return None
        prediction = document["prediction"]
        kind = type(prediction)
        if kind not in _OUTCOME_TYPES or (kind is str and len(prediction) > _MAX_PREDICTION_STRING):
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
            _attributes(document["attributes"]) if "attributes" in document else None,
            _trace_id(document["trace_id"]) if "trace_id" in document else None,
        )
        return event, (tuple(features), kinds)

    def _decode_checking_each_rule(self, record: RawRecord) -> PredictionEvent:
        # The long way: one rule after another, raising for the first one broken.
        document = _parse(record.value, self.max_message_bytes)
        _check_fields(document, _REQUIRED, _FIELDS, "prediction")
        timestamp = _optional(document, "timestamp", _timestamp_ms)
        return PredictionEvent(
            event_id=_text(document["event_id"], "event_id", _MAX_TEXT_ID),
            model_id=_identifier(document["model_id"], "model_id"),
            model_version=_identifier(document["model_version"], "model_version"),
            timestamp_ms=record.timestamp_ms if timestamp is None else timestamp,
            features=self._features(document["features"], len(record.value or b"")),
            prediction=_prediction(document["prediction"]),
            score=_optional(document, "score", _score),
            latency_ms=_optional(document, "latency_ms", _latency),
            attributes=_optional(document, "attributes", _attributes),
            trace_id=_optional(document, "trace_id", _trace_id),
        )

    def _features(self, features: object, message_bytes: int) -> dict[str, FeatureValue]:
        if type(features) is not dict:
            raise _wrong_type("features", "an object", features)
        if len(features) > self.max_features:
            raise InvalidEvent(
                Reason.TOO_MANY_FEATURES,
                f"{len(features)} features is over the limit of {self.max_features}",
                field="features",
            )
        kinds = set(map(type, features.values()))
        # No string is longer than the message holding it: small events skip the length loop.
        fine = _SCALAR_OR_TEXT_TYPES if message_bytes <= _MAX_FEATURE_STRING else _SCALAR_TYPES
        if not kinds <= fine:
            _check_values(features, "features", _MAX_FEATURE_STRING)
        return features


_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_SCALAR_OR_TEXT_TYPES = _SCALAR_TYPES | {str}
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
        document = _parse(record.value, self.max_message_bytes)
        _check_fields(document, _LABEL_REQUIRED, _LABEL_FIELDS, "label")
        timestamp = _optional(document, "timestamp", _timestamp_ms)
        return LabelEvent(
            event_id=_text(document["event_id"], "event_id", _MAX_TEXT_ID),
            model_id=_identifier(document["model_id"], "model_id"),
            label=_outcome(document["label"], "label"),
            timestamp_ms=record.timestamp_ms if timestamp is None else timestamp,
            model_version=_optional(document, "model_version", _version),
        )


def _parse(value: bytes | None, max_message_bytes: int) -> dict[str, Any]:
    if not value:
        raise InvalidEvent(Reason.EMPTY, "the record has no value")
    if len(value) > max_message_bytes:
        raise InvalidEvent(
            Reason.TOO_LARGE, f"{len(value)} bytes is over the limit of {max_message_bytes}"
        )
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise _parse_error(value, exc) from exc
    if type(document) is not dict:
        raise InvalidEvent(
            Reason.NOT_AN_OBJECT, f"expected a JSON object, got {_json_type(document)}"
        )
    return document


def _check_fields(
    document: dict[str, Any], required: tuple[str, ...], allowed: frozenset[str], kind: str
) -> None:
    for name in required:
        if name not in document:
            raise InvalidEvent(Reason.MISSING_FIELD, "required field is missing", field=name)
    if not allowed.issuperset(document):
        extra = sorted(set(document) - allowed)[0]
        raise InvalidEvent(Reason.UNKNOWN_FIELD, f"not a {kind} event field", field=extra)


def _check_values(values: Mapping[str, object], field: str, max_string: int) -> None:
    """Reject nested values and over-long strings among ``values``."""
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            if len(cast(str, value)) > max_string:  # cast: mypy does not narrow by ``kind``
                raise _too_long(f"{field}.{name}", max_string)
        elif kind not in _SCALAR_TYPES:
            raise _wrong_type(f"{field}.{name}", "a number, string, boolean or null", value)


def check_name(name: str, field: str) -> None:
    """Reject a feature or attribute name the schema does not allow."""
    if not _NAME.fullmatch(name):
        raise InvalidEvent(
            Reason.INVALID_VALUE,
            "names are 1-128 characters without control characters",
            field=f"{field}.{name[:128]!r}",
        )


def _parse_error(value: bytes, exc: orjson.JSONDecodeError) -> InvalidEvent:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        return InvalidEvent(Reason.INVALID_UTF8, f"not valid UTF-8: {utf8_error}")
    at_error = value[exc.pos : exc.pos + 9]
    if "infinity" in exc.msg or at_error.startswith(_NON_FINITE_TOKENS):
        return InvalidEvent(
            Reason.NON_FINITE_NUMBER,
            f"numbers must be finite, NaN and Infinity are not JSON: {exc}",
        )
    return InvalidEvent(Reason.NOT_JSON, f"not valid JSON: {exc}")


def _json_type(value: object) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _wrong_type(field: str, expected: str, value: object) -> InvalidEvent:
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else _json_type(value)
    return InvalidEvent(Reason.WRONG_TYPE, f"expected {expected}, got {shown}", field=field)


def _too_long(field: str, max_length: int) -> InvalidEvent:
    return InvalidEvent(
        Reason.INVALID_VALUE, f"string longer than {max_length} characters", field=field
    )


def _text(value: object, field: str, max_length: int) -> str:
    if type(value) is not str:
        raise _wrong_type(field, "a string", value)
    if not 1 <= len(value) <= max_length:
        raise InvalidEvent(
            Reason.INVALID_VALUE, f"must be 1-{max_length} characters long", field=field
        )
    return value


def _optional(document: dict[str, Any], field: str, convert: Callable[[object], _T]) -> _T | None:
    # Absent is fine; an explicit null is a type error, as in the schema.
    return convert(document[field]) if field in document else None


def _trace_id(value: object) -> str:
    return _text(value, "trace_id", _MAX_TEXT_ID)


def _identifier(value: object, field: str) -> str:
    if type(value) is not str:
        raise _wrong_type(field, "a string", value)
    if not _is_identifier(value):
        raise InvalidEvent(
            Reason.INVALID_VALUE,
            f"{value[:80]!r} is not 1-64 characters of letters, digits, '.', '_' or '-'",
            field=field,
        )
    return value


def _is_identifier(value: str) -> bool:
    # Remembered when valid: a stream repeats a handful of model ids and versions.
    if value in _IDENTIFIERS:
        return True
    if _ID.fullmatch(value) is None:
        return False
    _remember(_IDENTIFIERS, value)
    return True


#: Model ids and versions found valid (bounded by ``_remember``).
_IDENTIFIERS: set[str] = set()


def _remember(known: set[_T], value: _T) -> None:
    if len(known) >= _MAX_REMEMBERED:
        known.clear()
    known.add(value)


def _timestamp_ms(value: object) -> int:
    if type(value) is not str:
        raise _wrong_type("timestamp", "an RFC 3339 date-time string", value)
    return timestamp_ms(value)


def _prediction(value: object) -> float | int | str | bool:
    return _outcome(value, "prediction")


def _outcome(value: object, field: str) -> float | int | str | bool:
    # A prediction or a label: the same kinds of value.
    kind = type(value)
    if kind is str:
        text = cast(str, value)  # mypy does not narrow by ``kind``
        if len(text) > _MAX_PREDICTION_STRING:
            raise _too_long(field, _MAX_PREDICTION_STRING)
        return text
    if kind in (int, float, bool):
        return cast("float | int | bool", value)
    raise _wrong_type(field, "a number, string or boolean", value)


def _version(value: object) -> str:
    return _identifier(value, "model_version")


def _number(value: object, field: str) -> float:
    if type(value) not in (int, float):
        raise _wrong_type(field, "a number", value)
    return float(cast(float, value))


def _score(value: object) -> float:
    return _number(value, "score")


def _latency(value: object) -> float:
    latency = _number(value, "latency_ms")
    if latency < 0:
        raise InvalidEvent(Reason.OUT_OF_RANGE, "must not be negative", field="latency_ms")
    return latency


def _attributes(value: object) -> Mapping[str, FeatureValue]:
    if type(value) is not dict:
        raise _wrong_type("attributes", "an object", value)
    if len(value) > _MAX_ATTRIBUTES:
        raise InvalidEvent(
            Reason.INVALID_VALUE, f"more than {_MAX_ATTRIBUTES} attributes", field="attributes"
        )
    try:
        if _are_valid_attributes(tuple(value.items())):
            return value
    except TypeError:  # a nested value cannot be hashed; the checks below name it
        pass
    for name in value:
        check_name(name, "attributes")
    _check_values(value, "attributes", _MAX_ATTRIBUTE_STRING)
    return value


@functools.lru_cache(maxsize=1024)
def _are_valid_attributes(items: tuple[tuple[str, object], ...]) -> bool:
    # Cached: producers send the same few segments (names and values) event after event. Values
    # that compare equal (1, 1.0, True) share an entry, and are all valid or all not.
    try:
        for name, _ in items:
            check_name(name, "attributes")
        _check_values(dict(items), "attributes", _MAX_ATTRIBUTE_STRING)
    except InvalidEvent:
        return False
    return True
