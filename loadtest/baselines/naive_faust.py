"""The naive baseline, written fairly: how a first attempt at streaming drift detection looks.

Per event: parse the JSON, update one river ADWIN per numeric feature of that model, and do
one Redis round trip (a counter per model, as a first attempt keeps its state), emitting an
alert when ADWIN flags a change. No batching, no vectorisation, no validation beyond parsing.
"""

from __future__ import annotations

import os

import orjson
import redis.asyncio as aioredis
from faust.worker import Worker
from river.drift import ADWIN

from loadtest.baselines.faust_common import Progress, make_app

app, topic = make_app("naive")
alerts = app.topic(os.environ["BENCH_ALERTS"], key_serializer="raw", value_serializer="raw")
progress = Progress()
detectors: dict[tuple[str, str], ADWIN] = {}
store = aioredis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@app.agent(topic, concurrency=1)
async def watch(stream):
    async for value in stream:
        event = orjson.loads(value)
        model = event["model_id"]
        for name, x in event["features"].items():
            if type(x) in (int, float):
                detector = detectors.get((model, name))
                if detector is None:
                    detector = detectors[model, name] = ADWIN()
                detector.update(x)
                if detector.drift_detected:
                    alert = {"model_id": model, "feature": name, "event_id": event["event_id"]}
                    await alerts.send(key=model.encode(), value=orjson.dumps(alert))
        await store.incr(f"naive:{os.environ['BENCH_GROUP']}:{model}")
        progress.add(1)


if __name__ == "__main__":
    Worker(app, loglevel="warning").execute_from_commandline()
