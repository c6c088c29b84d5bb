"""The rules of ``schemas/prediction_event.json`` and ``schemas/label_event.json``, one field
at a time: each returns the checked value or raises ``InvalidEvent`` naming the field and
the reason. ``EventDecoder`` applies them one after another to a record its fast path
refused, and ``LabelDecoder`` to every label, so the reasons and texts live here only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import orjson

from streams.core.contract.event import FeatureValue
from streams.core.contract.timestamps import timestamp_ms
from streams.core.errors import InvalidEvent, Reason

__all__ = [
    "IDENTIFIERS",
    "MAX_FEATURE_STRING",
    "MAX_PREDICTION_STRING",
    "MAX_TEXT_ID",
    "SCALAR_TYPES",
    "attributes",
    "check_fields",
    "check_name",
    "check_values",
    "identifier",
    "is_identifier",
    "latency",
    "optional",
    "outcome",
    "parse",
    "prediction",
    "remember",
    "score",
    "text",
    "timestamp_field",
    "trace_id",
    "version",
    "wrong_type",
]

MAX_FEATURE_STRING = 1024
MAX_PREDICTION_STRING = 256
MAX_TEXT_ID = 128
SCALAR_TYPES = frozenset({int, float, bool, type(None)})

_T = TypeVar("_T")
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NAME = re.compile(r"[^\x00-\x1f]{1,128}")
_NON_FINITE_TOKENS = (b"NaN", b"Infinity", b"-Infinity")
_MAX_ATTRIBUTE_STRING = 256
_MAX_ATTRIBUTES = 32
_MAX_REMEMBERED = 4096


def parse(value: bytes | None, max_message_bytes: int) -> dict[str, Any]:
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


def check_fields(
    document: dict[str, Any], required: tuple[str, ...], allowed: frozenset[str], kind: str
) -> None:
    for name in required:
        if name not in document:
            raise InvalidEvent(Reason.MISSING_FIELD, "required field is missing", field=name)
    if not allowed.issuperset(document):
        extra = sorted(set(document) - allowed)[0]
        raise InvalidEvent(Reason.UNKNOWN_FIELD, f"not a {kind} event field", field=extra)


def check_values(values: Mapping[str, object], field: str, max_string: int) -> None:
    """Reject nested values and over-long strings among ``values``."""
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            if len(cast(str, value)) > max_string:  # cast: mypy does not narrow by ``kind``
                raise _too_long(f"{field}.{name}", max_string)
        elif kind not in SCALAR_TYPES:
            raise wrong_type(f"{field}.{name}", "a number, string, boolean or null", value)


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


def wrong_type(field: str, expected: str, value: object) -> InvalidEvent:
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else _json_type(value)
    return InvalidEvent(Reason.WRONG_TYPE, f"expected {expected}, got {shown}", field=field)


def _too_long(field: str, max_length: int) -> InvalidEvent:
    return InvalidEvent(
        Reason.INVALID_VALUE, f"string longer than {max_length} characters", field=field
    )


def text(value: object, field: str, max_length: int) -> str:
    if type(value) is not str:
        raise wrong_type(field, "a string", value)
    if not 1 <= len(value) <= max_length:
        raise InvalidEvent(
            Reason.INVALID_VALUE, f"must be 1-{max_length} characters long", field=field
        )
    return value


def optional(document: dict[str, Any], field: str, convert: Callable[[object], _T]) -> _T | None:
    # Absent is fine; an explicit null is a type error, as in the schema.
    return convert(document[field]) if field in document else None


def trace_id(value: object) -> str:
    return text(value, "trace_id", MAX_TEXT_ID)


def identifier(value: object, field: str) -> str:
    if type(value) is not str:
        raise wrong_type(field, "a string", value)
    if not is_identifier(value):
        raise InvalidEvent(
            Reason.INVALID_VALUE,
            f"{value[:80]!r} is not 1-64 characters of letters, digits, '.', '_' or '-'",
            field=field,
        )
    return value


def is_identifier(value: str) -> bool:
    # Remembered when valid: a stream repeats a handful of model ids and versions.
    if value in IDENTIFIERS:
        return True
    if _ID.fullmatch(value) is None:
        return False
    remember(IDENTIFIERS, value)
    return True


#: Model ids and versions found valid (bounded by ``remember``).
IDENTIFIERS: set[str] = set()


def remember(known: set[_T], value: _T) -> None:
    if len(known) >= _MAX_REMEMBERED:
        known.clear()
    known.add(value)


def timestamp_field(value: object) -> int:
    if type(value) is not str:
        raise wrong_type("timestamp", "an RFC 3339 date-time string", value)
    return timestamp_ms(value)


def prediction(value: object) -> float | int | str | bool:
    return outcome(value, "prediction")


def outcome(value: object, field: str) -> float | int | str | bool:
    # A prediction or a label: the same kinds of value.
    kind = type(value)
    if kind is str:
        text = cast(str, value)  # mypy does not narrow by ``kind``
        if len(text) > MAX_PREDICTION_STRING:
            raise _too_long(field, MAX_PREDICTION_STRING)
        return text
    if kind in (int, float, bool):
        return cast("float | int | bool", value)
    raise wrong_type(field, "a number, string or boolean", value)


def version(value: object) -> str:
    return identifier(value, "model_version")


def _number(value: object, field: str) -> float:
    if type(value) not in (int, float):
        raise wrong_type(field, "a number", value)
    return float(cast(float, value))


def score(value: object) -> float:
    return _number(value, "score")


def latency(value: object) -> float:
    latency = _number(value, "latency_ms")
    if latency < 0:
        raise InvalidEvent(Reason.OUT_OF_RANGE, "must not be negative", field="latency_ms")
    return latency


def attributes(value: object) -> Mapping[str, FeatureValue]:
    if type(value) is not dict:
        raise wrong_type("attributes", "an object", value)
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
    check_values(value, "attributes", _MAX_ATTRIBUTE_STRING)
    return value


@functools.lru_cache(maxsize=1024)
def _are_valid_attributes(items: tuple[tuple[str, object], ...]) -> bool:
    # Cached: producers send the same few segments (names and values) event after event. Values
    # that compare equal (1, 1.0, True) share an entry, and are all valid or all not.
    try:
        for name, _ in items:
            check_name(name, "attributes")
        check_values(dict(items), "attributes", _MAX_ATTRIBUTE_STRING)
    except InvalidEvent:
        return False
    return True
