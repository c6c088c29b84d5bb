"""The core stays pure: it imports the standard library, numpy, river and orjson only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).parents[2] / "streams" / "core"
ALLOWED_THIRD_PARTY = {"numpy", "river", "orjson"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            inside_core = node.module.startswith("streams.core")
            roots.update(() if inside_core else [node.module.split(".")[0]])
    return roots


def test_the_core_imports_no_kafka_redis_or_faust():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        foreign = imported_roots(path) - sys.stdlib_module_names - ALLOWED_THIRD_PARTY
        assert foreign == set(), f"{path.name} imports {foreign}"


def test_the_walker_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import faust\nfrom redis.asyncio import Redis\nfrom streams.core import x\n")
    assert imported_roots(module) == {"faust", "redis"}
