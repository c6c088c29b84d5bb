"""Stored monitor state of version 2 (before the detector registry), read as version 3.

Version 2 kept one tally per column for PSI, missing and out-of-range values together
(``windows``), every feature's ADWIN and the open block in one ``online`` object, and the
window's anomaly count on the monitor. Version 3 keeps each detector's own state; this
turns the one into the other, so state written before an upgrade goes on where it left off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.core import plain_data as check

__all__ = ["upgrade_v2"]

_ONLINE_VERSION = 2


def upgrade_v2(raw: Mapping[str, Any], block_names: tuple[str, ...] | None) -> dict[str, Any]:
    """``raw`` (version 2) as version 3; ``block_names``: the features of the monitor's block
    means (None where it has none), in the order version 2 listed their ADWINs."""
    check.mapping(raw, "monitor", ("windows", "window_anomalies", "window_count"))
    windows = check.mapping(raw["windows"], "windows")
    detectors = {key: _window(check.mapping(w, "window")) for key, w in windows.items()}
    blocks = None
    online = raw.get("online")
    if online is not None and block_names is not None:
        online = check.version(online, "online", _ONLINE_VERSION)
        check.mapping(online, "online", ("detectors", "sums", "counts", "rows"))
        adwins = check.listing(online["detectors"], "online.detectors", length=len(block_names))
        for name, adwin in zip(block_names, adwins, strict=True):
            detectors.setdefault(f"feature:{name}", {})["adwin"] = {"adwin": adwin}
        blocks = {key: online[key] for key in ("sums", "counts", "rows")}
    anomalies = {"anomalies": raw["window_anomalies"], "seen": raw["window_count"]}
    return {**raw, "version": 3, "detectors": detectors, "blocks": blocks,
            "model_detectors": {"mahalanobis": anomalies}}  # fmt: skip


def _window(window: Mapping[str, Any]) -> dict[str, Any]:
    check.mapping(window, "window", ("counts", "missing", "out_of_range", "seen"))
    seen = check.integer(window["seen"], "window.seen")
    missing = check.integer(window["missing"], "window.missing", high=seen)
    return {
        "psi": {"counts": window["counts"]},
        "missing_rate": {"missing": missing, "seen": seen},
        "out_of_range": {"outside": window["out_of_range"], "present": seen - missing},
    }
