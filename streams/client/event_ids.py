"""Time-ordered event ids: UUIDv7 (RFC 9562), so ids sort by when they were made.

Python 3.11's ``uuid`` has no ``uuid7`` (3.14 has). Layout, most significant bit first::

    48 bits  unix time in milliseconds
     4 bits  version, 7
    12 bits  rand_a: a counter within the millisecond (RFC 9562 method 1), so ids made in
             the same millisecond by one generator still sort in creation order
     2 bits  variant, 0b10
    62 bits  rand_b: random
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

__all__ = ["UuidV7", "uuid7_time_ms"]

_COUNTER_MAX = 0xFFF


class UuidV7:
    """Make UUIDv7 strings; thread-safe, monotonic for one generator.

    Parameters
    ----------
    clock_ms
        Unix time in milliseconds; ``time.time_ns() // 1_000_000`` unless given (tests).
    random_bytes
        Source of randomness, ``os.urandom`` unless given.

    Examples
    --------
    >>> ids = UuidV7(clock_ms=lambda: 1_700_000_000_000, random_bytes=lambda n: bytes(n))
    >>> ids()
    '018bcfe5-6800-7000-8000-000000000000'
    >>> ids()
    '018bcfe5-6800-7001-8000-000000000000'
    """

    def __init__(
        self,
        *,
        clock_ms: Callable[[], int] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._random_bytes = random_bytes
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def __call__(self) -> str:
        """A new id, greater than every earlier one from this generator."""
        now = self._clock_ms()
        with self._lock:
            if now > self._last_ms:
                self._last_ms, self._counter = now, 0
            elif self._counter < _COUNTER_MAX:
                self._counter += 1
            else:  # 4,096 ids in one millisecond (or a clock step back): borrow the next one
                self._last_ms, self._counter = self._last_ms + 1, 0
            stamp, counter = self._last_ms, self._counter
        rand_b = int.from_bytes(self._random_bytes(8)) & 0x3FFF_FFFF_FFFF_FFFF
        value = (stamp << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def uuid7_time_ms(event_id: str) -> int:
    """The unix milliseconds a UUIDv7 string was made at."""
    return int(event_id.replace("-", "")[:12], 16)
