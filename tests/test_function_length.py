"""No function in ``streams/`` is longer than 60 lines.

A function's length is counted from its ``def`` line to its last line, docstring, comments and
nested functions included: a builder that hides its parts in closures is as long as it looks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "streams"
MAX_LINES = 60


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """Every function in ``tree`` with its qualified name and length in lines."""
    found: list[tuple[str, int]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            assert node.end_lineno is not None
            found.append((name, node.end_lineno - node.lineno + 1))
            found.extend(_functions(node, f"{name}.<locals>."))
        elif isinstance(node, ast.ClassDef):
            found.extend(_functions(node, f"{prefix}{node.name}."))
        else:
            found.extend(_functions(node, prefix))
    return found


def _too_long() -> dict[tuple[str, str], int]:
    lengths: dict[tuple[str, str], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, lines in _functions(tree):
            if lines > MAX_LINES:
                lengths[path.relative_to(PACKAGE).as_posix(), name] = lines
    return lengths


def test_no_function_is_over_the_limit() -> None:
    over = _too_long()
    assert not over, f"functions over {MAX_LINES} lines (split them): {over}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    return 1\n", [("f", 2)]),
        (
            "class C:\n    async def m(self):\n        def inner():\n            pass\n"
            "        return inner\n",
            [("C.m", 4), ("C.m.<locals>.inner", 2)],
        ),
        ("@decorator\ndef g(\n    a,\n):\n    pass\n", [("g", 4)]),
    ],
)
def test_lengths_are_counted_from_def_to_last_line(
    source: str, expected: list[tuple[str, int]]
) -> None:
    assert _functions(ast.parse(source)) == expected
