"""The Kafka ACLs of a worker's principal: every topic its settings name is covered, the
internal topics by one prefix, and the output is what kafka-acls.sh and the admin API take.
That a worker runs on exactly these: tests/integration/test_secure_kafka.py."""

from __future__ import annotations

import os
import shlex

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from streams.adapters.kafka.acl import acl_bindings, kafka_acls_commands, worker_grants
from streams.cli import main
from streams.settings import Settings


def allowed(settings: Settings, **options: bool) -> set[tuple[str, str | None, str]]:
    """``(resource, name, operation)`` for literal grants; prefixed ones end in ``*``."""
    return {
        (g.resource, f"{g.name}*" if g.prefixed else g.name, op)
        for g in worker_grants(settings, **options)
        for op in g.operations
    }


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
