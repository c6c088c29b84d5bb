"""A worker started with no Kafka says so once, in a line a person can act on, and waits."""

from __future__ import annotations

import doctest
import os
import signal
import socket
import subprocess
import sys
import time

from streams.adapters.kafka import broker_wait
from streams.adapters.kafka.broker_wait import addresses, broker_accepts, wait_for_broker


def test_the_examples_hold():
    assert doctest.testmod(broker_wait).failed == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_listening_port_accepts_and_a_closed_one_does_not():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert broker_accepts([("127.0.0.1", server.getsockname()[1])])
    assert not broker_accepts(addresses(f"127.0.0.1:{_free_port()}"))


def test_a_broker_already_up_is_not_mentioned():
    said: list[str] = []
    wait_for_broker("127.0.0.1:1", said.append, accepts=lambda _: True)
    assert said == []


def test_one_line_a_minute_however_often_it_polls():
    now = [0.0]
    said: list[str] = []
    answers = iter([False] * 3000 + [True])  # 10 minutes of polls every 0.2 s
    wait_for_broker(
        "k:9092", said.append, poll_s=0.2, accepts=lambda _: next(answers),
        clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
    )  # fmt: skip
    assert said[0].startswith("Kafka at k:9092 does not answer") and "stack up" in said[0]
    assert [line.split("(")[1] for line in said[1:-1]] == [f"{m} min)" for m in range(1, 10)]
    assert said[-1] == "Kafka at k:9092 answers after 10 min 0 s"


def test_the_worker_with_no_kafka_says_it_once_and_nothing_else_repeats(tmp_path):
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    environ |= {
        "DRIFTLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "DRIFTLINE_REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0",
    }
    err = tmp_path / "stderr"
    with err.open("wb") as out:
        # Ctrl-C as a terminal sends it: a shell's background job (CI's runner, say) starts
        # its children with SIGINT ignored, and Python then never raises KeyboardInterrupt.
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=environ, stderr=out,
            stdout=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        try:
            # Start-up, then ~5 polls a broker-less client would have retried 200 times.
            time.sleep(12)
            still_waiting = worker.poll() is None
            worker.send_signal(signal.SIGINT)
            code = worker.wait(timeout=10)
        finally:
            worker.kill()  # never left behind, whatever failed
    lines = err.read_text().splitlines()
    assert still_waiting, lines
    ours = [line for line in lines if "does not answer" in line]
    assert ours == [
        f"driftline: Kafka at 127.0.0.1:{port} does not answer; waiting for it "
        "(the local one: `driftline stack up`)"
    ]
    assert len(lines) <= 3, lines  # ours, and at most a warning that Redis is not there either
    assert "Traceback" not in err.read_text() and code == 130
