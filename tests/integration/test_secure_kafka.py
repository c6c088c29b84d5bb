"""The worker against a real SASL_SSL broker (SCRAM-SHA-512, our own CA), and the one clear
line it exits with when the password or the CA is wrong.

The secured broker is a second one, started by the fixture in a state dir of its own (a
data dir formatted with the SCRAM user), on ``DRIFTLINE_KAFKA_SECURE_PORT`` (or a free port)
for SASL_SSL and free ports for its plain and controller listeners; Redis is the session's.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from streams import stack
from streams.adapters.kafka.acl import Grant, create_acls, worker_grants
from streams.adapters.kafka.admin import connect_admin, ensure_worker_topics
from streams.adapters.kafka.records import close_producers, publish, read_from
from streams.client import AlertConsumer, LabelLogger, PredictionLogger
from streams.core.errors import AccessRefused
from streams.samples import BAD_RECORDS
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, keyed_events
from streams.stack.tls import make_ca
from streams.stack.worker import WorkerProcess, free_port, free_port_run
from tests.integration.conftest import isolated_env, wait_until_processed

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples"
EVENTS, DRIFT_AT, WINDOW = 4_000, 2_000, 500
WINDOWS = {"DRIFTLINE_REFERENCE_EVENTS": "1000", "DRIFTLINE_WINDOW_EVENTS": str(WINDOW)}
STREAM = StreamConfig(
    model_id="it-secure",
    seed=5,
    scenarios=(Scenario(kind="abrupt", feature="x3", start=DRIFT_AT, magnitude=1.5),),
)


@pytest.fixture(scope="module")
def secure_stack(stack_config, tmp_path_factory):
    first = free_port_run(3)  # outside the ephemeral range: no client takes them meanwhile
    secure_port = int(os.environ.get("DRIFTLINE_KAFKA_SECURE_PORT") or first + 2)
    config = dataclasses.replace(
        stack_config,
        kafka_port=first,
        kafka_controller_port=first + 1,
        kafka_secure_port=secure_port,
        state_dir=tmp_path_factory.mktemp("secure-stack"),
        secure=True,
    )
    stack.up(config, log=print)  # Redis: the session's, reused and left alone
    yield config
    close_producers()
    stack.down(config, log=print)


@pytest.fixture
def secure_env(secure_stack, stack_config, tmp_path) -> dict[str, str]:
    return isolated_env(stack_config, tmp_path / "faust") | stack.secure_client_env(secure_stack)


def _stream_through(env: dict[str, str], admin: Settings, log) -> list[dict]:
    """Run a worker on ``env`` over the stream with bad records among it (published as
    ``admin``); check every bad record was dead-lettered, and return the alerts."""
    worker = WorkerProcess(env, web_port=free_port(), log_path=log)
    worker.start()
    try:
        good = keyed_events(STREAM, EVENTS)
        bad = [(b"bad-input", record.value) for record in BAD_RECORDS]
        publish(admin.kafka, admin.topic_predictions, [*good[:100], *bad, *good[100:]])
        wait_until_processed(worker, EVENTS)
        start = dict.fromkeys(range(admin.partitions), 0)
        letters = read_from(admin.kafka, admin.topic_dlq, start, count=len(bad))
        alerts = read_from(admin.kafka, admin.topic_alerts, start, count=20, timeout_s=3)
        assert worker.health()[1]["kafka"]["ok"] is True
    finally:
        assert worker.stop() == 0
    assert sorted(letter.value for letter in letters) == sorted(value for _, value in bad)
    return [orjson.loads(a.value) for a in alerts]


def _drifts(alerts: list[dict]) -> list[tuple[str, str]]:
    return [(a["feature"], a["status"]) for a in alerts if a["type"] == "data_drift"]


def test_worker_consumes_alerts_and_dead_letters_over_sasl_ssl(secure_env, tmp_path):
    env = secure_env | WINDOWS
    settings = Settings.from_env(env)
    assert settings.kafka.security_protocol == "SASL_SSL"
    alerts = _stream_through(env, settings, tmp_path / "worker.log")
    assert ("x3", "firing") in _drifts(alerts)


def _worker_exit(env: dict[str, str], timeout_s: float = 30.0) -> tuple[int, float, list[str]]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env | {"DRIFTLINE_WEB_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, time.monotonic() - started, lines


def test_wrong_password_stops_the_worker_with_one_clear_line(secure_env):
    env = {k: v for k, v in secure_env.items() if k != "DRIFTLINE_KAFKA_SASL_PASSWORD_FILE"}
    code, seconds, lines = _worker_exit(env | {"DRIFTLINE_KAFKA_SASL_PASSWORD": "not-it"})
    assert code != 0 and seconds < 20
    assert len(lines) == 1, lines
    assert "refused SASL authentication for user 'driftline' (SCRAM-SHA-512)" in lines[0]
    assert "DRIFTLINE_KAFKA_SASL_" in lines[0] and "not-it" not in lines[0]


def test_untrusted_ca_stops_the_worker_with_one_clear_line(secure_env, tmp_path):
    other_ca, _ = make_ca(tmp_path / "other-ca", "not-the-brokers-ca")
    code, seconds, lines = _worker_exit(secure_env | {"DRIFTLINE_KAFKA_SSL_CA_FILE": str(other_ca)})
    assert code != 0 and seconds < 20
    assert len(lines) == 1, lines
    assert "TLS handshake with Kafka at" in lines[0]
    assert "DRIFTLINE_KAFKA_SSL_CA_FILE" in lines[0] and "certificate verify failed" in lines[0]


def test_topics_are_created_over_sasl_ssl(secure_env):
    settings = Settings.from_env(secure_env)
    ensure_worker_topics(settings)
    listed = connect_admin(settings.kafka).list_topics(timeout=10).topics
    assert set(settings.topics) <= set(listed)


def _scram_user(stack_config: stack.StackConfig, user: str, tmp_path) -> dict[str, str]:
    """A new SCRAM user on the secure broker, added over its plain listener (whose principal,
    ANONYMOUS, is a super user there); its login settings."""
    password = secrets.token_urlsafe(18)
    plain = Settings.from_env({"DRIFTLINE_KAFKA_BOOTSTRAP": stack_config.kafka_bootstrap})
    admin = connect_admin(plain.kafka)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upsert = UserScramCredentialUpsertion(user, info, password.encode())
    admin.alter_user_scram_credentials([upsert])[user].result()
    password_file = tmp_path / f"{user}.password"
    password_file.write_text(password)
    return {"DRIFTLINE_KAFKA_SASL_USERNAME": user,
            "DRIFTLINE_KAFKA_SASL_PASSWORD_FILE": str(password_file)}  # fmt: skip


def _user_of_role(stack_config, admin_env, tmp_path, role: str, *options: str) -> dict[str, str]:
    """A new user granted what ``driftline kafka-acl --role ROLE ... --apply`` (run as the
    stack's admin) grants; ``admin_env`` logged in as it."""
    user = f"{role}-{secrets.token_hex(4)}"
    login = _scram_user(stack_config, user, tmp_path)
    granted = subprocess.run(
        [sys.executable, "-m", "streams.cli", "kafka-acl", "--role", role,
         "--principal", f"User:{user}", *options, "--apply"],
        env=admin_env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    return admin_env | login


def test_a_worker_runs_on_the_acls_kafka_acl_grants_and_no_more(secure_stack, secure_env, tmp_path):
    """The secure broker enforces ACLs; a user granted what ``driftline kafka-acl --apply``
    grants (run as the stack's admin, without the cluster's DescribeConfigs) runs a worker
    that creates its topics, routes, alerts and dead-letters, and says it skipped the session
    timeout check."""
    env = _user_of_role(secure_stack, secure_env, tmp_path, "worker", "--no-session-check")
    env |= WINDOWS
    log = tmp_path / "worker.log"
    alerts = _stream_through(env, Settings.from_env(secure_env), log)
    assert ("x3", "firing") in _drifts(alerts)
    skipped = "DRIFTLINE_SESSION_TIMEOUT_S not checked against the brokers"
    lines = log.read_text().splitlines()
    assert [line for line in lines if skipped in line and "CLUSTER_AUTHORIZATION_FAILED" in line]
    refused = [line for line in lines if "AUTHORIZATION_FAILED" in line or "not authorized" in line]
    assert [line for line in refused if skipped not in line] == []


def _granted_user(stack_config, admin_env, tmp_path, *, without: str) -> dict[str, str]:
    """A new user granted what a worker needs (no session check) but ``without``'s resource
    kind; the worker environment logged in as it."""
    user = f"worker-{secrets.token_hex(4)}"
    env = admin_env | _scram_user(stack_config, user, tmp_path)
    admin = Settings.from_env(admin_env)
    grants = worker_grants(admin, check_session=False)
    create_acls(admin.kafka, f"User:{user}", [g for g in grants if g.resource != without])
    return env


def test_a_worker_its_group_refuses_stops_with_one_line_saying_what_to_grant(
    secure_stack, secure_env, tmp_path
):
    """Before, it stayed up in no group, consuming nothing, and logged nothing: aiokafka held
    the error for a getmany that Faust never calls."""
    env = _granted_user(secure_stack, secure_env, tmp_path, without="group")
    code, seconds, lines = _worker_exit(env, timeout_s=60)
    assert code == 2 and seconds < 30
    assert lines[-1].startswith("driftline: Kafka refuses the worker's consumer group")
    assert "GroupAuthorizationFailedError" in lines[-1] and "driftline kafka-acl" in lines[-1]
    assert not [line for line in lines if "Traceback" in line]


def test_a_session_timeout_the_brokers_refuse_stops_the_worker_when_it_could_not_check(
    secure_stack, secure_env, tmp_path
):
    """Without DescribeConfigs on the cluster the start-up check is skipped; the join's
    refusal then stops the worker."""
    env = _granted_user(secure_stack, secure_env, tmp_path, without="cluster")
    code, seconds, lines = _worker_exit(env | {"DRIFTLINE_SESSION_TIMEOUT_S": "0.5"}, 60)
    assert code == 2 and seconds < 30
    assert any("DRIFTLINE_SESSION_TIMEOUT_S not checked against the brokers" in line
               for line in lines)  # fmt: skip
    assert "InvalidSessionTimeoutError" in lines[-1]
    assert "set DRIFTLINE_SESSION_TIMEOUT_S within the brokers'" in lines[-1]


def test_a_write_kafka_refuses_stops_the_worker_and_its_batch_waits_for_the_grant(
    secure_stack, secure_env, tmp_path
):
    """Before, alerts to a topic the worker may not write were dropped (logged, counted) and
    the worker carried on, healthy: every alert lost until someone noticed. Now it stops,
    saying what to grant, with the batch unacked; once granted, a new worker sends them."""
    user = f"worker-{secrets.token_hex(4)}"
    env = secure_env | _scram_user(secure_stack, user, tmp_path) | WINDOWS
    admin = Settings.from_env(secure_env)
    ensure_worker_topics(admin)
    grants = [g for g in worker_grants(admin, check_session=False) if g.name != admin.topic_alerts]
    alerts_seen = Grant("topic", admin.topic_alerts, ("Describe",))
    create_acls(admin.kafka, f"User:{user}", [*grants, alerts_seen])
    publish(admin.kafka, admin.topic_predictions, keyed_events(STREAM, EVENTS))
    code, seconds, lines = _worker_exit(env, timeout_s=90)
    assert code == 2 and seconds < 60
    assert lines[-1].startswith(f"driftline: Kafka refuses the worker's writes to topic "
                                f"'{admin.topic_alerts}'")  # fmt: skip
    assert "TopicAuthorizationFailedError" in lines[-1] and "Write on it" in lines[-1]
    assert not [line for line in lines if "DROPPED" in line]
    # Each refused send's promise is awaited: none is logged as never retrieved.
    assert not [line for line in lines if "Traceback" in line or "never retrieved" in line]

    create_acls(admin.kafka, f"User:{user}", [Grant("topic", admin.topic_alerts, ("Write",))])
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "granted.log")
    worker.start()
    try:
        deadline, drifts = time.monotonic() + 60, []
        while ("x3", "firing") not in drifts and time.monotonic() < deadline:
            start = dict.fromkeys(range(admin.partitions), 0)
            found = read_from(admin.kafka, admin.topic_alerts, start, count=20, timeout_s=2)
            drifts = _drifts([orjson.loads(a.value) for a in found])
    finally:
        assert worker.stop() == 0
    assert ("x3", "firing") in drifts


def test_a_logging_service_and_an_alert_consumer_run_on_their_roles_acls_and_no_more(
    secure_stack, secure_env, tmp_path
):
    """The client library's two sides on what ``kafka-acl --role`` grants them: the logging
    service writes predictions and labels and may not read alerts; the alert consumer reads
    alerts and may not write predictions. Each refusal says what to grant."""
    admin = Settings.from_env(secure_env)
    ensure_worker_topics(admin)
    service = Settings.from_env(_user_of_role(secure_stack, secure_env, tmp_path, "logger"))
    group = f"pager-{secrets.token_hex(4)}"
    role = ("alert-consumer", "--group", group)
    pager = Settings.from_env(_user_of_role(secure_stack, secure_env, tmp_path, *role))

    with PredictionLogger(settings=service) as predictions, LabelLogger(settings=service) as labels:
        ids = [predictions.log("it-acl", "v1", {"age": 30 + i}, i % 2) for i in range(20)]
        for event_id in ids:
            labels.log(event_id, "it-acl", 1)
    assert (predictions.delivered, labels.delivered) == (20, 20)
    assert predictions.dropped == labels.dropped == 0
    start = dict.fromkeys(range(admin.partitions), 0)
    logged = read_from(admin.kafka, admin.topic_predictions, start, count=20)
    assert sorted(orjson.loads(r.value)["event_id"] for r in logged) == sorted(ids)

    alert = (EXAMPLES / "alert/valid").glob("*.json").__next__().read_bytes()
    publish(admin.kafka, admin.topic_alerts, [(b"m", alert)])  # as the worker would
    with AlertConsumer(group, settings=pager) as consumer:
        received = list(consumer.alerts(idle_timeout_s=5, max_items=1))
    assert [a.alert_id for a in received] == [orjson.loads(alert)["alert_id"]]

    with (
        pytest.raises(AccessRefused, match="kafka-acl --role alert-consumer"),
        AlertConsumer(f"{group}-other", settings=service) as consumer,
    ):
        list(consumer.alerts(idle_timeout_s=20))
    with PredictionLogger(settings=pager, close_timeout_s=20) as refused:
        refused.log("it-acl", "v1", {"age": 30}, 1)
    assert refused.dropped_by_reason == {"not_authorized": 1}


def test_driftline_redrive_runs_on_its_roles_acls_and_no_more(secure_stack, secure_env, tmp_path):
    """An operator granted what ``kafka-acl --role redrive`` grants reads the dead letters
    (their topic's id and retention too) and writes them back to their input topic, joining
    no group; the same command as the worker's principal (no Read on the dead-letter
    topics) is one line saying what to grant."""
    admin = Settings.from_env(secure_env)
    ensure_worker_topics(admin)
    event = keyed_events(STREAM, 1)[0]
    headers = [("driftline.dlq.original.topic", admin.topic_predictions.encode()),
               ("driftline.dlq.reason", b"model_limit")]  # fmt: skip
    publish(admin.kafka, admin.topic_dlq, [(*event, headers)])
    operator = _user_of_role(secure_stack, secure_env, tmp_path, "redrive")
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "redrive", "--reason", "model_limit"],
        env=operator, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "sent 1 dead letter again" in done.stdout, done.stderr
    start = dict.fromkeys(range(admin.partitions), 0)
    (sent,) = read_from(admin.kafka, admin.topic_predictions, start, count=1)
    assert (sent.key, sent.value) == event
    worker = _user_of_role(secure_stack, secure_env, tmp_path, "worker", "--no-session-check")
    refused = subprocess.run(
        [sys.executable, "-m", "streams.cli", "redrive", "--all"],
        env=worker, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.startswith("driftline redrive: ") and refused.stderr.count("\n") == 1
    assert "kafka-acl --role redrive" in refused.stderr
