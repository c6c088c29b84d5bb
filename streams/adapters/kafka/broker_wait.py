"""Waiting for Kafka at start-up: one line that says what is wrong, then one a minute.

Left to themselves, librdkafka and aiokafka each log every failed connection attempt (about
20 lines a second against a port where nothing listens), and none of them says what to do.
A worker started before its broker (a reboot, a Kubernetes rollout) should wait rather than
exit, and say so in a way a person can read.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence

__all__ = ["addresses", "broker_accepts", "wait_for_broker"]


def addresses(bootstrap: str) -> list[tuple[str, int]]:
    """``(host, port)`` of each server in a bootstrap list.

    >>> addresses("127.0.0.1:9092,[::1]:9093,kafka:29092")
    [('127.0.0.1', 9092), ('::1', 9093), ('kafka', 29092)]
    """
    found = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        found.append((host.strip("[]"), int(port)))
    return found


def broker_accepts(servers: Sequence[tuple[str, int]], timeout_s: float = 1.0) -> bool:
    """Whether any of ``servers`` accepts a TCP connection (credentials are checked later, by
    the admin client's start-up probe, which names what it refused)."""
    for server in servers:
        try:
            with socket.create_connection(server, timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def wait_for_broker(
    bootstrap: str,
    say: Callable[[str], None],
    *,
    interval_s: float = 60.0,
    poll_s: float = 2.0,
    accepts: Callable[[Sequence[tuple[str, int]]], bool] = broker_accepts,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once a server of ``bootstrap`` accepts connections; until then ``say`` once what
    is wrong and what to do, then a short line every ``interval_s``.

    >>> now = [0.0]
    >>> answers = iter([False] * 70 + [True])
    >>> wait_for_broker("127.0.0.1:9092", print, accepts=lambda _: next(answers),
    ...                 clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    Kafka at 127.0.0.1:9092 does not answer; waiting for it (the local one: `driftline stack up`)
    still waiting for Kafka at 127.0.0.1:9092 (1 min)
    still waiting for Kafka at 127.0.0.1:9092 (2 min)
    Kafka at 127.0.0.1:9092 answers after 2 min 18 s
    """
    servers = addresses(bootstrap)
    if accepts(servers):
        return
    say(
        f"Kafka at {bootstrap} does not answer; waiting for it "
        "(the local one: `driftline stack up`)"
    )
    started = clock()
    next_note = started + interval_s
    while not accepts(servers):
        if clock() >= next_note:
            say(f"still waiting for Kafka at {bootstrap} ({_minutes(clock() - started)})")
            next_note += interval_s
        sleep(poll_s)
    waited = round(clock() - started)
    say(f"Kafka at {bootstrap} answers after {_minutes(waited)} {waited % 60} s")


def _minutes(seconds: float) -> str:
    return f"{round(seconds) // 60} min"
