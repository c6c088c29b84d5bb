"""The Kafka ACLs of a worker's principal: every topic its settings name is covered, the
internal topics by one prefix, and the output is what kafka-acls.sh and the admin API take;
a logging service's and an alert consumer's, kept apart from the worker's. That each runs
on exactly these: tests/integration/test_secure_kafka.py."""

from __future__ import annotations

import os
import shlex

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from streams.adapters.kafka.acl import (
    acl_bindings,
    alert_consumer_grants,
    kafka_acls_commands,
    logger_grants,
    redrive_grants,
    worker_grants,
)
from streams.cli import main
from streams.settings import Settings


def allowed(settings: Settings, **options: bool) -> set[tuple[str, str | None, str]]:
    """``(resource, name, operation)`` for literal grants; prefixed ones end in ``*``."""
    return operations(worker_grants(settings, **options))


def operations(grants) -> set[tuple[str, str | None, str]]:
    return {(g.resource, f"{g.name}*" if g.prefixed else g.name, op)
            for g in grants for op in g.operations}  # fmt: skip


def test_each_topic_the_worker_uses_gets_what_it_does_there():
    settings = Settings.from_env({"DRIFTLINE_APP_ID": "acme"})
    ops = allowed(settings)
    for topic in ("predictions", "labels"):
        assert {("topic", topic, op) for op in ("Read", "Describe", "DescribeConfigs")} <= ops
        assert ("topic", topic, "Write") not in ops  # the worker never writes its input
    for topic in ("alerts", "retrain-requests", "predictions-dlq", "labels-dlq"):
        assert {("topic", topic, "Write"), ("topic", topic, "Describe")} <= ops
        assert ("topic", topic, "Read") not in ops
    assert ("topic", "predictions-dlq", "AlterConfigs") in ops  # raised to its source's limit
    # The by-model topics (acme-predictions-by-model...) and Faust's own, by one prefix.
    assert {("topic", "acme-*", op) for op in ("Read", "Write", "Create")} <= ops
    assert {("group", "acme", "Read"), ("cluster", None, "DescribeConfigs")} <= ops
    assert {name for kind, name, _ in ops if kind == "topic"} == {
        "predictions", "labels", "alerts", "retrain-requests", "predictions-dlq", "labels-dlq",
        "acme-*",
    }  # fmt: skip


def test_options_leave_out_create_and_the_session_check():
    ops = allowed(Settings.from_env({}), create=False, check_session=False)
    assert not [op for op in ops if op[2] == "Create"]
    assert not [op for op in ops if op[0] == "cluster"]


def test_internal_topics_named_outside_the_prefix_are_granted_by_name():
    settings = Settings.from_env({"DRIFTLINE_TOPIC_BY_MODEL": "shared.by-model"})
    ops = allowed(settings)
    assert {("topic", "shared.by-model", op) for op in ("Read", "Write", "Describe")} <= ops
    assert not any(name == "driftline-labels-by-model" for _, name, _ in ops)  # under the prefix


def test_commands_are_kafka_acls_lines_one_per_resource():
    grants = worker_grants(Settings.from_env({}))
    lines = kafka_acls_commands("User:worker", grants)
    assert len(lines) == len(grants)
    words = [shlex.split(line) for line in lines]
    assert all(w[:4] == ["kafka-acls.sh", "--add", "--allow-principal", "User:worker"]
               for w in words)  # fmt: skip
    prefixed = next(w for w in words if "prefixed" in w)
    assert prefixed[-2:] == ["--topic", "driftline-"]
    assert words[-1][-3:] == ["--operation", "DescribeConfigs", "--cluster"]


def test_bindings_are_the_admin_apis():
    grants = worker_grants(Settings.from_env({}))
    bindings = acl_bindings("User:worker", grants)
    assert len(bindings) == sum(len(g.operations) for g in grants)
    cluster = [b for b in bindings if b.restype == ResourceType.BROKER]
    assert [(b.name, b.operation) for b in cluster] == [
        ("kafka-cluster", AclOperation.DESCRIBE_CONFIGS)
    ]
    prefixed = {b.name for b in bindings if b.resource_pattern_type == ResourcePatternType.PREFIXED}
    assert prefixed == {"driftline-"}
    assert {b.operation for b in bindings} >= {AclOperation.ALTER_CONFIGS, AclOperation.READ}


@pytest.mark.parametrize("principal", ["worker", "User:", ":worker", "User:a b"])
def test_a_principal_that_is_not_type_and_name_is_refused(principal, capsys):
    with pytest.raises(ValueError, match="TYPE:NAME"):
        kafka_acls_commands(principal, [])
    assert main(["kafka-acl", "--principal", principal]) == 2
    assert "a Kafka principal is TYPE:NAME" in capsys.readouterr().err


def test_the_command_prints_the_lines(capsys, monkeypatch):
    monkeypatch.setenv("DRIFTLINE_APP_ID", "acme")
    assert main(["kafka-acl", "--principal", "User:w", "--no-create"]) == 0
    out = capsys.readouterr().out.splitlines()
    settings = Settings.from_env(os.environ)
    assert out == kafka_acls_commands("User:w", worker_grants(settings, create=False))
    assert any(line.endswith("--topic acme-") for line in out)


def test_a_logging_service_may_write_the_input_topics_and_nothing_else():
    settings = Settings.from_env({"DRIFTLINE_TOPIC_PREDICTIONS": "preds"})
    assert operations(logger_grants(settings)) == {
        ("topic", topic, op) for topic in ("preds", "labels") for op in ("Write", "Describe")
    }


def test_an_alert_consumer_may_read_alerts_and_requests_in_its_group_and_nothing_else():
    ops = operations(alert_consumer_grants(Settings.from_env({}), "pager"))
    assert ops == {
        *(("topic", t, op) for t in ("alerts", "retrain-requests") for op in ("Read", "Describe")),
        ("group", "pager", "Read"),
        ("group", "pager", "Describe"),
    }
    with pytest.raises(ValueError, match="consumer group"):
        alert_consumer_grants(Settings.from_env({}), "")


def test_redrive_may_read_the_dead_letters_and_write_the_inputs_and_nothing_else():
    ops = operations(redrive_grants(Settings.from_env({"DRIFTLINE_APP_ID": "acme"})))
    assert ops == {
        *(("topic", t, op) for t in ("predictions-dlq", "labels-dlq")
          for op in ("Read", "Describe", "DescribeConfigs")),
        *(("topic", t, op) for t in ("predictions", "labels") for op in ("Write", "Describe")),
        ("group", "acme-redrive", "Describe"),
    }  # fmt: skip


def test_the_command_prints_each_roles_lines(capsys):
    settings = Settings.from_env(os.environ)
    assert main(["kafka-acl", "--role", "logger", "--principal", "User:svc"]) == 0
    assert capsys.readouterr().out.splitlines() == kafka_acls_commands(
        "User:svc", logger_grants(settings)
    )
    assert main(["kafka-acl", "--role", "alert-consumer", "--principal", "User:p",
                 "--group", "pager"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines() == kafka_acls_commands(
        "User:p", alert_consumer_grants(settings, "pager")
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "logger"], "--role logger needs --principal"),
        (["--role", "alert-consumer", "--principal", "User:p"], "--group names"),
        (["--group", "pager"], "--group names"),
        (["--role", "logger", "--principal", "User:s", "--no-create"], "are the worker's"),
    ],
)
def test_a_role_without_what_it_needs_is_one_line_and_exit_2(args, says, capsys):
    assert main(["kafka-acl", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and says in captured.err
