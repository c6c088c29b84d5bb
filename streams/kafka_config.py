"""How every Kafka client of Driftline connects: one value object, built by ``Settings.kafka``.

The worker's Faust app (aiokafka underneath), the confluent-kafka admin, producers and
consumers, the health check, the demo, ``simulate --kafka`` and the load tools all take a
``KafkaConfig`` and ask it for their client's configuration, so a secured cluster's
protocol, SASL credentials and CA reach every one of them, and none can be forgotten.

Mapping (librdkafka names left, aiokafka/Faust right)::

    security.protocol      PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
                           -> broker_credentials: None | SSLCredentials(context)
                              | SASLCredentials(mechanism, username, password[, ssl_context])
    sasl.mechanism         PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (same names in aiokafka)
    ssl.ca.location        -> ssl.SSLContext(cafile=...)
    ssl.certificate.location / ssl.key.location
                           -> context.load_cert_chain(cert, key)  (mutual TLS)
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KafkaConfig"]


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Where the brokers are and how to authenticate to them.

    Take it from ``settings.kafka``: ``Settings`` has validated the combination (this module
    knows nothing of ``Settings``). The password is kept out of ``repr``/``str``.
    """

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def describe(self) -> str:
        """``host:port (SASL_SSL, SCRAM-SHA-512 as 'alice')``: for messages; no secret."""
        how = self.security_protocol
        if self.uses_sasl:
            how += f", {self.sasl_mechanism} as {self.sasl_username!r}"
        return f"{self.bootstrap} ({how})"

    def confluent(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A confluent-kafka (librdkafka) client configuration, ``extra`` keys added."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.uses_sasl:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username
            conf["sasl.password"] = self.sasl_password
        if self.uses_tls:
            if self.ssl_ca_file is not None:
                conf["ssl.ca.location"] = str(self.ssl_ca_file)
            if self.ssl_cert_file is not None and self.ssl_key_file is not None:
                conf["ssl.certificate.location"] = str(self.ssl_cert_file)
                conf["ssl.key.location"] = str(self.ssl_key_file)
        return {**conf, **(extra or {})}

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context aiokafka uses: our CA (else the system's), our client cert if any.

        Hostname checking stays on, as librdkafka's default
        (``ssl.endpoint.identification.algorithm=https``) does: the broker's certificate
        must name the host in the bootstrap address.
        """
        cafile = str(self.ssl_ca_file) if self.ssl_ca_file is not None else None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
        if self.ssl_cert_file is not None and self.ssl_key_file is not None:
            context.load_cert_chain(str(self.ssl_cert_file), str(self.ssl_key_file))
        return context

    def faust_broker_url(self) -> str:
        """Faust's ``broker`` URL; its aiokafka transport wants ``;`` between brokers."""
        return "kafka://" + self.bootstrap.replace(",", ";")

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials``: ``None`` for PLAINTEXT.

        Faust maps ``SASLCredentials`` onto aiokafka's ``security_protocol`` (``SASL_SSL``
        when an ``ssl_context`` is given, else ``SASL_PLAINTEXT``), ``sasl_mechanism`` and
        ``sasl_plain_username``/``_password``, which aiokafka also uses for SCRAM
        (``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``).
        """
        import faust  # only the worker and the Faust baselines need it

        if self.uses_sasl:
            return faust.SASLCredentials(
                mechanism=self.sasl_mechanism,
                username=self.sasl_username,
                password=self.sasl_password,
                ssl_context=self.ssl_context() if self.uses_tls else None,
            )
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    def faust_options(self) -> dict[str, Any]:
        """``broker`` and ``broker_credentials`` for ``faust.App(...)``."""
        return {"broker": self.faust_broker_url(), "broker_credentials": self.faust_credentials()}
