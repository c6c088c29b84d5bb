"""What several commands derive from ``Settings`` the same way: the PII policy holding its key,
and the model spec paths to load."""

from __future__ import annotations

from pathlib import Path

from streams.core.contract.pii import PiiPolicy
from streams.settings import Settings

__all__ = ["pii_policy", "spec_paths"]


def pii_policy(settings: Settings) -> PiiPolicy:
    """The PII policy, holding the key (``DRIFTLINE_PII_KEY`` or ``_FILE``)."""
    key = settings.pii_key.encode() if settings.pii_key else None
    return PiiPolicy(key=key, mode="drop" if settings.pii == "drop" else "hash")


def spec_paths(flags: list[Path], settings: Settings) -> list[Path]:
    """The ``--spec`` files and folders, then ``DRIFTLINE_SPECS_DIR`` if set."""
    return [*flags, *([settings.specs_dir] if settings.specs_dir else [])]
