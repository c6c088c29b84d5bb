"""Model specs from JSON files: one spec per file, or a folder of them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from streams.core.contract.spec import ModelSpec
from streams.core.errors import InvalidSpec

__all__ = ["load_spec_files"]


def load_spec_files(paths: Iterable[Path]) -> list[ModelSpec]:
    """Read every ``*.json`` named or inside a named folder; ``InvalidSpec`` names the file."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    specs = []
    for file in files:
        try:
            specs.append(ModelSpec.from_dict(orjson.loads(file.read_bytes())))
        except (OSError, orjson.JSONDecodeError, InvalidSpec) as exc:
            raise InvalidSpec(f"{file}: {exc}") from exc
    return specs
