"""Detached server processes tracked by pid files."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque
from pathlib import Path


def spawn(argv: list[str], log_file: Path, pid_file: Path) -> int:
    """Start ``argv`` (``argv[0]`` a path) in its own session, output to ``log_file``.

    The pid goes to ``pid_file``. The server outlives the calling process.

    Returns
    -------
    int
        The pid, which is also the process group id.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists():
        # One previous run is enough to debug a restart; older ones would only grow the disk.
        log_file.replace(log_file.with_name(log_file.name + ".1"))
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        # posix_spawn rather than Popen: a Popen object for a server meant to outlive us
        # complains ("still running") when collected. setsid keeps the server out of the
        # terminal's process group (Ctrl-C where `up` ran must not stop it) and gives
        # `stop` a group to signal. The environment is passed on as to any child.
        pid = os.posix_spawn(
            argv[0],
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
                *_close_inherited(),
            ],
            setsid=True,
        )
    finally:
        os.close(out)
    _write_atomically(pid_file, f"{pid}\n")
    return pid


def _close_inherited() -> list[tuple[int, int]]:
    # Some libraries (librdkafka) open pipes without O_CLOEXEC, and our own parent may have
    # handed us some: a long-lived server holding them keeps e.g. a CI job's pipe from ever
    # reaching EOF. Closing an fd that got closed meanwhile is not an error for posix_spawn.
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 256))  # no /proc: the usual low range
    return [(os.POSIX_SPAWN_CLOSE, fd) for fd in fds if fd > 2]


def live_pid(pid_file: Path, marker: str) -> int | None:
    """Return the pid in ``pid_file`` if that process is alive and is ours.

    ``marker`` must occur in the process's command line: after a reboot the pid may
    belong to an unrelated process.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or not is_alive(pid):
        return None
    cmdline = _proc_file(pid, "cmdline")
    if cmdline is not None and marker not in cmdline.replace("\0", " "):
        return None
    return pid


def is_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        # A server this process spawned stays a zombie, which kill(pid, 0) calls alive,
        # until reaped; reap it here.
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child
    else:
        return reaped == 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = _proc_file(pid, "status") or ""
    return "\nState:\tZ" not in status


def stop(pid: int, timeout: float = 20.0) -> bool:
    """SIGTERM the process group of ``pid``; SIGKILL it if still alive after ``timeout`` s.

    Returns
    -------
    bool
        True if it stopped on SIGTERM, False if it had to be killed.
    """
    _signal_group(pid, signal.SIGTERM)
    graceful = _wait_gone(pid, timeout)
    if not graceful:
        _signal_group(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
    return graceful


def terminate(pid: int) -> None:
    """SIGTERM the process group of ``pid`` without waiting (``stop`` then waits)."""
    _signal_group(pid, signal.SIGTERM)


def tail(path: Path, lines: int = 20) -> str:
    """Last ``lines`` lines of ``path`` ("" if it cannot be read), without Java stack frames.

    A JVM's stack trace easily fills the tail and pushes out the message that explains it.
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            kept = (line for line in f if not line.startswith(("\tat ", "\t... ")))
            return "".join(deque(kept, maxlen=lines)).rstrip()
    except OSError:
        return ""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        # A server we spawned leads its own group, so this reaches e.g. a JVM's helpers too;
        # anything else only gets the signal itself.
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _proc_file(pid: int, name: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_text(errors="replace")
    except OSError:
        return None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def remove_pid_file(pid_file: Path) -> None:
    """Delete ``pid_file`` if present."""
    with contextlib.suppress(OSError):
        pid_file.unlink()
