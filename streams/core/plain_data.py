"""Checks of plain data read back from storage: every field's type, size and bounds.

Stored state comes back from Redis, which every service and operator that reaches it can
write: each ``restore`` reads it through these checks and raises ``InvalidState`` naming the
field (never the value), rather than a ``TypeError`` from deep inside a detector later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from streams.core.errors import InvalidSpec, InvalidState

__all__ = [
    "InvalidState",
    "flag",
    "integer",
    "listing",
    "mapping",
    "number",
    "numbers",
    "optional",
    "restoring",
    "text",
    "version",
]

T = TypeVar("T")
#: Longest list any stored state may hold (window rows, bucket rows, categories).
MAX_ITEMS = 10_000_000
_BIG = 2**62


def mapping(raw: Any, name: str, keys: tuple[str, ...] = ()) -> Mapping[str, Any]:
    """``raw`` as a JSON object holding at least ``keys``."""
    if not isinstance(raw, Mapping):
        raise InvalidState(f"{name}: expected an object")
    missing = [k for k in keys if k not in raw]
    if missing:
        raise InvalidState(f"{name}: missing {', '.join(missing)}")
    return raw


def version(raw: Any, name: str, expected: int) -> Mapping[str, Any]:
    """``raw`` as an object whose ``version`` is ``expected`` (an older format is refused)."""
    document = mapping(raw, name)
    found = document.get("version")
    if type(found) is not int or found != expected:
        raise InvalidState(f"{name}: version {found!r} is not {expected}")
    return document


def listing(
    raw: Any, name: str, *, length: int | None = None, max_length: int = MAX_ITEMS
) -> list[Any]:
    """``raw`` as a list, of exactly ``length`` items if given, else at most ``max_length``."""
    if not isinstance(raw, list):
        raise InvalidState(f"{name}: expected a list")
    if length is not None and len(raw) != length:
        raise InvalidState(f"{name}: expected {length} items, found {len(raw)}")
    if len(raw) > max_length:
        raise InvalidState(f"{name}: more than {max_length} items")
    return raw


def integer(raw: Any, name: str, *, low: int = 0, high: int = _BIG) -> int:
    """``raw`` as an int (not a bool) within [low, high]."""
    if type(raw) is not int or not low <= raw <= high:
        raise InvalidState(f"{name}: expected an integer in [{low}, {high}]")
    return raw


def number(raw: Any, name: str, *, low: float = -math.inf, high: float = math.inf) -> float:
    """``raw`` as a finite float within [low, high] (an int is taken as a float)."""
    if type(raw) not in (int, float) or not math.isfinite(raw) or not low <= raw <= high:
        raise InvalidState(f"{name}: expected a finite number in [{low}, {high}]")
    return float(raw)


def numbers(raw: Any, name: str, *, length: int | None = None, low: float = -math.inf,
            high: float = math.inf, missing: bool = False) -> list[float]:  # fmt: skip
    """A list of finite numbers in [low, high]; None is NaN where ``missing`` allows it."""
    values = listing(raw, name, length=length)
    if missing:
        return [math.nan if v is None else number(v, name, low=low, high=high) for v in values]
    return [number(v, name, low=low, high=high) for v in values]


def flag(raw: Any, name: str) -> bool:
    if type(raw) is not bool:
        raise InvalidState(f"{name}: expected true or false")
    return raw


def text(raw: Any, name: str, *, max_length: int = 10_000) -> str:
    if not isinstance(raw, str) or len(raw) > max_length:
        raise InvalidState(f"{name}: expected a string of at most {max_length} characters")
    return raw


def optional(check: Callable[..., T], raw: Any, name: str, **bounds: Any) -> T | None:
    """``check(raw, name, **bounds)``, or None where ``raw`` is None."""
    return None if raw is None else check(raw, name, **bounds)


@contextmanager
def restoring(what: str) -> Iterator[None]:
    """Turn any error of restoring ``what`` from plain data into ``InvalidState``.

    The explicit checks name the field; this catches what they do not foresee (a list
    where numpy wanted a matrix), so no malformed state escapes as another error type.
    """
    try:
        yield
    except InvalidState:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError,
            InvalidSpec) as exc:  # fmt: skip
        raise InvalidState(f"{what}: {type(exc).__name__} while restoring") from exc
