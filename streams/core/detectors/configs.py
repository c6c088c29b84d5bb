"""Every detector's config, by name: the defaults, then settings, model and feature overrides.

Overrides are plain data, ``{"psi": {"threshold": 0.15}, "cusum": {"enabled": true}}``,
from ``DRIFTLINE_DETECTORS`` and from a model spec's ``detectors`` (model level, then per
feature): each layer replaces only the fields it names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from streams.core.detectors.base import DetectorConfig

__all__ = ["DetectorConfigs"]

_TYPES: dict[str, tuple[type, ...]] = {"bool": (bool,), "int": (int,), "float": (int, float)}
_SAYS = {"bool": "true or false", "int": "an integer", "float": "a number"}


class DetectorConfigs(Mapping[str, DetectorConfig]):
    """A read-only mapping of detector name -> its frozen config."""

    __slots__ = ("_configs",)

    def __init__(self, configs: Mapping[str, DetectorConfig]) -> None:
        self._configs = dict(configs)

    def __getitem__(self, name: str) -> DetectorConfig:
        return self._configs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DetectorConfigs) and self._configs == other._configs

    def __hash__(self) -> int:
        return hash(tuple(self._configs.items()))

    def __repr__(self) -> str:
        return f"DetectorConfigs({self._configs!r})"

    def overridden(self, raw: Mapping[str, Any] | None) -> DetectorConfigs:
        """These configs with ``raw``'s fields replaced; ``ValueError`` naming an unknown
        detector or field, a value of the wrong type, or one its config refuses."""
        if not raw:
            return self
        if not isinstance(raw, Mapping):
            raise ValueError("detector settings are an object of detector name -> settings")
        configs = dict(self._configs)
        for name, fields in raw.items():
            if name not in configs:
                raise ValueError(f"unknown detector {name!r}; known: {', '.join(configs)}")
            configs[name] = _replaced(name, configs[name], fields)
        return DetectorConfigs(configs)


def _replaced(name: str, config: DetectorConfig, raw: Any) -> DetectorConfig:
    if not isinstance(raw, Mapping):
        raise ValueError(f"detector {name!r}: settings are an object")
    known = {f.name: str(f.type) for f in dataclasses.fields(config)}
    for key, value in raw.items():
        if key not in known:
            raise ValueError(
                f"detector {name!r}: unknown setting {key!r}; known: {', '.join(known)}"
            )
        if type(value) not in _TYPES[known[key]]:
            raise ValueError(f"detector {name!r}: {key} must be {_SAYS[known[key]]}, got {value!r}")
    try:
        return dataclasses.replace(config, **raw)
    except ValueError as exc:
        raise ValueError(f"detector {name!r}: {exc}") from exc
