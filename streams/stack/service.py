"""Bringing one local server up or down, whatever the server is."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streams.stack import process
from streams.stack.errors import StackError

Log = Callable[[str], None]

# How long a status check may wait for a server to answer.
_STATUS_TIMEOUT = 2.0
# A server whose log keeps growing gets this many times its start timeout to answer.
_MOST_STARTUP_FACTOR = 10


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What one server is doing right now.

    Attributes
    ----------
    name
        ``"kafka"`` or ``"redis"``.
    address
        ``host:port`` clients connect to.
    running
        It answers its protocol now (whoever started it).
    managed
        Started by driftline: its pid file names a live process.
    pid
        That process, if managed.
    log_path
        Its log, when there is one of ours worth reading.
    """

    name: str
    address: str
    running: bool
    managed: bool
    pid: int | None
    log_path: Path | None

    def describe(self) -> str:
        """One line for humans, e.g. ``kafka  127.0.0.1:9092  running (pid 1, ...)``."""
        if self.managed:
            owner = f"(pid {self.pid}, started by driftline)"
            state = f"running {owner}" if self.running else f"not answering {owner}"
        else:
            state = "running (not started by driftline)" if self.running else "stopped"
        line = f"{self.name:<5}  {self.address:<14}  {state}"
        return f"{line}  log: {self.log_path}" if self.log_path else line


@dataclass(frozen=True, slots=True)
class Service:
    """How to run, recognise and probe one server.

    Attributes
    ----------
    name, host, port
        As in ``ServiceStatus``.
    pid_file, log_file
        Where our process's pid and output go.
    marker
        Text in our process's command line, telling it apart from a recycled pid.
    answers
        ``answers(timeout)``: whether the server speaks its protocol on ``host:port``.
    prepare
        ``prepare(log)``: installs/fetches/configures what is needed; returns the argv.
    start_timeout
        Seconds a freshly started server gets to answer while its log stands still.
    problem
        ``problem(timeout)``: why a server that answers is not as ``prepare`` would set it up
        (e.g. a Redis from before passwords), or None. Ours is then restarted; somebody
        else's is used with a warning.
    """

    name: str
    host: str
    port: int
    pid_file: Path
    log_file: Path
    marker: str
    answers: Callable[[float], bool]
    prepare: Callable[[Log], list[str]]
    start_timeout: float
    problem: Callable[[float], str | None] = lambda _timeout: None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def status(service: Service) -> ServiceStatus:
    """Return what ``service`` is doing now, without changing anything."""
    pid = process.live_pid(service.pid_file, service.marker)
    running = service.answers(_STATUS_TIMEOUT)
    # A log of ours next to somebody else's running server would only mislead.
    ours_to_read = pid is not None or not running
    log_path = service.log_file if ours_to_read and service.log_file.exists() else None
    return ServiceStatus(service.name, service.address, running, pid is not None, pid, log_path)


def start(service: Service, log: Log) -> ServiceStatus:
    """Make ``service`` answer: reuse whatever already does, else start ours and wait.

    Raises
    ------
    StackError
        If it cannot be started, or does not answer within ``service.start_timeout`` of its
        log's last growth (see ``_answers_while_alive``).
    """
    return start_all([service], log)[0]


def start_all(services: list[Service], log: Log) -> list[ServiceStatus]:
    """``start`` each of ``services``, launching them all before waiting for any.

    The nodes of a KRaft quorum answer only once a majority of them runs, so waiting for
    the first before launching the second would wait in vain.

    Raises
    ------
    StackError
        As ``start``, for the first one that fails.
    """
    launched = [(s, *_launch(s, log)) for s in services]
    return [_settle(s, pid, fresh, log) for s, pid, fresh in launched]


def _launch(service: Service, log: Log) -> tuple[int | None, bool]:
    """Our process of ``service`` to wait for (None when something already answers), and
    whether it was started just now."""
    pid = process.live_pid(service.pid_file, service.marker)
    if service.answers(_STATUS_TIMEOUT):
        problem = service.problem(_STATUS_TIMEOUT)
        if pid is None or problem is None:
            owner = "not started by driftline; using it" if pid is None else f"pid {pid}"
            warning = f"; warning: it {problem}" if problem else ""
            log(f"{service.name}: already running on {service.address} ({owner}{warning})")
            return None, False
        log(f"{service.name}: pid {pid} {problem}; restarting it")
        process.stop(pid)
        process.remove_pid_file(service.pid_file)
        pid = None
    if pid is not None:
        # It may be a server still starting, or one dying (killed a moment ago): the first
        # answers while alive; the second is replaced by ``_settle``.
        log(f"{service.name}: pid {pid} is ours but does not answer yet; waiting")
        return pid, False
    return _spawn(service, log), True


def _spawn(service: Service, log: Log) -> int:
    _check_port_free(service)
    argv = service.prepare(log)
    pid = process.spawn(argv, service.log_file, service.pid_file)
    log(f"{service.name}: started pid {pid} on {service.address}; log: {service.log_file}")
    return pid


def _settle(service: Service, pid: int | None, fresh: bool, log: Log) -> ServiceStatus:
    """Wait for the process ``_launch`` gave; an old one that exits is replaced once."""
    if pid is None:
        return status(service)
    if not _answers_while_alive(service, pid, log):
        if fresh:
            raise _failure(service, f"exited before answering on {service.address}")
        log(f"{service.name}: pid {pid} exited without answering; starting a new one")
        pid = _spawn(service, log)
        if not _answers_while_alive(service, pid, log):
            raise _failure(service, f"exited before answering on {service.address}")
    log(f"{service.name}: answering on {service.address}")
    return status(service)


def stop(service: Service, log: Log) -> ServiceStatus:
    """Stop ``service`` if we started it; leave anybody else's alone."""
    pid = process.live_pid(service.pid_file, service.marker)
    if pid is not None:
        how = "stopped" if process.stop(pid) else "killed (did not stop on SIGTERM)"
        log(f"{service.name}: {how} pid {pid}")
    elif service.answers(_STATUS_TIMEOUT):
        log(f"{service.name}: {service.address} was not started by driftline; leaving it running")
    else:
        log(f"{service.name}: not running")
    process.remove_pid_file(service.pid_file)
    return status(service)


def stop_all(services: list[Service], log: Log) -> list[ServiceStatus]:
    """``stop`` each of ``services``, signalling all of ours before waiting for any.

    A KRaft node stopping alone waits for a quorum whose other members are stopping too.
    """
    pids = [process.live_pid(each.pid_file, each.marker) for each in services]
    for pid in pids:
        if pid is not None:
            process.terminate(pid)
    statuses = []
    for each, pid in zip(services, pids, strict=True):
        if pid is not None and not process.is_alive(pid):
            log(f"{each.name}: stopped pid {pid}")
            process.remove_pid_file(each.pid_file)
            statuses.append(status(each))
        else:
            statuses.append(stop(each, log))
    return statuses


def port_open(host: str, port: int, timeout: float) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _check_port_free(service: Service) -> None:
    if port_open(service.host, service.port, 1.0):
        raise StackError(
            f"{service.name}: {service.address} is taken by a process that does not answer"
            f" as {service.name}; free the port or choose another one"
        )


def _answers_while_alive(service: Service, pid: int, log: Log) -> bool:
    """Wait until ``service`` answers (True) or process ``pid`` is gone (False).

    Raises ``StackError`` once its log has been still for ``service.start_timeout`` (or after
    ``_MOST_STARTUP_FACTOR`` times that in all), having stopped the process. A broker loading
    thousands of partitions writes lines all along and answers only at the end: it took over
    a minute on a data dir that many test runs had filled, and was killed as hung.
    """
    started = time.monotonic()
    progress = _LogProgress(service.log_file, started)
    told = False
    while not service.answers(2.0):
        if not process.is_alive(pid):
            process.remove_pid_file(service.pid_file)
            return False
        now = time.monotonic()
        quiet = now - progress.last_change(now)
        waited = now - started
        if quiet >= service.start_timeout or waited >= service.start_timeout * _MOST_STARTUP_FACTOR:
            # A half-started server would hold the port and confuse the next `up`.
            process.stop(pid)
            process.remove_pid_file(service.pid_file)
            raise _failure(service, f"did not answer on {service.address} within {waited:.0f} s"
                           f" (its log last grew {quiet:.0f} s before)")  # fmt: skip
        if not told and waited >= service.start_timeout:
            told = True
            log(f"{service.name}: not answering after {waited:.0f} s, but its log grows: waiting")
        time.sleep(0.25)
    return True


class _LogProgress:
    """When a server's log last changed (size or modification time), as seen by polling."""

    def __init__(self, path: Path, now: float) -> None:
        self._path = path
        self._seen = self._stamp()
        self._changed_at = now

    def last_change(self, now: float) -> float:
        stamp = self._stamp()
        if stamp != self._seen:
            self._seen, self._changed_at = stamp, now
        return self._changed_at

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns


def _failure(service: Service, what: str) -> StackError:
    lines = process.tail(service.log_file) or "(empty)"
    return StackError(
        f"{service.name}: {what}; log: {service.log_file}\nlast lines of the log:\n{lines}"
    )
