"""Bare Faust, chunked: Driftline's batch route, an agent that only acks each fetched chunk.

The floor of the path the worker takes (streams/adapters/faust/batch_consumer.py), to set beside
bare Faust's per-record path.
"""

from __future__ import annotations

import os

from faust.worker import Worker

from loadtest.baselines.faust_common import Progress, make_app
from streams.adapters.faust.batch_consumer import BatchApp
from streams.settings import Settings

# Fetches waiting for the agent are joined as the worker's are (DRIFTLINE_BATCH_MAX_RECORDS).
joined = Settings.from_env(os.environ).batch_max_records
app, topic = make_app("bare-chunked", BatchApp, max_chunk_records=joined)
chunks = app.batch_channel(topic)
progress = Progress()


@app.agent(chunks, concurrency=1)
async def consume(stream):
    async for chunk in stream:
        app.ack(chunk)
        progress.add(len(chunk.records))


if __name__ == "__main__":
    Worker(app, loglevel="warning").execute_from_commandline()
