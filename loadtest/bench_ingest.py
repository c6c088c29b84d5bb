"""Cost per event of the core ingestion step (decode + validate against a spec), no servers.

Run: .venv/bin/python loadtest/bench_ingest.py [--events N] [--batch N] [--candidates]

``--candidates`` times, on the same batch, the ways of decoding it that were weighed
(orjson per record; msgspec, if installed, generic and with a typed struct per shape) next
to the decoder itself and the batch's columns (``Columns.from_events``).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import orjson

from streams.core import EventDecoder, Ingestor, RawRecord, SpecRegistry
from streams.core.contract.columns import Columns

_START_MS = 1_795_420_800_000  # 2026-11-23T08:00:00Z


def make_records(count: int, numeric: int, categorical: int) -> list[RawRecord]:
    rng = random.Random(1)
    records = []
    for i in range(count):
        features: dict[str, object] = {f"x{j}": rng.gauss(0, 1) for j in range(numeric)}
        features.update({f"c{j}": rng.choice("abcde") for j in range(categorical)})
        event = {
            "event_id": f"e{i}",
            "model_id": "bench",
            "model_version": "v1",
            # ~500 events/s of event time: each timestamp a new millisecond, as in a stream.
            "timestamp": _rfc3339(_START_MS + 2 * i),
            "features": features,
            "prediction": 1,
            "score": rng.random(),
            "latency_ms": 3.5,
        }
        records.append(RawRecord(orjson.dumps(event), 0, "predictions", 0, i))
    return records


def _rfc3339(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    clock = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{clock}.{millis:03d}Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--features-numeric", type=int, default=20)
    parser.add_argument("--features-categorical", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--candidates", action="store_true", help="time the decoding candidates")
    args = parser.parse_args()
    records = make_records(args.events, args.features_numeric, args.features_categorical)
    if args.candidates:
        candidates(records, args.features_numeric, args.features_categorical)
        return
    ingestor = Ingestor(EventDecoder(), SpecRegistry(warmup_events=200))
    ingestor.ingest(records[:200])  # the warm-up infers the spec; measure the steady state
    # CPU time, not wall time: on a shared machine the process waits for a core a lot.
    started = time.process_time()
    accepted = 0
    for start in range(200, len(records), args.batch):
        accepted += len(ingestor.ingest(records[start : start + args.batch]).accepted)
    elapsed = time.process_time() - started
    measured = len(records) - 200
    assert accepted == measured, f"only {accepted} of {measured} accepted"
    size = sum(len(r.value or b"") for r in records) / len(records)
    print(
        f"{measured} events ({size:.0f} bytes, {args.features_numeric} numeric + "
        f"{args.features_categorical} categorical features), batches of {args.batch}: "
        f"{elapsed / measured * 1e6:.1f} us/event, {measured / elapsed:,.0f} events/s on one core"
    )


def candidates(records: list[RawRecord], numeric: int, categorical: int) -> None:
    """Print the best of 5 CPU timings of each way of decoding the same records, per event."""
    values = [r.value or b"" for r in records]
    decoder = EventDecoder()
    events = [decoder.decode(r) for r in records]
    numeric_names = [f"x{j}" for j in range(numeric)]
    categorical_names = [f"c{j}" for j in range(categorical)]
    ways: dict[str, Callable[[], object]] = {
        "orjson.loads per record": lambda: [orjson.loads(v) for v in values],
        "EventDecoder.decode (orjson + every check)": lambda: list(map(decoder.decode, records)),
        "Columns.from_events (the batch as columns)": lambda: Columns.from_events(
            events, numeric_names, categorical_names
        ),
    }
    ways.update(_msgspec_ways(values, numeric_names, categorical_names))
    for name, way in ways.items():
        best = min(_seconds(way) for _ in range(5))
        print(f"{name:50s} {best / len(records) * 1e6:6.2f} us/event")


def _msgspec_ways(
    values: list[bytes], numeric: list[str], categorical: list[str]
) -> dict[str, Callable[[], object]]:
    try:
        import msgspec
    except ImportError:  # not a dependency: weighed, not kept (BENCHMARKS.md says why)
        print("msgspec is not installed: its rows are left out")
        return {}
    unset: Any = msgspec.UNSET
    optional = [("timestamp", str, unset), ("score", float, unset), ("latency_ms", float, unset)]
    fields = [(n, float) for n in numeric] + [(n, str) for n in categorical]
    typed = msgspec.defstruct("Features", fields, forbid_unknown_fields=True)
    head = [("event_id", str), ("model_id", str), ("model_version", str)]
    outcome = int | float | str | bool
    plain = [*head, ("features", dict[str, outcome | None]), ("prediction", outcome)]
    shaped = [*head, ("features", typed), ("prediction", outcome)]
    generic = msgspec.json.Decoder()
    by_dict = msgspec.json.Decoder(msgspec.defstruct("Event", plain + optional))
    by_shape = msgspec.json.Decoder(msgspec.defstruct("ShapedEvent", shaped + optional))
    return {
        "msgspec generic per record": lambda: list(map(generic.decode, values)),
        "msgspec struct, features a dict": lambda: list(map(by_dict.decode, values)),
        "msgspec struct, features a struct per shape": lambda: list(map(by_shape.decode, values)),
    }


def _seconds(way: Callable[[], object]) -> float:
    started = time.process_time()
    way()
    return time.process_time() - started


if __name__ == "__main__":
    main()
