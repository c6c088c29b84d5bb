"""Getting binaries from Debian: redis-server without Debian's Redis service, and chromium.

The ``redis-server`` package's postinst enables the distro service for boot
(``update-rc.d redis-server defaults``, ``deb-systemd-helper enable``) and starts it
right away (``invoke-rc.d redis-server start``, ``deb-systemd-invoke start``): a system
Redis on 127.0.0.1:6379 that driftline did not start, holding the default port. We only
want the binary, so while apt runs we forbid service starts through
``/usr/sbin/policy-rc.d`` (the hook both invoke-rc.d and deb-systemd-invoke obey; exit
101 means "forbidden"), and afterwards disable the boot start and stop the service in
case an existing, permissive policy-rc.d let it start anyway.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from streams.stack.errors import StackError
from streams.stack.service import Log

_POLICY = Path("/usr/sbin/policy-rc.d")
_DENY_ALL = "#!/bin/sh\n# Written by driftline while apt installs redis-server.\nexit 101\n"
# env(1) sets the variable for apt without this module touching os.environ.
_APT = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y"]
# Other tools (or a sibling's install) may hold dpkg's lock: wait for it instead of failing.
_WAIT_FOR_LOCK = ["-o", "DPkg::Lock::Timeout=600"]


def redis_server(log: Log) -> str:
    """Return the path of ``redis-server``, installing Debian's package if needed.

    Raises
    ------
    StackError
        If it is missing and cannot be installed (not root, no apt-get, apt failed).
    """
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(
            "redis: redis-server is not installed; install it (e.g. `sudo apt-get install"
            " redis-server`, or put a redis-server on PATH) and run again"
        )
    log("redis: installing the Debian package redis-server (its system service stays off)")
    with _no_service_starts():
        _apt_install("redis-server")
    _keep_distro_service_off("redis-server")
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if found is None:
        raise StackError("redis: apt installed redis-server but no redis-server binary is on PATH")
    return found


def chromium(log: Log) -> str:
    """Return the path of a headless-capable ``chromium``, installing Debian's package if
    needed (it starts no service; the report's browser test and its screenshot use it).

    Raises
    ------
    StackError
        If it is missing and cannot be installed (not root, no apt-get, apt failed).
    """
    found = shutil.which("chromium")
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(
            "chromium: chromium is not installed; install it (e.g. `sudo apt-get install"
            " chromium`, or put a chromium on PATH) and run again"
        )
    log("chromium: installing the Debian package chromium")
    _apt_install("chromium", who="chromium", options=_WAIT_FOR_LOCK)
    found = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin")
    if found is None:
        raise StackError("chromium: apt installed chromium but no chromium binary is on PATH")
    return found


@contextlib.contextmanager
def _no_service_starts() -> Iterator[None]:
    if _POLICY.exists():
        # Somebody's own policy (Docker images ship a deny-all one): theirs to keep.
        yield
        return
    _POLICY.write_text(_DENY_ALL)
    _POLICY.chmod(0o755)
    try:
        yield
    finally:
        _POLICY.unlink(missing_ok=True)


def _apt_install(package: str, *, who: str = "redis", options: Sequence[str] = ()) -> None:
    install = [*_APT, *options, "install", "--no-install-recommends", package]
    done = _run(install)
    if done.returncode != 0:
        # Most often a fresh machine with no (or stale) package lists.
        _run([*_APT, *options, "update"])
        done = _run(install)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise StackError(f"{who}: `apt-get install {package}` failed:\n{output}")


def _keep_distro_service_off(name: str) -> None:
    # Best effort: failing to tidy the distro service must not fail `up`; a Redis left
    # running on our port is still reported by `up` as "not started by driftline".
    _run(["update-rc.d", name, "disable"])
    _run(["service", name, "stop"])


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 1, "", str(exc))
