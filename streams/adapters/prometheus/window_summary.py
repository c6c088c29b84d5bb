"""Per model version and feature, what a person plots against the reference: the mean, p50
and p95 of a numeric feature, the share of a categorical feature's top reference category,
and the missing rate, for the last window's worth of events and for the reference.

Exported at scrape time (a custom collector) from a ring of the last ``window_events``
values per feature, fed once per batch with numpy: no gauge is pushed per event or per
batch, and nothing is read from the monitors' internals but their profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import Counter
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from streams.adapters.prometheus.text_families import (
    SeriesPrefixes,
    TextFamily,
    family_header,
    sample_line,
)
from streams.core.contract.columns import Columns
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.monitor import Monitor
from streams.core.drift.profile import NumericProfile, ReferenceProfile

__all__ = ["WindowSummaries", "reference_quantile"]

NAME = "driftline_feature_stat"
DOCUMENTATION = (
    "Per model version and feature: mean, p50, p95 (numeric), top_share (share of the "
    "reference's most common category) and missing_rate, over the last window of events "
    "(source=window) and in the reference (source=reference)."
)
LABELS = ("model", "version", "feature", "stat", "source")
NUMERIC_STATS = ("mean", "p50", "p95", "missing_rate")
CATEGORICAL_STATS = ("top_share", "missing_rate")
Version = tuple[str, str]


def reference_quantile(profile: NumericProfile, q: float) -> float:
    """The ``q`` quantile of the reference, interpolated on its bins' cumulative shares.

    Examples
    --------
    >>> p = NumericProfile.from_values(np.arange(1001, dtype=float))
    >>> round(reference_quantile(p, 0.5)), round(reference_quantile(p, 0.95))
    (500, 950)
    """
    if np.isnan(profile.minimum):
        return float("nan")
    xs = np.concatenate([[profile.minimum], profile.edges, [profile.maximum]])
    ys = np.concatenate([[0.0], np.cumsum(profile.shares)[:-1], [1.0]])
    return float(np.interp(q, ys, xs))


@dataclass(slots=True)
class _Window:
    """The last ``size`` events of one model version: a column per numeric feature, and per
    categorical one 1.0 where the value is the reference's top category (NaN: missing)."""

    numeric: tuple[str, ...]
    categorical: dict[str, str]  # feature -> the reference's top category
    reference: list[tuple[str, str, float]]
    size: int
    ring: np.ndarray = field(init=False)
    filled: int = 0
    at: int = 0
    text: _VersionText | None = None  # its exposition lines, once scraped
    profile: ReferenceProfile | None = field(default=None, repr=False)  # built from it

    def __post_init__(self) -> None:
        self.ring = np.full((self.size, len(self.numeric) + len(self.categorical)), np.nan)

    @property
    def series(self) -> int:
        return len(self.reference) + len(self.numeric) * 4 + len(self.categorical) * 2

    def add(self, chunks: Sequence[Columns]) -> None:
        """Take a batch's columns as its monitor read them (``BatchOutcome.columns``)."""
        rows = self._rows(chunks)
        ends = (self.at + np.arange(len(rows))) % self.size
        self.ring[ends] = rows
        self.at = int((self.at + len(rows)) % self.size)
        self.filled = min(self.size, self.filled + len(rows))

    def _rows(self, chunks: Sequence[Columns]) -> np.ndarray:
        # Only the last ``size`` rows can stay in the ring: read no more.
        parts, wanted = [], self.size
        for chunk in reversed(chunks):
            if wanted <= 0:
                break
            parts.append(self._chunk_rows(chunk, wanted))
            wanted -= len(parts[-1])
        return np.vstack(parts[::-1]) if parts else np.empty((0, self.ring.shape[1]))

    def _chunk_rows(self, chunk: Columns, most: int) -> np.ndarray:
        start = max(len(chunk) - most, 0)
        index = [chunk.numeric_names.index(name) for name in self.numeric]
        rows = np.empty((len(chunk) - start, self.ring.shape[1]))
        rows[:, : len(self.numeric)] = chunk.numeric[start:, index]
        for j, (name, top) in enumerate(self.categorical.items(), start=len(self.numeric)):
            values = np.array(chunk.categorical[name][start:], dtype=object)
            missing = values == None  # noqa: E711 (numpy compares each element)
            rows[:, j] = np.where(missing, np.nan, values == top)
        return rows

    def stats(self) -> Iterator[tuple[str, str, float]]:
        # Every column at once (a scrape reads every version's window): a column's mean
        # and quantiles over its present values, as np.mean and np.quantile give them.
        data = self.ring[: self.filled]
        absent = np.isnan(data)
        counts = len(data) - absent.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(absent, 0.0, data).sum(axis=0) / counts
        p50, p95 = _column_quantiles(data, counts, (0.5, 0.95))
        missing = absent.mean(axis=0)
        for j, name in enumerate((*self.numeric, *self.categorical)):
            yield name, "missing_rate", float(missing[j])
            if counts[j] == 0:
                continue
            if j >= len(self.numeric):
                yield name, "top_share", float(means[j])
                continue
            yield from ((name, "mean", float(means[j])), (name, "p50", float(p50[j])),
                        (name, "p95", float(p95[j])))  # fmt: skip


def _column_quantiles(data: np.ndarray, counts: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Row ``i``: the ``qs[i]`` quantile of each column's present values (np.quantile's
    linear method); NaN where a column has none. One sort for all: NaN sorts last."""
    ordered = np.sort(data, axis=0)
    last = np.maximum(counts - 1, 0)
    position = np.multiply.outer(qs, last)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, last)
    columns = np.arange(data.shape[1])
    low, high = ordered[below, columns], ordered[above, columns]
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, low + (high - low) * (position - below), np.nan)


def _window(watched: ModelMonitor, profile: ReferenceProfile) -> _Window:
    """The window of a watched version, with its reference's values (PII features left out)."""
    numeric, categorical, reference = _reference_values(watched, profile)
    size = watched.config.window_events
    return _Window(numeric, categorical, reference, size, profile=profile)


def _reference_values(
    watched: ModelMonitor, profile: ReferenceProfile
) -> tuple[tuple[str, ...], dict[str, str], list[tuple[str, str, float]]]:
    """A watched version's exported features (numeric; categorical with their top category)
    and its reference's ``(feature, stat, value)`` rows."""
    spec = watched.spec.features
    numeric = tuple(n for n in watched.numeric if n in profile.numeric)
    categorical = {
        n: profile.categorical[n].categories[0]
        for n in watched.categorical
        if n in profile.categorical and not spec[n].pii and profile.categorical[n].categories
    }
    scorer = profile.anomaly
    means = {} if scorer is None else dict(zip(scorer.names, scorer.mean.tolist(), strict=True))
    reference = []
    for name in numeric:
        column = profile.numeric[name]
        reference += [(name, "missing_rate", column.missing_rate),
                      (name, "p50", reference_quantile(column, 0.5)),
                      (name, "p95", reference_quantile(column, 0.95))]  # fmt: skip
        if name in means:
            reference.append((name, "mean", float(means[name])))
    for name in categorical:
        shares = profile.categorical[name]
        reference += [(name, "missing_rate", shares.missing_rate),
                      (name, "top_share", float(shares.shares[0]))]  # fmt: skip
    return numeric, categorical, reference


class WindowSummaries(TextFamily):
    """``driftline_feature_stat{model,version,feature,stat,source}``, source being
    ``window`` (the last ``window_events`` events) or ``reference``.

    A version is admitted while its series fit under ``max_series``; one that does not is
    not exported and its series are counted once in ``dropped``.
    """

    def __init__(self, *, max_series: int, dropped: Counter) -> None:
        self.max_series = max_series
        self._dropped = dropped
        self._windows: dict[Version, _Window] = {}
        self._refused: set[Version] = set()
        self._header = family_header(NAME, DOCUMENTATION)

    def observe(self, columns: Mapping[Version, Sequence[Columns]], monitor: Monitor) -> None:
        """Add a batch's columns (``BatchOutcome.columns``) of the versions ``monitor``
        watches with a reference. A window outlives the monitor being loaded again (a
        rebalance) unless it came back with another reference; ``drop_where`` takes it."""
        held = monitor.monitors
        for key, chunks in columns.items():
            window = self._current(key, held.get(key)) or self._admit(key, held.get(key))
            if window is not None:
                window.add(chunks)

    def drop_where(self, matches: Callable[[Version], bool]) -> None:
        """Drop the windows of the versions ``matches`` accepts (retired, forgotten, or held
        by another worker now)."""
        kept = {key: w for key, w in self._windows.items() if not matches(key)}
        if len(kept) < len(self._windows):
            self._refused.clear()  # room freed: refused versions may fit now
        self._windows = kept

    def _current(self, key: Version, watched: ModelMonitor | None) -> _Window | None:
        """``key``'s window, if it was built from ``watched``'s reference."""
        window = self._windows.get(key)
        if window is None or watched is None or watched.profile is window.profile:
            return window
        # A monitor loaded again: the stored reference, unless it was learned anew.
        profile = watched.profile
        if profile is not None and _reference_values(watched, profile)[2] == window.reference:
            window.profile = profile
            return window
        self.drop_where(lambda version: version == key)
        return None

    def _admit(self, key: Version, watched: ModelMonitor | None) -> _Window | None:
        if watched is None or watched.profile is None or key in self._refused:
            return None
        window = _window(watched, watched.profile)
        used = sum(w.series for w in self._windows.values())
        if used + window.series > self.max_series:
            self._refused.add(key)  # bounded by the registry's caps on models and versions
            self._dropped.inc(window.series)
            return None
        self._windows[key] = window
        return window

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for (model, version), window in self._windows.items():
            for feature, stat, value in window.reference:
                family.add_metric([model, version, feature, stat, "reference"], value)
            for feature, stat, value in window.stats():
                family.add_metric([model, version, feature, stat, "window"], value)
        yield family

    def exposition_parts(self) -> Iterator[str]:
        yield self._header
        for key, window in list(self._windows.items()):  # a part per version
            if window.text is None:  # rendered at the first scrape: the reference is fixed
                window.text = _VersionText(key, window.reference)
            yield "".join(window.text.lines(window.stats()))

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(NAME, DOCUMENTATION, labels=list(LABELS))


_PREFIXES = SeriesPrefixes(NAME, LABELS)


class _VersionText:
    """The rendered series of one version's window: the reference's lines, whole, and the
    window's ``name{labels}`` per (feature, stat)."""

    def __init__(self, key: Version, reference: list[tuple[str, str, float]]) -> None:
        self.key = key
        self.reference = "".join(
            sample_line(_PREFIXES((*key, feature, stat, "reference")), value)
            for feature, stat, value in reference
        )
        self._prefixes: dict[tuple[str, str], str] = {}

    def lines(self, stats: Iterator[tuple[str, str, float]]) -> list[str]:
        prefixes, lines = self._prefixes, [self.reference]
        for feature, stat, value in stats:
            prefix = prefixes.get((feature, stat))
            if prefix is None:
                prefix = prefixes[feature, stat] = _PREFIXES((*self.key, feature, stat, "window"))
            lines.append(sample_line(prefix, value))
        return lines
