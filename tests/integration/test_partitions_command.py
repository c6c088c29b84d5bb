"""``driftline partitions``: partitions added only once no worker runs and every record is
consumed, on every topic the workers read; otherwise one line on what to do."""

from __future__ import annotations

import pytest

from streams.adapters.kafka.admin import connect_admin
from streams.adapters.kafka.partitions import consumed_topics
from streams.cli import main
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

STREAM = StreamConfig(model_id="it-grow", seed=4)


def counts(settings: Settings) -> dict[str, int]:
    found = connect_admin(settings.kafka).list_topics(timeout=10).topics
    return {topic: len(found[topic].partitions) for topic in consumed_topics(settings)}


def run(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["partitions", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_partitions_are_added_only_with_the_group_stopped_and_consumed(
    stack_config, tmp_path, monkeypatch, capsys
):
    env = isolated_env(stack_config, tmp_path / "faust")  # 2 partitions
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, STREAM, 200)
        wait_until_processed(worker, 200)
        code, _, err = run(monkeypatch, capsys, env, "3")
        assert code == 1 and "1 worker(s) still in group" in err, err
    finally:
        assert worker.stop() == 0

    code, out, _ = run(monkeypatch, capsys, env, "3", "--dry-run")
    assert code == 0 and out.count("2 -> 3 partitions (would go)") == 4, out
    assert set(counts(settings).values()) == {2}

    code, out, _ = run(monkeypatch, capsys, env, "3")
    assert code == 0 and out.count("2 -> 3 partitions (went)") == 4, out
    assert "DRIFTLINE_PARTITIONS=3" in out
    assert set(counts(settings).values()) == {3}

    publish_stream(settings, STREAM, 5, offset=200)  # read by no worker yet
    code, _, err = run(monkeypatch, capsys, env, "4")
    assert code == 1 and f"(5 on {settings.topic_predictions})" in err, err
    assert set(counts(settings).values()) == {3}

    code, _, err = run(monkeypatch, capsys, env, "2")
    assert code == 2 and "cannot remove partitions" in err, err
