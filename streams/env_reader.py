"""The one reader of ``DRIFTLINE_*`` variables: a frozen dataclass's fields from a mapping.

``Settings`` (the worker, replay, the clients) and ``StackConfig`` (the local servers) both
read their fields here, so every variable is parsed the same way and a bad value is reported
the same way: the variable, the value, and what was expected. The reader is handed the
mapping (``os.environ`` at an entry point); it never looks at the process environment itself.

Each field ``name`` is read from ``DRIFTLINE_<NAME>``; an empty (or all-blank) value counts
as not set. Values are converted by the field's real type (``typing.get_type_hints``), not
by the spelling of its annotation:

=====================  ==========================================================
``str``                as given (a password may have spaces at either end)
``int``, ``float``     ``int(...)``, ``float(...)``
``bool``               true/1/yes or false/0/no, any case
``pathlib.Path``       ``Path(...)``
``Literal[...]``       one of the listed strings
``X | None``           as ``X`` (None is the default, not a value one can write)
=====================  ==========================================================

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Example:
...     port: int = 1
...     verbose: bool = False
>>> read_env(Example, {"DRIFTLINE_PORT": "8080", "DRIFTLINE_VERBOSE": "yes"})
{'port': 8080, 'verbose': True}
>>> read_env(Example, {"DRIFTLINE_PORT": "eighty"})
Traceback (most recent call last):
...
ValueError: DRIFTLINE_PORT='eighty': expected an integer
"""

from __future__ import annotations

import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

__all__ = ["PREFIX", "read_env", "variable"]

PREFIX = "DRIFTLINE_"
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_EXPECTED = {int: "an integer", float: "a number"}


def variable(name: str) -> str:
    """The environment variable of field ``name``: ``kafka_port`` -> ``DRIFTLINE_KAFKA_PORT``."""
    return PREFIX + name.upper()


def read_env(
    cls: type, environ: Mapping[str, str], *, skip: Collection[str] = ()
) -> dict[str, Any]:
    """The fields of dataclass ``cls`` set in ``environ``, converted to their types.

    Parameters
    ----------
    cls
        A dataclass whose fields are named after their variables (see ``variable``).
    environ
        Usually ``os.environ``, passed in by the entry point.
    skip
        Fields that are not read from the environment (e.g. set by a command-line flag).

    Returns
    -------
    dict[str, Any]
        Field name -> value, only for the variables that are set; the rest keep their
        defaults when the caller builds ``cls(**values)``.

    Raises
    ------
    ValueError
        If a value does not fit its field's type; the message names the variable.
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in fields(cls):
        raw = environ.get(variable(spec.name))
        if spec.name in skip or raw is None or not raw.strip():
            continue
        values[spec.name] = _convert(variable(spec.name), hints[spec.name], raw)
    return values


def _convert(name: str, kind: Any, raw: str) -> Any:
    """``raw`` as a ``kind``, or ValueError naming ``name`` and what it expected."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        # ``X | None``: None is only ever the default (an empty variable means "not set").
        (kind,) = [arg for arg in args if arg is not type(None)]
        args = typing.get_args(kind)
    if typing.get_origin(kind) is Literal:
        if raw not in args:
            raise ValueError(f"{name}={raw!r} must be one of {', '.join(map(str, args))}")
        return raw
    if kind is bool:
        if raw.strip().lower() not in _BOOLEANS:
            raise ValueError(f"{name}={raw!r}: expected true or false")
        return _BOOLEANS[raw.strip().lower()]
    if kind in _EXPECTED:
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r}: expected {_EXPECTED[kind]}") from None
    if kind is Path:
        return Path(raw.strip())
    if kind is str:
        return raw
    raise TypeError(f"{name}: a {kind} cannot be read from the environment")
