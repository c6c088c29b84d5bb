"""Metric families that keep their exposition text, and the registry that serves them.

prometheus_client's ``generate_latest`` formats every sample anew at each scrape: ~6 us a
sample (label names checked and escaped, labels sorted, the value converted), on the
worker's event loop. The per-feature families hold most of a worker's series (~310 of the
~370 lines per model version), so at 40 model versions a scrape took ~150 ms of the loop.
A ``TextFamily`` keeps each series' rendered ``name{labels}`` from the moment the series is
first set, and writes ``prefix value`` lines: the same bytes, ~50x cheaper. Any other
reader of the registry (``collect()``, ``get_sample_value``) sees the same families as
before.

The page is still written on the event loop, so the worker serves it in parts
(``MetricsRegistry.render_async``): after each few milliseconds of writing it lets the loop
run (batches, heartbeats, probes) before the next part. Each family writes its parts from a
snapshot of its series taken when it starts, so a series set or removed meanwhile changes
only whether this page shows it.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = [
    "MetricsRegistry",
    "SeriesPrefixes",
    "TextFamily",
    "TextGauge",
    "family_header",
    "sample_line",
]

#: Series written per part of a page (``TextFamily.exposition_parts``): ~2 ms each.
_SERIES_PER_PART = 1000

# The names that need no quoting or escaping in the text format (prometheus_client's own).
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def family_header(name: str, documentation: str, kind: str = "gauge") -> str:
    """The ``# HELP`` and ``# TYPE`` lines of a family, as ``generate_latest`` writes them."""
    if not _METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    text = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {text}\n# TYPE {name} {kind}\n"


class SeriesPrefixes:
    """Render the ``name{label="value",...}`` of a series, labels sorted by name and values
    escaped as the text format wants them.

    Examples
    --------
    >>> prefixes = SeriesPrefixes("driftline_x", ("model", "feature"))
    >>> prefixes(("credit", 'a"b'))
    'driftline_x{feature="a\\\\"b",model="credit"}'
    """

    def __init__(self, name: str, labelnames: Sequence[str]) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        if not all(_LABEL_NAME.match(label) for label in labelnames):
            raise ValueError(f"{name}: invalid label names {labelnames!r}")
        self.name = name
        self.labelnames = tuple(labelnames)
        self._order = sorted(range(len(labelnames)), key=labelnames.__getitem__)

    def __call__(self, values: Sequence[str]) -> str:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(values)} label values for {self.labelnames}")
        if not values:
            return self.name
        names, escape = self.labelnames, _escape_label_value
        inner = ",".join(f'{names[i]}="{escape(str(values[i]))}"' for i in self._order)
        return f"{self.name}{{{inner}}}"


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_line(prefix: str, value: float) -> str:
    """One exposition line: a rendered series (``SeriesPrefixes``) and its value."""
    return f"{prefix} {floatToGoString(value)}\n"


class TextFamily(Collector):
    """A collector that can also write its own exposition text (``MetricsRegistry.render``);
    ``collect()`` must yield the same families and samples."""

    @abstractmethod
    def exposition_parts(self) -> Iterator[str]:
        """The family's lines as ``generate_latest`` would write them from ``collect()``, in
        parts, from a snapshot of its series: the caller may let other code change the
        family between two parts."""


class TextGauge(TextFamily):
    """A labelled gauge, as ``Gauge(name, documentation, labelnames).labels(*values).set(v)``
    reads and exports, whose series keep their rendered names."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name, self.documentation = name, documentation
        self._prefixes = SeriesPrefixes(name, labelnames)
        self._header = family_header(name, documentation)
        self._series: dict[tuple[str, ...], tuple[str, float]] = {}  # labels -> prefix, value
        if registry is not None:
            registry.register(self)

    def set(self, labels: tuple[str, ...], value: float) -> None:
        known = self._series.get(labels)
        prefix = self._prefixes(labels) if known is None else known[0]
        self._series[labels] = (prefix, float(value))

    def remove(self, labels: tuple[str, ...]) -> None:
        self._series.pop(labels, None)

    def label_sets(self) -> list[tuple[str, ...]]:
        return list(self._series)

    def remove_where(self, matches: Callable[[tuple[str, ...]], bool]) -> None:
        """Drop the series whose labels ``matches`` accepts (a retired version's, say)."""
        for labels in [labels for labels in self._series if matches(labels)]:
            del self._series[labels]

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> list[Metric]:
        family = self._family()
        for labels, (_, value) in self._series.items():
            family.add_metric(list(labels), value)
        return [family]

    def exposition_parts(self) -> Iterator[str]:
        yield self._header
        series = list(self._series.values())
        for first in range(0, len(series), _SERIES_PER_PART):
            part = series[first : first + _SERIES_PER_PART]
            yield "".join([sample_line(prefix, value) for prefix, value in part])

    def _family(self) -> GaugeMetricFamily:
        labelnames = list(self._prefixes.labelnames)
        return GaugeMetricFamily(self.name, self.documentation, labels=labelnames)


class MetricsRegistry(CollectorRegistry):
    """A registry whose ``TextFamily`` collectors write their own lines on /metrics
    (``render``); every other collector is formatted by ``generate_latest``. ``collect()``
    yields every family, as any registry's does."""

    def __init__(self) -> None:
        super().__init__()
        self._formatted = CollectorRegistry()
        self._texts: list[TextFamily] = []

    def register(self, collector: Collector) -> None:
        super().register(collector)  # refuses a name taken in either part
        if isinstance(collector, TextFamily):
            self._texts.append(collector)
        else:
            self._formatted.register(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        if isinstance(collector, TextFamily):
            self._texts.remove(collector)
        else:
            self._formatted.unregister(collector)

    def render(self) -> bytes:
        """The text exposition (``CONTENT_TYPE_LATEST``) of every family: the formatted
        ones first, then the text families in the order they were registered."""
        return b"".join(self._parts())

    async def render_async(self, slice_s: float = 0.005) -> bytes:
        """``render``'s page, letting the event loop run after each ``slice_s`` of writing."""
        parts, until = [], time.perf_counter() + slice_s
        for part in self._parts():
            parts.append(part)
            if time.perf_counter() >= until:
                await asyncio.sleep(0)
                until = time.perf_counter() + slice_s
        return b"".join(parts)

    def _parts(self) -> Iterator[bytes]:
        yield generate_latest(self._formatted)
        for family in list(self._texts):
            for part in family.exposition_parts():
                yield part.encode()
