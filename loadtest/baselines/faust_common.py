"""What the baseline Faust apps share: settings from BENCH_* variables, and the report.

Each baseline counts the events it consumed and, at the ``BENCH_EVENTS``-th, prints one JSON
line (events, seconds from its first event to the last) for the runner, which then stops it.
"""

from __future__ import annotations

import os
import time
from typing import Any

import faust
import orjson

from streams.settings import Settings


def make_app(
    name: str, app_class: type[faust.App] = faust.App, **app_options: Any
) -> tuple[faust.App, faust.TopicT]:
    app = app_class(
        os.environ["BENCH_GROUP"],
        # Through Driftline's one client config: a secured cluster's DRIFTLINE_KAFKA_* apply.
        **Settings.from_env(
            os.environ, kafka_bootstrap=os.environ["BENCH_BOOTSTRAP"]
        ).kafka.faust_options(),
        **app_options,
        store="memory://",
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        web_port=int(os.environ["BENCH_WEB_PORT"]),
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        datadir=os.environ["BENCH_DATADIR"],
    )
    topic = app.topic(os.environ["BENCH_TOPIC"], key_serializer="raw", value_serializer="raw")
    return app, topic


class Progress:
    """Counts consumed events; reports once when all have arrived."""

    def __init__(self) -> None:
        self.target = int(os.environ["BENCH_EVENTS"])
        self.count = 0
        self.started: float | None = None

    def add(self, n: int) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.count += n
        if self.count >= self.target and self.started is not None:
            elapsed = time.monotonic() - self.started
            # mode replaces sys.stdout with a logging proxy: write to the descriptor itself.
            os.write(1, orjson.dumps({"events": self.count, "seconds": elapsed}) + b"\n")
            self.started = None
            self.target = float("inf")  # type: ignore[assignment]
