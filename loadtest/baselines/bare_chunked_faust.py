"""Bare Faust, chunked: Driftline's batch route, an agent that only acks each fetched chunk.

The floor of the path the worker takes (streams/adapters/faust/batch_consumer.py), to set beside
bare Faust's per-record path.
"""

from __future__ import annotations

from faust.worker import Worker

from loadtest.baselines.faust_common import Progress, make_app
from streams.adapters.faust.batch_app import BatchApp

# No fetches joined (a cap of 0): this agent is never busy but before it starts, and the
# start-up backlog joined into its first chunk would be left out of Progress's clock.
app, topic = make_app("bare-chunked", BatchApp, max_chunk_records=0)
chunks = app.batch_channel(topic)
progress = Progress()


@app.agent(chunks, concurrency=1)
async def consume(stream):
    async for chunk in stream:
        app.ack(chunk)
        progress.add(len(chunk.records))


if __name__ == "__main__":
    Worker(app, loglevel="warning").execute_from_commandline()
