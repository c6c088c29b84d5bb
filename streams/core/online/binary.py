"""What DDM and EDDM share: a binary error stream, warning and drift flags, and the checks
of their stored state (a version, three parameters, their own counters, the two flags)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from streams.core import plain_data as check

__all__ = ["BinaryDriftDetector"]


class BinaryDriftDetector:
    """Base of a drift detector on a stream of errors (1 for an error) with plain state.

    A subclass names itself (``NAME``, in messages), lists the snapshot fields it adds
    between ``params`` and ``flags`` (``_FIELDS``) and implements ``update``.
    """

    NAME: ClassVar[str]
    SNAPSHOT_VERSION: ClassVar[int] = 1
    _FIELDS: ClassVar[tuple[str, ...]]
    _drift_detected: bool
    _warning_detected: bool

    @property
    def drift_detected(self) -> bool:
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        return self._warning_detected

    def _flags(self) -> list[bool]:
        return [self._drift_detected, self._warning_detected]

    @classmethod
    def _checked(cls, snapshot: Any) -> tuple[Mapping[str, Any], list[Any]]:
        """``snapshot`` of this version with every field, and its three parameters."""
        raw = check.version(snapshot, cls.NAME, cls.SNAPSHOT_VERSION)
        check.mapping(raw, cls.NAME, ("params", *cls._FIELDS, "flags"))
        return raw, check.listing(raw["params"], f"{cls.NAME}.params", length=3)

    def _restore_flags(self, raw: Mapping[str, Any]) -> None:
        flags = check.listing(raw["flags"], f"{self.NAME}.flags", length=2)
        self._drift_detected = check.flag(flags[0], f"{self.NAME}.drift_detected")
        self._warning_detected = check.flag(flags[1], f"{self.NAME}.warning_detected")
