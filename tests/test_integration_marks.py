"""Every test module under ``tests/integration/`` is marked ``integration``: the pure run
(``-m "not integration"``) runs beside the server tests and must not reach their servers."""

from __future__ import annotations

import ast
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parent / "integration"


def _marked(path: Path) -> bool:
    """Whether the module sets ``pytestmark`` to (a list holding) ``pytest.mark.integration``."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return "mark.integration" in ast.unparse(node.value)
    return False


def test_every_integration_test_module_is_marked():
    modules = sorted(INTEGRATION.glob("test_*.py"))
    assert modules
    assert [p.name for p in modules if not _marked(p)] == []
