"""The maps a newcomer reads first (docs/ARCHITECTURE.md and README's layout) name every
package of ``streams/``, every module of the core, the adapters and the top level (client/,
simulation/ and stack/ are described as a whole), and every top-level folder: a new one
cannot be added without saying where it sits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STREAMS = ROOT / "streams"


def _fenced(text: str, after: str) -> str:
    """The first fenced block after the heading ``after``."""
    return text[text.index(after) :].split("```")[1]


ARCHITECTURE = _fenced((ROOT / "docs" / "ARCHITECTURE.md").read_text(), "## The map")
LAYOUT = _fenced((ROOT / "README.md").read_text(), "## Layout")


def _names(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][\w.]*", text))


def _packages() -> list[Path]:
    return sorted(p.parent for p in STREAMS.rglob("__init__.py") if p.parent != STREAMS)


@pytest.mark.parametrize("package", _packages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_is_on_the_architecture_map(package):
    assert f"{package.name}/" in ARCHITECTURE


@pytest.mark.parametrize(
    "module",
    sorted(
        m
        for m in [
            *STREAMS.glob("*.py"),
            *STREAMS.glob("core/**/*.py"),
            *STREAMS.glob("adapters/**/*.py"),
        ]
        if m.name != "__init__.py"
    ),
    ids=lambda m: str(m.relative_to(ROOT)),
)
def test_every_module_is_on_the_architecture_map(module):
    assert module.name in ARCHITECTURE or module.stem in _names(ARCHITECTURE), (
        f"{module.relative_to(ROOT)} is not on docs/ARCHITECTURE.md's map"
    )


@pytest.mark.parametrize(
    "folder",
    sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in {"driftline.egg-info"}
    ),
)
def test_every_top_level_folder_is_in_the_readme_layout(folder):
    assert f"{folder}/" in LAYOUT
