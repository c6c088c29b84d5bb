"""RFC 3339 UTC timestamps for events: ``2026-11-23T08:00:00.250Z``.

A timestamp without a zone is the mistake this module exists to prevent: a naive
``datetime`` is refused rather than guessed at (local time? UTC?).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["Rfc3339Clock", "rfc3339"]


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC with microseconds, ``Z`` for the zone.

    Raises
    ------
    ValueError
        When ``moment`` has no zone.

    Examples
    --------
    >>> from datetime import timedelta, timezone
    >>> rfc3339(datetime(2026, 11, 23, 9, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1))))
    '2026-11-23T08:00:00.250000Z'
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"timestamp {moment.isoformat()} has no time zone: pass an aware datetime, "
            "e.g. datetime.now(timezone.utc)"
        )
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Rfc3339Clock:
    """Now, as RFC 3339 UTC with milliseconds; cheap enough for every ``log()`` call.

    ``strftime`` costs microseconds; the date and time up to the second change once a
    second, so they are formatted once and kept.

    Examples
    --------
    >>> Rfc3339Clock(clock_ns=lambda: 1_795_420_800_250_000_000)()
    '2026-11-23T08:00:00.250Z'
    """

    def __init__(self, *, clock_ns=time.time_ns) -> None:
        self._clock_ns = clock_ns
        self._cached: tuple[int, str] = (-1, "")

    def __call__(self) -> str:
        milliseconds = self._clock_ns() // 1_000_000
        second, millisecond = divmod(milliseconds, 1000)
        cached_second, prefix = self._cached  # one tuple: threads never see a torn pair
        if second != cached_second:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            self._cached = (second, prefix)
        return f"{prefix}{millisecond:03d}Z"
