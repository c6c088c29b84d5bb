"""``driftline redrive`` on the real broker and Redis, with a worker: dead letters of a cause
mended since (a model the reject policy refused, until its spec was stored) are applied once
sent again; a dead letter marked sent is never sent again, whatever each run chooses, and one
sent but not marked (Redis refused the mark) is sent again and skipped by the worker's
duplicate filter."""

from __future__ import annotations

import secrets

import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish
from streams.adapters.redis.acl import acl_rules
from streams.cli import main
from streams.samples import sample_events
from streams.settings import Settings
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    read_all,
    wait_for,
    wait_for_metric,
)
from tests.integration.test_registered_specs import SPEC

pytestmark = pytest.mark.integration

MODEL = "it-redrive"


def redrive(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["redrive", *args])
    out, err = capsys.readouterr()
    assert code or not err, err
    return code, out, err


def dead_letters(settings: Settings, count: int) -> list:
    return wait_for(
        lambda: len(found := read_all(settings, settings.topic_dlq)) >= count and found,
        f"{count} dead letters",
    )


def without_setbit(settings: Settings) -> str:
    """The URL of a new Redis user granted what a worker is but SETBIT: the marks' writes."""
    user, password = f"nosetbit-{secrets.token_hex(4)}", secrets.token_hex(16)
    rules = [rule for rule in acl_rules(settings.redis_prefix) if rule != "+setbit"]
    with redis.Redis.from_url(settings.redis_url) as admin:
        admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", *rules)
    address = settings.redis_url.rsplit("@", 1)[-1].removeprefix("redis://")
    return f"redis://{user}:{password}@{address}"


def test_mended_dead_letters_are_applied_once_and_never_sent_twice(
    stack_config, tmp_path, monkeypatch, capsys
):
    env = isolated_env(stack_config, tmp_path / "faust") | {"DRIFTLINE_UNKNOWN_MODELS": "reject"}
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        events = list(sample_events(MODEL, 40))
        publish(settings.kafka, settings.topic_predictions,
                [(MODEL.encode(), v) for v in events] + [(b"k", b"not json")])  # fmt: skip
        letters = dead_letters(settings, 41)
        reasons = sorted(letter.headers["driftline.dlq.reason"] for letter in letters)
        assert reasons == [b"not_json"] + [b"unknown_model"] * 40

        code, out, _ = redrive(monkeypatch, capsys, env, "--reason", "unknown_model", "--dry-run")
        assert code == 0
        assert "would send 40 dead letters again" in out, out
        assert f"40 to {settings.topic_predictions} (unknown_model)" in out
        assert "passed over 1: other reasons" in out

        with redis.Redis.from_url(settings.redis_url) as client:
            client.hset(f"{settings.redis_prefix}:specs", MODEL,
                        orjson.dumps(SPEC | {"model_id": MODEL}))  # fmt: skip
        wait_for_metric(worker, "driftline_models_known", 1)
        # Sent, but Redis refuses the marks: the run fails saying so, and the worker applies
        # the copies it was sent.
        refused = env | {"DRIFTLINE_REDIS_URL": without_setbit(settings)}
        code, _, err = redrive(monkeypatch, capsys, refused, "--reason", "unknown_model")
        assert code == 1 and "setbit" in err.lower() and err.count("\n") == 1, err
        wait_for_metric(worker, "driftline_events_processed_total", 40, model=MODEL)

        # So the next run sends them again: the worker's duplicate filter skips the copies.
        code, out, _ = redrive(monkeypatch, capsys, env, "--reason", "unknown_model")
        assert code == 0 and "sent 40 dead letters again" in out, out
        wait_for_metric(worker, "driftline_duplicate_events_total", 40, model=MODEL)
        assert worker.metric_total("driftline_events_processed_total", model=MODEL) == 40

        sent = [r for r in read_all(settings, settings.topic_predictions)
                if "driftline.redriven.from" in r.headers]  # fmt: skip
        assert sorted(r.value for r in sent) == sorted(events * 2)
        assert {r.key for r in sent} == {MODEL.encode()}
        origins = {r.headers["driftline.redriven.from"].decode() for r in sent}
        assert origins == {f"{settings.topic_dlq}/{d.partition}/{d.offset}" for d in letters
                           if d.headers["driftline.dlq.reason"] == b"unknown_model"}  # fmt: skip

        # Every reason now: the 40 were sent already; the bad record goes again, and back.
        code, out, _ = redrive(monkeypatch, capsys, env, "--all")
        assert code == 0
        assert "sent 1 dead letter again" in out, out
        assert "passed over 40: sent by an earlier run" in out
        again = dead_letters(settings, 42)
        assert sorted(d.value for d in again if d.value == b"not json") == [b"not json"] * 2
        assert worker.metric_total("driftline_events_processed_total", model=MODEL) == 40
    finally:
        assert worker.stop() == 0


def test_a_dead_letter_topic_that_does_not_exist_is_one_line(
    stack_config, tmp_path, monkeypatch, capsys
):
    env = isolated_env(stack_config, tmp_path / "faust")  # no worker made its topics
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["redrive", "--all"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("driftline redrive: no dead-letter topic") and err.count("\n") == 1
