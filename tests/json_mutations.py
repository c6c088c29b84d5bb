"""Every way to break a JSON document by one value: each of its nodes (the whole document
too) replaced by a value of another shape. Parsers of stored or hand-written documents run
through them, to show that a malformed one raises their own error and nothing deeper."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

__all__ = ["ODD_VALUES", "mutations", "refusals", "replaced"]

ODD_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, True, "", "x", [], [1], [[1]], {}, {"a": 1})


def mutations(document: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """``(path, mutated document)`` for each node and each of ``ODD_VALUES``."""
    for path in _paths(document):
        for value in ODD_VALUES:
            yield path, replaced(document, path, value)


def refusals(
    document: Any,
    read: Callable[[Any], object],
    error: type[Exception],
    *,
    max_depth: int | None = None,
) -> int:
    """How many of ``document``'s mutations (of nodes at most ``max_depth`` deep) ``read``
    refused with ``error``; any other exception fails the test, naming the node."""
    refused = 0
    for where, mutated in mutations(document):
        if max_depth is not None and len(where) > max_depth:
            continue
        try:
            read(mutated)
        except error:
            refused += 1
        except Exception as exc:  # the point: no other error type
            pytest.fail(f"{where}: {type(exc).__name__}: {exc}")
    return refused


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ()
    )  # fmt: skip
    for key, child in children:
        yield from _paths(child, (*prefix, key))


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``document`` with the node at ``path`` replaced by ``value``."""
    if not path:
        return value
    document = copy.deepcopy(document)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document
