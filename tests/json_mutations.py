"""Every way to break a JSON document by one value: each of its nodes (the whole document
too) replaced by a value of another shape. Parsers of stored or hand-written documents run
through them, to show that a malformed one raises their own error and nothing deeper."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

__all__ = ["ODD_VALUES", "mutations"]

ODD_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, True, "", "x", [], [1], [[1]], {}, {"a": 1})


def mutations(document: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """``(path, mutated document)`` for each node and each of ``ODD_VALUES``."""
    for path in _paths(document):
        for value in ODD_VALUES:
            yield path, _replaced(document, path, value)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ()
    )  # fmt: skip
    for key, child in children:
        yield from _paths(child, (*prefix, key))


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    document = copy.deepcopy(document)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document
