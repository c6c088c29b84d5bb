"""A batch of events as columns: numpy for numbers, lists for categories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np

from streams.core import plain_data as check
from streams.core.contract.event import FeatureValue, PredictionEvent

__all__ = ["Columns", "category_of"]

# Beyond 2**53 a float stands for many integers: keep its own text there.
_EXACT_INTEGERS = 2.0**53
_TEXT_OR_NONE = frozenset({str, type(None)})


def category_of(value: object) -> str | None:
    """The category a value counts as; booleans and numbers by their JSON text.

    A whole float counts as the integer it equals, so a CSV cell read as ``1.0`` and an
    event's ``1`` are one category, on every path (profiles, monitors, label joins).

    >>> [category_of(v) for v in (1, 1.0, -0.0, 2.5, True, "1.0", None)]
    ['1', '1', '0', '2.5', 'true', '1.0', None]
    """
    if value is None or type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INTEGERS:
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class Columns:
    """``numeric[:, j]`` holds feature ``numeric_names[j]`` (NaN = missing);
    ``categorical[name]`` holds category strings (None = missing)."""

    numeric_names: tuple[str, ...]
    numeric: np.ndarray
    categorical: dict[str, list[str | None]]

    def __len__(self) -> int:
        return len(self.numeric)

    @classmethod
    def from_events(
        cls,
        events: Sequence[PredictionEvent],
        numeric_names: Sequence[str],
        categorical_names: Sequence[str],
    ) -> Columns:
        numeric_names = tuple(numeric_names)
        features = [event.features for event in events]
        numeric = _numeric_matrix(features, numeric_names)
        categorical = {name: _categories(features, name) for name in categorical_names}
        return cls(numeric_names, numeric, categorical)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (NaN as null)."""
        # numpy's stubs refuse None here; it makes an object array, whose NaNs are None.
        mask = np.isnan(self.numeric)
        numeric = np.where(mask, None, self.numeric).tolist()  # type: ignore[call-overload]
        return {"numeric_names": list(self.numeric_names), "numeric": numeric,
                "categorical": self.categorical}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Columns:
        """Columns from ``to_dict``'s form; ``InvalidState`` if the columns disagree."""
        names = tuple(
            check.text(n, "numeric_names")
            for n in check.listing(raw["numeric_names"], "numeric_names")
        )
        rows = check.listing(raw["numeric"], "numeric")
        numeric = np.array(
            [check.numbers(r, "numeric", length=len(names), missing=True) for r in rows],
            dtype=float,
        ).reshape(-1, len(names))
        categorical = {
            check.text(k, "categorical"): [
                None if c is None else check.text(c, "categorical")
                for c in check.listing(v, "categorical", length=len(rows))
            ]
            for k, v in check.mapping(raw["categorical"], "categorical").items()
        }
        return cls(names, numeric, categorical)


def _numeric_matrix(
    features: Sequence[Mapping[str, FeatureValue]], names: tuple[str, ...]
) -> np.ndarray:
    """``features`` as rows of ``names``' values, NaN where a value is missing or null."""
    if not names:
        return np.empty((len(features), 0))
    get = itemgetter(*names)
    try:
        rows: list[Any] = list(map(get, features))
        values = rows if len(names) == 1 else chain.from_iterable(rows)  # 1 name: no tuples
    except KeyError:  # an optional feature is absent: the slow path, only for such batches
        rows = [_values(f, names) for f in features]
        values = chain.from_iterable(rows)
    try:
        # One flat pass in C, ten times np.array's cost on a list of tuples; it refuses None.
        flat = np.fromiter(values, dtype=float, count=len(rows) * len(names))
    except (TypeError, ValueError):
        # None becomes NaN under dtype=float; strings in a numeric column were rejected upstream.
        flat = np.array(rows, dtype=float)
    return flat.reshape(len(features), len(names))


def _categories(features: Sequence[Mapping[str, FeatureValue]], name: str) -> list[str | None]:
    """One feature's categories; a column of strings (and nulls) is its own."""
    column = [f.get(name) for f in features]
    if _TEXT_OR_NONE.issuperset(map(type, column)):
        return cast("list[str | None]", column)
    return list(map(category_of, column))


def _values(features: Mapping[str, FeatureValue], names: tuple[str, ...]) -> tuple[Any, ...]:
    if not names:
        return ()
    try:
        values = itemgetter(*names)(features)
    except KeyError:  # an optional feature is absent: the slow path, only for such events
        return tuple(features.get(name) for name in names)
    return values if len(names) > 1 else (values,)
