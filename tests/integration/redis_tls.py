"""A second Redis for the secured-transport tests: TLS only, ACL users from an ACL file.

Debian's redis-server with ``--port 0 --tls-port P``, a CA and a server certificate made
with openssl in a temp dir, and two users: ``default`` (an admin, for the test to look
with) and ``driftline``, restricted by ``streams.adapters.redis.acl`` to one prefix and
the commands Driftline runs.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from streams.adapters.redis.acl import aclfile_line, password_hash
from streams.stack import debian, process
from streams.stack.tls import make_ca, server_certificate

USER = "driftline"


@dataclass(frozen=True, slots=True)
class TlsRedis:
    """Where the TLS Redis listens and how to log in."""

    port: int
    ca_file: Path
    prefix: str
    password: str
    admin_password: str

    def url(self, user: str = USER, password: str | None = None, *, ca: bool = True) -> str:
        """``rediss://`` URL; ``ca=False`` leaves out the CA (the system's store is used)."""
        secret = self.password if password is None else password
        query = f"?ssl_ca_certs={self.ca_file}" if ca else ""
        return f"rediss://{user}:{secret}@127.0.0.1:{self.port}/0{query}"

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.url("default", self.admin_password))


def start(directory: Path, port: int, prefix: str) -> tuple[TlsRedis, int]:
    """Start the server in ``directory``; the handle and its pid, once it answers."""
    ca, ca_key = make_ca(directory, "driftline-test-ca")
    cert, key = server_certificate(directory, "server", "127.0.0.1", (ca, ca_key))
    server = TlsRedis(port, ca, prefix, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    acl = directory / "users.acl"
    acl.write_text(
        f"user default on {password_hash(server.admin_password)} ~* &* +@all\n"
        f"{aclfile_line(USER, server.password, prefix)}\n"
    )
    argv = [debian.redis_server(print), "--bind", "127.0.0.1", "--port", "0",
            "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--aclfile", str(acl),
            "--dir", str(directory), "--save", "", "--appendonly", "no"]  # fmt: skip
    pid = process.spawn(argv, directory / "redis.log", directory / "redis.pid")
    deadline = time.monotonic() + 15
    while True:
        try:
            with server.admin() as client:
                client.ping()
            return server, pid
        except redis.ConnectionError:
            if not process.is_alive(pid) or time.monotonic() > deadline:
                process.stop(pid)
                raise RuntimeError(
                    f"TLS Redis did not start: {process.tail(directory / 'redis.log')}"
                ) from None
            time.sleep(0.2)
