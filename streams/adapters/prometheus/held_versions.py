"""Which model versions a worker still holds after a rebalance, told by what it processes.

A rebalance may move a model to another worker. The worker it left would go on exporting
the model's last values, frozen, beside the new owner's live ones, for as long as it runs:
two lines per feature on a dashboard, one of them stuck. Ownership is the consumer group's
business (and, keyed, the producers' partitioner), so it is read from the work instead:
after a rebalance, every version this worker processes (a batch of its events or labels) is
held. One it has not processed within the grace period belongs to another worker now, or
is silent; either way its series leave, and a silent one's come back with its next batch.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["HeldVersions"]

Version = tuple[str, str]


class HeldVersions:
    """The versions processed since the last rebalance, and those it left behind.

    Examples
    --------
    >>> held = HeldVersions(grace_s=60)
    >>> held.rebalanced(now=0.0)
    >>> held.saw([("churn", "v1")])
    >>> held.moved([("churn", "v1"), ("fraud", "v2")], now=30.0)  # within the grace: none
    set()
    >>> held.moved([("churn", "v1"), ("fraud", "v2")], now=60.0)
    {('fraud', 'v2')}
    >>> held.moved([("fraud", "v2")], now=90.0)  # once per rebalance
    set()
    """

    def __init__(self, *, grace_s: float = 60.0) -> None:
        if grace_s < 0:
            raise ValueError(f"grace_s must not be negative, got {grace_s}")
        self.grace_s = grace_s
        self._since: float | None = None  # the last rebalance not judged yet
        self._seen: set[Version] = set()

    def rebalanced(self, *, now: float) -> None:
        """A new assignment at ``now`` (seconds, any monotonic clock)."""
        self._since, self._seen = now, set()

    def saw(self, versions: Iterable[Version]) -> None:
        """This worker processed ``versions``."""
        if self._since is not None:
            self._seen.update(versions)

    def moved(self, exported: Iterable[Version], *, now: float) -> set[Version]:
        """The versions of ``exported`` not processed since the last rebalance, once its
        grace period is over (then that rebalance is judged); else none."""
        if self._since is None or now - self._since < self.grace_s:
            return set()
        seen, self._since, self._seen = self._seen, None, set()
        return {version for version in exported if version not in seen}
