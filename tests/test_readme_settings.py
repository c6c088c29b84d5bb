"""README's configuration table names every setting a worker reads."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from streams.settings import SECRETS, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def configuration_table() -> str:
    text = README.read_text()
    start = text.index("### Configuration")
    return text[start : text.index("\n## ", start)]


def named(table: str, name: str) -> bool:
    """``DRIFTLINE_A_B_C`` in full, or as ``_C`` / ``_B_C`` in a row that names a sibling
    ``DRIFTLINE_A...`` (how rows group related variables)."""
    variable = f"DRIFTLINE_{name.upper()}"
    if f"`{variable}`" in table:
        return True
    parts = name.upper().split("_")
    rows = table.splitlines()
    return any(
        f"`_{'_'.join(parts[cut:])}`" in row and f"`DRIFTLINE_{'_'.join(parts[:cut])}" in row
        for cut in range(1, len(parts))
        for row in rows
    )


def test_every_setting_has_a_row():
    table = configuration_table()
    missing = [f.name for f in fields(Settings) if not named(table, f.name)]
    assert not missing, f"README's configuration table lacks {missing}"


def test_every_secret_says_it_may_come_from_a_file():
    table = configuration_table()
    for name in SECRETS:
        variable = f"DRIFTLINE_{name.upper()}"
        assert f"`{variable}_FILE`" in table or f"`{variable}` (or `_FILE`)" in table, (
            f"README's configuration table does not say {variable} may come from a file"
        )
