"""What one model version's window statistics cost a /metrics scrape.

Times ``_Window.stats`` (the per-feature mean, p50, p95, top share and missing rate that
``driftline_feature_stat`` exports) on a full window of 1,000 events x 20 numeric + 4
categorical features with 2% missing values; prints the best of ``--repeat`` in us.

Run: .venv/bin/python -m loadtest.bench_window_stats [--repeat 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from streams.adapters.prometheus.window_summary import _Window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    window = _Window(tuple(f"x{i}" for i in range(20)), {f"c{i}": "a" for i in range(4)}, [],
                     size=1000)  # fmt: skip
    window.ring[:] = rng.normal(size=window.ring.shape)
    window.ring[rng.random(window.ring.shape) < 0.02] = np.nan
    window.filled = window.size
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        stats = list(window.stats())
        timings.append(time.perf_counter() - started)
    assert len(stats) == 20 * 4 + 4 * 2, "every feature's statistics"
    print(f"{min(timings) * 1e6:.0f} us per version's window statistics (best of {args.repeat})")


if __name__ == "__main__":
    main()
