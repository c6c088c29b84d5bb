"""Cost per event of the core ingestion step (decode + validate against a spec), no servers.

Run: .venv/bin/python loadtest/bench_ingest.py [--events N] [--batch N]
"""

from __future__ import annotations

import argparse
import random
import time

import orjson

from streams.core import EventDecoder, Ingestor, RawRecord, SpecRegistry


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
            "timestamp": "2026-11-23T08:00:00.250Z",
            "features": features,
            "prediction": 1,
            "score": rng.random(),
            "latency_ms": 3.5,
        }
        records.append(RawRecord(orjson.dumps(event), 0, "predictions", 0, i))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--features-numeric", type=int, default=20)
    parser.add_argument("--features-categorical", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    records = make_records(args.events, args.features_numeric, args.features_categorical)
    ingestor = Ingestor(EventDecoder(), SpecRegistry(warmup_events=200))
    ingestor.ingest(records[:200])  # the warm-up infers the spec; measure the steady state
    started = time.perf_counter()
    accepted = 0
    for start in range(200, len(records), args.batch):
        accepted += len(ingestor.ingest(records[start : start + args.batch]).accepted)
    elapsed = time.perf_counter() - started
    measured = len(records) - 200
    assert accepted == measured, f"only {accepted} of {measured} accepted"
    size = sum(len(r.value or b"") for r in records) / len(records)
    print(
        f"{measured} events ({size:.0f} bytes, {args.features_numeric} numeric + "
        f"{args.features_categorical} categorical features), batches of {args.batch}: "
        f"{elapsed / measured * 1e6:.1f} us/event, {measured / elapsed:,.0f} events/s on one core"
    )


if __name__ == "__main__":
    main()
