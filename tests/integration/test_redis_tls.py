"""A worker on a secured Redis: TLS only, an ACL user limited to its prefix and our commands.

The server is Debian's redis-server with a TLS port and an ACL file (``redis_tls.py``); the
worker gets ``rediss://driftline:PASSWORD@127.0.0.1:PORT/0?ssl_ca_certs=CA`` and nothing else
changes. It must process, save, join labels and resume under that user; the user must not
reach other keys or run admin commands; a client that does not trust the CA must fail.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish
from streams.adapters.redis.acl import COMMANDS, acl_rules
from streams.adapters.redis.keys import covered_offsets, parse_sources
from streams.settings import Settings
from streams.simulation import StreamConfig, generate_events, keyed_labels
from streams.stack import process
from streams.stack.worker import WorkerProcess
from tests.integration import redis_tls
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    wait_until_processed,
)
from tests.integration.test_labels_end_to_end import wait_for_labels

pytestmark = pytest.mark.integration

# A fixed port when several test runs share the machine; otherwise any free one.
PORT_VARIABLE = "DRIFTLINE_TEST_REDIS_TLS_PORT"
STREAM = StreamConfig(model_id="it-tls", seed=5)
FIRST, SECOND, LABELLED = 400, 200, 100


@pytest.fixture(scope="module")
def secured(stack_config, tmp_path_factory):
    """The TLS Redis, and a worker environment that uses it as the restricted user."""
    env = isolated_env(stack_config, tmp_path_factory.mktemp("faust"))
    port = int(os.environ.get(PORT_VARIABLE) or free_port())
    directory = tmp_path_factory.mktemp("redis-tls")
    server, pid = redis_tls.start(directory, port, env["DRIFTLINE_REDIS_PREFIX"])
    env |= {
        "DRIFTLINE_REDIS_URL": server.url(),
        "DRIFTLINE_REFERENCE_EVENTS": "200",
        "DRIFTLINE_WINDOW_EVENTS": "100",
        "DRIFTLINE_LABEL_RETRY_S": "0.5",
    }
    yield server, env
    process.stop(pid)


def test_the_user_reaches_its_prefix_and_our_commands_only(secured) -> None:
    server, _ = secured
    with redis.Redis.from_url(server.url()) as client:
        client.set(f"{server.prefix}:probe", b"ok")
        assert client.get(f"{server.prefix}:probe") == b"ok"
        for denied in (
            lambda: client.get("other-service:secret"),
            lambda: client.set("other-service:secret", b"x"),
            lambda: client.set(f"{server.prefix}x:probe", b"x"),  # a longer prefix is another
            client.flushall,
            lambda: client.config_set("dir", "/tmp"),
            lambda: client.keys("*"),
            lambda: client.eval("return 1", 0),  # only registered scripts, by hash
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                denied()
    with server.admin() as admin:
        dangerous = set(admin.acl_cat("dangerous"))
        assert admin.get("other-service:secret") is None  # nothing was written
    granted = {command.split("|")[0] for command in COMMANDS} | set(COMMANDS)
    assert not granted & dangerous, granted & dangerous


def test_a_client_that_does_not_trust_the_ca_fails_clearly(secured) -> None:
    server, _ = secured
    with (
        pytest.raises(redis.ConnectionError, match="certificate verify failed"),
        redis.Redis.from_url(server.url(ca=False)) as client,
    ):
        client.ping()
    with (
        pytest.raises(redis.ConnectionError),
        redis.Redis.from_url(
            f"redis://{redis_tls.USER}:{server.password}@127.0.0.1:{server.port}/0",
            socket_timeout=3,
        ) as plain,
    ):
        plain.ping()
    with (
        pytest.raises(redis.AuthenticationError),
        redis.Redis.from_url(server.url(password="wrong")) as wrong,
    ):
        wrong.ping()


def test_a_worker_runs_saves_joins_and_resumes_as_the_restricted_user(secured, tmp_path):
    server, env = secured
    settings = Settings.from_env(env)
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    first.start()
    try:
        assert first.health()[1]["redis"] == {"ok": True}
        publish_stream(settings, STREAM, FIRST)
        wait_until_processed(first, FIRST)
        chunks = generate_events(STREAM, LABELLED)
        labels = [r for chunk in chunks for r in keyed_labels(STREAM, chunk, flip_rate=0.0)]
        publish(settings.kafka, settings.topic_labels, labels)
        wait_for_labels(first, "joined", LABELLED)
    finally:
        assert first.stop() == 0
    before = stored(server, settings)
    assert before["profile"] is not None and before["offsets"] == FIRST

    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        publish_stream(settings, STREAM, SECOND, offset=FIRST)
        wait_until_processed(second, FIRST + SECOND - FIRST)
        # Resumed, not restarted: only the new events, the reference kept, windows go on.
        assert second.metric_total("driftline_events_processed_total") == SECOND
    finally:
        assert second.stop() == 0
    after = stored(server, settings)
    assert after["profile"] == before["profile"]
    assert after["windows_closed"] == before["windows_closed"] + SECOND // 100
    assert after["offsets"] == FIRST + SECOND
    for log in ("first.log", "second.log"):
        text = (tmp_path / log).read_text().lower()
        assert "no permissions" not in text, f"a command or key was refused: {log}"


def stored(server, settings: Settings) -> dict:
    """What Redis holds for the stream's model: its profile, windows closed, offsets sum."""
    prefix = settings.redis_prefix
    with server.admin() as admin:
        [state_key] = admin.keys(f"{prefix}:{{{STREAM.model_id}}}:state:*")
        profile = admin.get(state_key.replace(b":state:", b":profile:"))
        state = orjson.loads(admin.get(state_key))
        # The input offsets applied, per slot read at (a by-model partition, whose offsets
        # are a bundle's, or -1 - p for the records applied where they were read).
        sources_key = f"{prefix}:sources:{settings.monitored(settings.topic_predictions)}"
        sources = admin.hgetall(sources_key)
    # Per input partition, the last applied by any road; applied records = sum of (offset + 1).
    last = covered_offsets(parse_sources(sources_key, sources), settings.topic_predictions)
    return {
        "profile": profile,
        "windows_closed": state["windows_closed"],
        "offsets": sum(o + 1 for o in last.values()),
    }


def test_a_command_its_user_lacks_stops_the_worker_saying_what_to_grant(
    secured, stack_config, tmp_path
):
    """A user without EVALSHA (every batch's save runs a script): the worker stops with one
    line naming `driftline redis-acl`, exit code 2, instead of dropping the batch's writes or
    retrying for ever."""
    server, _ = secured
    env = isolated_env(stack_config, tmp_path / "faust")  # topics and a prefix of its own
    settings = Settings.from_env(env)
    user, password = "driftline-short", secrets.token_urlsafe(18)
    rules = [rule for rule in acl_rules(settings.redis_prefix) if rule != "+evalsha"]
    with server.admin() as admin:
        admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", *rules)
    short = env | {"DRIFTLINE_REDIS_URL": server.url(user, password),
                   "DRIFTLINE_WEB_PORT": str(free_port())}  # fmt: skip
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        command = [sys.executable, "-m", "streams.cli", "worker"]
        worker = subprocess.Popen(command, env=short, stdout=out, stderr=subprocess.STDOUT)
        try:
            time.sleep(5)  # joined; then the events' first batch needs EVALSHA
            publish_stream(settings, STREAM, FIRST)
            worker.wait(timeout=60)
        finally:
            worker.kill()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert worker.returncode == 2, lines[-20:]
    assert lines[-1].startswith("driftline: Redis refuses the worker's commands")
    assert "driftline redis-acl" in lines[-1]
