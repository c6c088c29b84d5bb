"""A Prometheus histogram observed a whole numpy column at a time, exported at scrape time.

prometheus_client's ``Histogram.observe`` takes one value per call (a lock and a loop over
the buckets each time); a 5,000-event batch would pay that 5,000 times. Here a batch costs
one ``searchsorted`` and one ``bincount`` per label set, and the cumulative buckets are only
built when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from streams.adapters.prometheus.text_families import (
    SeriesPrefixes,
    TextFamily,
    family_header,
    sample_line,
)

__all__ = ["BatchHistogram"]


class BatchHistogram(TextFamily):
    """Bucket counts and sums per label set, fed by ``observe(labels, values)``.

    Parameters
    ----------
    name, documentation, labelnames
        As for ``prometheus_client.Histogram`` (``name`` without ``_bucket``).
    buckets
        Upper bounds in ascending order; ``+Inf`` is added.

    Examples
    --------
    >>> h = BatchHistogram("age_seconds", "Age.", ["model"], buckets=(1, 10))
    >>> h.observe(("m",), np.array([0.5, 2.0, 20.0, np.nan]))
    >>> [(s.name, s.labels.get("le"), s.value) for s in next(h.collect()).samples][:3]
    [('age_seconds_bucket', '1.0', 1.0), ('age_seconds_bucket', '10.0', 2.0), \
('age_seconds_bucket', '+Inf', 3.0)]
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        buckets: Sequence[float],
    ) -> None:
        bounds = np.asarray(buckets, dtype=float)
        if bounds.size == 0 or np.any(np.diff(bounds) <= 0) or np.isinf(bounds[-1]):
            raise ValueError("buckets must be finite, ascending and not empty")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._bounds = bounds
        self._les = [floatToGoString(b) for b in bounds] + ["+Inf"]
        self._counts: dict[tuple[str, ...], np.ndarray] = {}
        self._sums: dict[tuple[str, ...], float] = {}
        self._header = family_header(name, documentation, "histogram")
        self._bucket_prefixes = SeriesPrefixes(f"{name}_bucket", (*labelnames, "le"))
        self._count_prefixes = SeriesPrefixes(f"{name}_count", labelnames)
        self._sum_prefixes = SeriesPrefixes(f"{name}_sum", labelnames)
        self._lines: dict[tuple[str, ...], tuple[list[str], str, str]] = {}  # rendered series

    def observe(self, labels: tuple[str, ...], values: np.ndarray) -> None:
        """Count ``values`` (NaN skipped) under ``labels``."""
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}")
        present = values[~np.isnan(values)]
        if present.size == 0:
            return
        # ``left``: a value equal to a bound belongs to that bucket (le means <=).
        slots = np.searchsorted(self._bounds, present, side="left")
        counts = np.bincount(slots, minlength=self._bounds.size + 1)
        if labels in self._counts:
            self._counts[labels] += counts
        else:
            self._counts[labels] = counts.astype(np.int64)
        self._sums[labels] = self._sums.get(labels, 0.0) + float(present.sum())

    def remove_where(self, matches: Callable[[tuple[str, ...]], bool]) -> None:
        """Drop the label sets ``matches`` accepts (a forgotten model's, say)."""
        for labels in [key for key in self._counts if matches(key)]:
            del self._counts[labels], self._sums[labels]
            self._lines.pop(labels, None)

    def series(self) -> int:
        return len(self._counts)

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, counts in self._counts.items():
            cumulative = np.cumsum(counts).tolist()
            buckets = list(zip(self._les, (float(c) for c in cumulative), strict=True))
            family.add_metric(list(labels), buckets, sum_value=self._sums[labels])
        yield family

    def exposition_parts(self) -> Iterator[str]:
        yield self._header
        series = [(labels, counts.copy(), self._sums[labels])
                  for labels, counts in self._counts.items()]  # fmt: skip
        for labels, counts, sum_value in series:  # a part per series
            buckets, count, total = self._lines.get(labels) or self._render(labels)
            cumulative = np.cumsum(counts).tolist()
            lines = list(map(sample_line, buckets, cumulative))
            # As HistogramMetricFamily: no _count and _sum beside a negative bucket.
            if self._bounds[0] >= 0:
                lines.append(sample_line(count, cumulative[-1]))
                lines.append(sample_line(total, sum_value))
            yield "".join(lines)

    def _render(self, labels: tuple[str, ...]) -> tuple[list[str], str, str]:
        buckets = [self._bucket_prefixes((*labels, le)) for le in self._les]
        rendered = (buckets, self._count_prefixes(labels), self._sum_prefixes(labels))
        self._lines[labels] = rendered
        return rendered
