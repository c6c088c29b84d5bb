"""Model specs and reference profiles from JSON files: one document per file (specs also
from a folder of them). Every fault, of the file or of what it holds, names the file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson

from streams.adapters.files.validation_labels import references_of_profiles
from streams.core.contract.spec import ModelSpec
from streams.core.drift.profile import ReferenceProfile
from streams.core.errors import InvalidSpec, InvalidState

__all__ = ["load_profile_files", "load_spec_files"]

_T = TypeVar("_T")


def load_spec_files(paths: Iterable[Path]) -> list[ModelSpec]:
    """Read every ``*.json`` named or inside a named folder; ``InvalidSpec`` names the file."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return [_parsed(file, ModelSpec.from_dict, "a model spec")[1] for file in files]


def load_profile_files(
    paths: Iterable[Path],
) -> dict[Path, tuple[Mapping[str, Any], ReferenceProfile]]:
    """Each file's document and its profile (``driftline profile --out``); ``InvalidSpec``
    names a file that does not hold one."""
    return {path: _parsed(path, _profile, "a Driftline profile") for path in paths}


def _profile(raw: Any) -> ReferenceProfile:
    profile = ReferenceProfile.from_dict(raw)
    references_of_profiles([raw])  # its labelled reference, if any, must be readable too
    return profile


def _parsed(file: Path, parse: Callable[[Any], _T], what: str) -> tuple[Any, _T]:
    try:
        raw = orjson.loads(file.read_bytes())
        return raw, parse(raw)
    except (OSError, orjson.JSONDecodeError, InvalidSpec, InvalidState) as exc:
        raise InvalidSpec(f"{file} is not {what}: {exc}") from exc
