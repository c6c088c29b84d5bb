"""The local Redis's password: generated once into the state dir, then reused.

The stack's Redis is not open even on loopback: any local process (or a browser tricked into
speaking to it) could otherwise read and rewrite the monitor state. The password lives in
``<state_dir>/redis/password`` (mode 0600); ``StackConfig.redis_url`` carries it, so every
client built from the config authenticates without being told.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["password_file", "redis_password"]


def password_file(state_dir: Path) -> Path:
    """Where the stack's Redis password is kept."""
    return state_dir / "redis" / "password"


def redis_password(state_dir: Path) -> str:
    """The password in ``state_dir``, created (URL-safe, 256 bits) if there is none yet.

    Two processes racing here get the same password: the file is created exclusively and
    the loser reads the winner's.
    """
    path = password_file(state_dir)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(candidate + "\n")
    try:
        # link() fails if the file appeared meanwhile; the complete file is never half-read.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read(path)


def _read(path: Path) -> str:
    password = path.read_text().strip()
    if not password:
        raise ValueError(f"{path} is empty: delete it and run `driftline stack up` again")
    return password
