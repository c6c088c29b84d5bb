"""The examples in every ``streams/core`` docstring run and print what they say (river's habit:
a detector's example shows where it fires, and doubles as a regression test)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import streams.core

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(streams.core.__path__, f"{streams.core.__name__}.")
)


def test_every_core_module_is_collected() -> None:
    # A walk that found nothing (a moved package) would make every example pass unseen.
    assert "streams.core.online.adwin" in MODULES
    assert len(MODULES) >= 30


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    results = doctest.testmod(module)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"
    if _has_examples(module):
        assert results.attempted > 0, "the examples in its source were not collected"


def _has_examples(module: ModuleType) -> bool:
    assert module.__file__ is not None
    with open(module.__file__, encoding="utf-8") as source:
        return any(line.lstrip().startswith(">>> ") for line in source)
