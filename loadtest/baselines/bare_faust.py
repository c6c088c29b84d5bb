"""Bare Faust: an agent that only takes batches and acks them. Faust's own ceiling."""

from __future__ import annotations

from faust.worker import Worker

from loadtest.baselines.faust_common import Progress, make_app

app, topic = make_app("bare")
progress = Progress()


@app.agent(topic, concurrency=1)
async def consume(stream):
    async for batch in stream.take_events(1000, within=0.2):
        progress.add(len(batch))


if __name__ == "__main__":
    Worker(app, loglevel="warning").execute_from_commandline()
