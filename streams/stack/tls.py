"""Certificates for the local secured broker, made with ``openssl`` (and the JDK's ``keytool``).

Generated into the state dir when missing, never committed: a CA, a broker certificate the CA
signed (SAN: 127.0.0.1, localhost and the stack's host), a PKCS12 keystore and truststore for
the broker, and the CA as PEM for the clients (``DRIFTLINE_KAFKA_SSL_CA_FILE``).
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.stack.errors import StackError

__all__ = ["BrokerTls", "broker_tls", "make_ca", "server_certificate"]

_DAYS = "365"


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """The files a broker's SSL listener and its clients need."""

    ca_pem: Path
    keystore: Path
    truststore: Path
    store_password: str


def make_ca(directory: Path, name: str = "driftline-local-ca") -> tuple[Path, Path]:
    """A new self-signed CA in ``directory``: ``(ca.pem, ca.key)``."""
    directory.mkdir(parents=True, exist_ok=True)
    pem, key = directory / "ca.pem", directory / "ca.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", _DAYS,
        "-keyout", key, "-out", pem, "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    key.chmod(0o600)
    return pem, key


def broker_tls(directory: Path, host: str) -> BrokerTls:
    """The broker's TLS files in ``directory``, made on the first call and reused after."""
    done = BrokerTls(
        ca_pem=directory / "ca.pem",
        keystore=directory / "broker.p12",
        truststore=directory / "truststore.p12",
        store_password=_store_password(directory),
    )
    if not (done.ca_pem.exists() and done.keystore.exists() and done.truststore.exists()):
        _make_broker_files(directory, host, done)
    return done


def server_certificate(
    directory: Path, name: str, host: str, ca: tuple[Path, Path]
) -> tuple[Path, Path]:
    """A key and a certificate for ``host`` (and 127.0.0.1, localhost) signed by ``ca``
    (``(ca.pem, ca.key)``), in ``directory``: ``(name.pem, name.key)``."""
    ca_pem, ca_key = ca
    key, csr, pem = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        f"subjectAltName={_subject_alt_names(host)}\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "basicConstraints=CA:FALSE\n"
    )
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={host}")  # fmt: skip
    _openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
             "-days", _DAYS, "-extfile", extensions, "-out", pem)  # fmt: skip
    key.chmod(0o600)
    return pem, key


def _make_broker_files(directory: Path, host: str, tls: BrokerTls) -> None:
    ca_pem, ca_key = make_ca(directory)
    pem, key = server_certificate(directory, "broker", host, (ca_pem, ca_key))
    password = f"pass:{tls.store_password}"
    _openssl("pkcs12", "-export", "-in", pem, "-inkey", key, "-certfile", ca_pem,
             "-name", "broker", "-out", tls.keystore, "-passout", password)  # fmt: skip
    # OpenSSL 3.0 cannot mark a certificate as trusted for Java; the JDK's keytool can.
    keytool = shutil.which("keytool")
    if keytool is None:
        raise StackError("kafka: keytool (from the JDK) is not on PATH; it makes the truststore")
    tls.truststore.unlink(missing_ok=True)
    _run([keytool, "-importcert", "-noprompt", "-alias", "driftline-ca", "-file", ca_pem,
          "-keystore", tls.truststore, "-storetype", "PKCS12",
          "-storepass", tls.store_password])  # fmt: skip


def _subject_alt_names(host: str) -> str:
    names = ["IP:127.0.0.1", "DNS:localhost"]
    try:
        extra = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        extra = f"DNS:{host}"
    return ",".join(dict.fromkeys([*names, extra]))


def _store_password(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "store-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def _openssl(*args: object) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise StackError("kafka: openssl is not on PATH; the secure listener needs certificates")
    _run([openssl, *args])


def _run(argv: list[object]) -> None:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise StackError(
            f"kafka: {Path(str(argv[0])).name} {argv[1]} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
