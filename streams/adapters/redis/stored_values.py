"""The values the state store reads and writes for a model version: what one batch changed
(``MonitorUpdate``), what Redis returned (``RawMonitor``) and what it parses to
(``StoredMonitor``), and a key set aside (``Quarantined``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from streams.core.errors import InvalidState

__all__ = ["MonitorUpdate", "Quarantined", "RawMonitor", "StoredMonitor"]


@dataclass(frozen=True, slots=True)
class StoredMonitor:
    """A monitor's stored state; ``snapshot`` is None for a profile registered up front."""

    snapshot: dict[str, Any] | None
    profile: dict[str, Any] | None
    reference: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RawMonitor:
    """A model version's stored values as Redis returned them, not yet parsed."""

    state: bytes | None
    profile: bytes | None
    reference: list[bytes]

    def parse(self) -> StoredMonitor:
        """The values as JSON; ``InvalidState`` (naming the key kind, never the bytes) if
        one is not a JSON object."""
        return StoredMonitor(
            snapshot=None if self.state is None else _json_object(self.state, "state"),
            profile=None if self.profile is None else _json_object(self.profile, "profile"),
            reference=[_json_object(chunk, "reference") for chunk in self.reference],
        )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A key moved aside: its kind (a bounded label value), old and new names."""

    kind: str
    key: str
    moved_to: str


@dataclass(frozen=True, slots=True)
class MonitorUpdate:
    """What one batch changed for one model version. ``whole``: ``reference`` is every
    chunk gathered, to replace what is stored (a state Redis lost written again), not the
    chunks since the last save, to append."""

    model_id: str
    model_version: str
    snapshot: dict[str, Any]
    profile: dict[str, Any] | None
    reference: list[dict[str, Any]]
    whole: bool = False


def _json_object(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson's message may quote the bytes: say only what is wrong.
        raise InvalidState(f"stored {kind} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidState(f"stored {kind} is not a JSON object")
    return value
