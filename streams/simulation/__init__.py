"""Synthetic prediction streams with injectable drift, for detector tests, benchmarks and demos.

A ``StreamConfig`` describes a stream (model, features, seed, clock) and the ``Scenario``
drifts injected into it; ``generate_events`` yields it as columnar numpy chunks and
``encode_events`` turns a chunk into JSON prediction events. The same config and event
indices always give the same events.

Examples
--------
>>> from streams.simulation import Scenario, StreamConfig, encode_events, generate_events
>>> config = StreamConfig(
...     seed=42, scenarios=(Scenario(kind="abrupt", feature="x3", start=5000, magnitude=0.5),)
... )
>>> for chunk in generate_events(config, 20_000):
...     values = encode_events(config, chunk)  # publish, or feed a detector chunk.numeric
"""

from streams.simulation.config import StreamConfig
from streams.simulation.encoding import encode_events, keyed_events, raw_records, write_jsonl
from streams.simulation.generator import CHUNK_EVENTS, EventChunk, generate_events
from streams.simulation.labels import keyed_labels
from streams.simulation.scenario import KINDS, Scenario

__all__ = [
    "CHUNK_EVENTS",
    "KINDS",
    "EventChunk",
    "Scenario",
    "StreamConfig",
    "encode_events",
    "generate_events",
    "keyed_events",
    "keyed_labels",
    "raw_records",
    "write_jsonl",
]
