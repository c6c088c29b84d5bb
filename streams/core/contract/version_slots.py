"""At most so many watched versions per model; a new deployment retires the least recently seen."""

from __future__ import annotations

from streams.core.errors import InvalidEvent, Reason

__all__ = ["VersionSlots"]


class VersionSlots:
    """The versions of each model that are watched, and when each was last seen.

    A model may have ``per_model`` watched versions. When another version arrives and the
    model is full, the least recently seen version is retired (its monitor and stored state
    are dropped by the caller, see ``take_retired``) if it has been idle for at least
    ``idle_s``; otherwise the new version's event is rejected with ``version_limit``. So a
    new deployment is watched as soon as one old version has gone quiet, while a flood of
    version names cannot churn the monitors of versions that are live.

    Time is given by the caller (``now``, seconds); this class never reads a clock.

    Parameters
    ----------
    per_model
        Watched versions per model.
    idle_s
        How long a version must have been unseen before a new one may retire it.

    Examples
    --------
    >>> slots = VersionSlots(per_model=2, idle_s=60)
    >>> slots.admit("churn", "v1", now=0); slots.admit("churn", "v2", now=10)
    >>> slots.admit("churn", "v3", now=65)
    >>> slots.take_retired()
    [('churn', 'v1')]
    """

    def __init__(self, *, per_model: int, idle_s: float) -> None:
        if per_model < 1:
            raise ValueError(f"per_model must be positive, got {per_model}")
        if idle_s < 0:
            raise ValueError(f"idle_s must not be negative, got {idle_s}")
        self.per_model = per_model
        self.idle_s = idle_s
        self._seen: dict[str, dict[str, float]] = {}
        self._retired: list[tuple[str, str]] = []

    def admit(self, model_id: str, model_version: str, *, now: float) -> None:
        """Mark the version seen at ``now``; raise ``InvalidEvent`` if it cannot be watched."""
        versions = self._seen.get(model_id)
        if versions is None:
            versions = self._seen[model_id] = {}
        elif model_version not in versions and len(versions) >= self.per_model:
            self._retire_one(model_id, versions, now)
        versions[model_version] = now

    def watched(self, model_id: str) -> list[str]:
        """The model's watched versions, least recently seen first."""
        versions = self._seen.get(model_id, {})
        return sorted(versions, key=versions.__getitem__)

    def forget(self, model_id: str) -> None:
        """Drop a model's versions (its warm-up expired: the model is no longer known)."""
        self._seen.pop(model_id, None)

    def take_retired(self) -> list[tuple[str, str]]:
        """(model, version) pairs retired since the last call, for the caller to drop.

        A version that was retired and then admitted again (possible with ``idle_s=0``) is
        watched, so it is not in the list.
        """
        retired, self._retired = self._retired, []
        return [(m, v) for m, v in retired if v not in self._seen.get(m, ())]

    def _retire_one(self, model_id: str, versions: dict[str, float], now: float) -> None:
        oldest = min(versions, key=versions.__getitem__)
        if now - versions[oldest] < self.idle_s:
            raise InvalidEvent(
                Reason.VERSION_LIMIT,
                f"already watching {self.per_model} versions of this model, each seen within "
                f"the last {self.idle_s:g} s",
                field="model_version",
            )
        del versions[oldest]
        self._retired.append((model_id, oldest))
