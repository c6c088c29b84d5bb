"""KafkaConfig: every protocol and mechanism maps onto librdkafka's and aiokafka's settings;
the password comes from a file when asked and never shows in repr or str."""

from __future__ import annotations

import ssl
import subprocess

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.settings import SASL_MECHANISMS, Settings

SECRET = "s3cr3t-never-printed"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory):
    """A real CA certificate, so the TLS contexts load it."""
    directory = tmp_path_factory.mktemp("ca")
    pem = directory / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(directory / "ca.key"), "-out", str(pem), "-subj", "/CN=unit-ca"],
        check=True, capture_output=True,
    )  # fmt: skip
    return pem


def settings_for(protocol: str, mechanism: str | None = None, ca_file=None) -> Settings:
    env = {"DRIFTLINE_KAFKA_BOOTSTRAP": "b1:9094,b2:9094",
           "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": protocol}  # fmt: skip
    if mechanism:
        env |= {"DRIFTLINE_KAFKA_SASL_MECHANISM": mechanism,
                "DRIFTLINE_KAFKA_SASL_USERNAME": "alice",
                "DRIFTLINE_KAFKA_SASL_PASSWORD": SECRET}  # fmt: skip
    if ca_file:
        env["DRIFTLINE_KAFKA_SSL_CA_FILE"] = str(ca_file)
    return Settings.from_env(env)


def test_plaintext_is_the_default_and_adds_nothing():
    kafka = Settings.from_env({}).kafka
    assert kafka.confluent() == {"bootstrap.servers": "127.0.0.1:9092",
                                 "security.protocol": "PLAINTEXT"}  # fmt: skip
    assert kafka.faust_options() == {"broker": "kafka://127.0.0.1:9092", "broker_credentials": None}
    assert credentials_to_aiokafka_auth(kafka.faust_credentials()) == {
        "security_protocol": "PLAINTEXT"
    }


def test_ssl_maps_the_ca_to_librdkafka_and_an_ssl_context(ca_file):
    kafka = settings_for("SSL", ca_file=ca_file).kafka
    assert kafka.confluent()["security.protocol"] == "SSL"
    assert kafka.confluent()["ssl.ca.location"] == str(ca_file)
    assert "sasl.mechanism" not in kafka.confluent()
    auth = credentials_to_aiokafka_auth(kafka.faust_credentials())
    assert auth["security_protocol"] == "SSL"
    assert isinstance(auth["ssl_context"], ssl.SSLContext)
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert auth["ssl_context"].check_hostname is True


@pytest.mark.parametrize("mechanism", SASL_MECHANISMS)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_maps_protocol_mechanism_and_credentials(protocol, mechanism, ca_file):
    tls = protocol == "SASL_SSL"
    kafka = settings_for(protocol, mechanism, ca_file if tls else None).kafka
    conf = kafka.confluent({"linger.ms": 5})
    assert conf["security.protocol"] == protocol
    assert (conf["sasl.mechanism"], conf["sasl.username"], conf["sasl.password"]) == (
        mechanism, "alice", SECRET,
    )  # fmt: skip
    assert conf["linger.ms"] == 5 and conf["bootstrap.servers"] == "b1:9094,b2:9094"
    assert ("ssl.ca.location" in conf) is tls
    assert kafka.faust_broker_url() == "kafka://b1:9094;b2:9094"
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == protocol
    assert auth["sasl_mechanism"] == mechanism
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("alice", SECRET)
    assert isinstance(auth["ssl_context"], ssl.SSLContext) is tls


def test_mutual_tls_passes_the_client_certificate(tmp_path, ca_file):
    key, cert = tmp_path / "client.key", tmp_path / "client.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=client"],
        check=True, capture_output=True,
    )  # fmt: skip
    settings = Settings.from_env({"DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SSL",
                                  "DRIFTLINE_KAFKA_SSL_CA_FILE": str(ca_file),
                                  "DRIFTLINE_KAFKA_SSL_CERT_FILE": str(cert),
                                  "DRIFTLINE_KAFKA_SSL_KEY_FILE": str(key)})  # fmt: skip
    conf = settings.kafka.confluent()
    assert (conf["ssl.certificate.location"], conf["ssl.key.location"]) == (str(cert), str(key))
    settings.kafka.ssl_context()  # loads the chain, or raises


def test_password_file_is_read_and_never_printed(tmp_path):
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")  # as `kubectl create secret --from-file` may leave it
    settings = Settings.from_env(
        kafka_env(
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="alice",
            sasl_password_file=str(secret_file),
        )
    )
    assert settings.kafka_sasl_password == SECRET
    assert settings.kafka.confluent()["sasl.password"] == SECRET
    for text in (repr(settings), str(settings), repr(settings.kafka), str(settings.kafka),
                 settings.kafka.describe(), repr(settings.kafka.faust_credentials())):  # fmt: skip
        assert SECRET not in text
    assert "alice" in settings.kafka.describe()


def kafka_env(**values: str) -> dict[str, str]:
    return {f"DRIFTLINE_KAFKA_{name.upper()}": value for name, value in values.items()}


SASL_SSL = {"security_protocol": "SASL_SSL"}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (kafka_env(security_protocol="TLS"), "must be one of PLAINTEXT, SSL"),
        (kafka_env(**SASL_SSL), "needs DRIFTLINE_KAFKA_SASL_MECHANISM"),
        (kafka_env(**SASL_SSL, sasl_mechanism="PLAIN", sasl_username="a"),
         "needs DRIFTLINE_KAFKA_SASL_PASSWORD"),
        (kafka_env(**SASL_SSL, sasl_mechanism="GSSAPI", sasl_username="a", sasl_password="p"),
         "DRIFTLINE_KAFKA_SASL_MECHANISM must be one of"),
        (kafka_env(sasl_username="a"), "does not use SASL"),
        (kafka_env(ssl_ca_file="/ca.pem"), "does not use TLS"),
        (kafka_env(security_protocol="SSL", ssl_cert_file="/c.pem"), "go together"),
        (kafka_env(sasl_password="p", sasl_password_file="/p"), "not both"),
        (kafka_env(sasl_password_file="/nonexistent/password"), "cannot be read"),
    ],
)  # fmt: skip
def test_bad_security_combinations_say_what_to_fix(environ, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)
