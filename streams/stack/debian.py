"""Getting a binary from Debian (redis-server; prometheus and promtool; chromium) without
getting Debian's service of it.

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
from collections.abc import Iterator
from pathlib import Path

from streams.stack.errors import StackError
from streams.stack.service import Log

_POLICY = Path("/usr/sbin/policy-rc.d")
_DENY_ALL = "#!/bin/sh\n# Written by driftline while apt installs a package.\nexit 101\n"
# env(1) sets the variable for apt without this module touching os.environ.
# Other tools (or a sibling test's install) may hold dpkg's lock: wait for it, not fail.
_APT = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y",
        "-o", "DPkg::Lock::Timeout=600"]  # fmt: skip


def redis_server(log: Log) -> str:
    """Return the path of ``redis-server``, installing Debian's package if needed.

    Raises
    ------
    StackError
        If it is missing and cannot be installed (not root, no apt-get, apt failed).
    """
    return installed("redis-server", package="redis-server", log=log, name="redis")


def promtool(log: Log) -> str:
    """Return the path of ``promtool``, installing Debian's ``prometheus`` if needed (it
    brings both; its service stays off, like Redis's). ``StackError`` as ``redis_server``."""
    return installed("promtool", package="prometheus", log=log, name="prometheus")


def prometheus(log: Log) -> str:
    """Return the path of the ``prometheus`` server binary (see ``promtool``)."""
    return installed("prometheus", package="prometheus", log=log, name="prometheus")


def chromium(log: Log) -> str:
    """Return the path of a headless-capable ``chromium`` (the report's browser test and its
    screenshot use it). ``StackError`` as ``redis_server``."""
    return installed("chromium", package="chromium", log=log, name="chromium")


def installed(binary: str, *, package: str, log: Log, name: str) -> str:
    """The path of ``binary``, from Debian's ``package`` if it is not on PATH yet; ``name``
    prefixes the messages. The package's system service is kept off.

    Raises
    ------
    StackError
        If it is missing and cannot be installed (not root, no apt-get, apt failed).
    """
    found = shutil.which(binary)
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(
            f"{name}: {binary} is not installed; install it (e.g. `sudo apt-get install"
            f" {package}`, or put a {binary} on PATH) and run again"
        )
    log(f"{name}: installing the Debian package {package} (its system service stays off)")
    with _no_service_starts():
        _apt_install(package, name)
    _keep_distro_service_off(package)
    found = shutil.which(binary) or shutil.which(binary, path="/usr/bin")
    if found is None:
        raise StackError(f"{name}: apt installed {package} but no {binary} binary is on PATH")
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


def _apt_install(package: str, name: str) -> None:
    done = _run([*_APT, "install", "--no-install-recommends", package])
    if done.returncode != 0:
        # Most often a fresh machine with no (or stale) package lists.
        _run([*_APT, "update"])
        done = _run([*_APT, "install", "--no-install-recommends", package])
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise StackError(f"{name}: `apt-get install {package}` failed:\n{output}")


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
