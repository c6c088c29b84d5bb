"""The model latency SLO's inputs per model version: its objective and the events over it.

The SLI (deploy/prometheus/rules.yml) is the share of a model's events whose ``latency_ms``
is at or below the model's own objective (its spec's ``latency_objective_ms``, else
``DRIFTLINE_LATENCY_OBJECTIVE_MS``). A histogram bucket can only approximate an objective
that is not one of its bounds; a count of the events over the objective, kept per batch
with one numpy comparison, is exact. Both series are built at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["LatencyObjectives"]

Version = tuple[str, str]
OBJECTIVE = "driftline_model_latency_objective_ms"
OVER = "driftline_model_latency_over_objective"


class LatencyObjectives(Collector):
    """``driftline_model_latency_objective_ms{model,version}`` (gauge) and
    ``driftline_model_latency_over_objective_total{model,version}`` (counter).

    Examples
    --------
    >>> objectives = LatencyObjectives()
    >>> objectives.observe(("m", "1"), 100.0, np.array([20.0, 100.0, 180.0, np.nan]))
    >>> [(s.name, s.value) for family in objectives.collect() for s in family.samples]
    [('driftline_model_latency_objective_ms', 100.0), \
('driftline_model_latency_over_objective_total', 1.0)]
    """

    def __init__(self) -> None:
        self._objectives: dict[Version, float] = {}
        self._over: dict[Version, int] = {}

    def observe(self, key: Version, objective_ms: float, latency_ms: np.ndarray) -> None:
        """Count a batch's latencies over ``objective_ms`` (NaN, no latency, is not over;
        the histogram's count leaves it out too), and keep the version's objective."""
        self._objectives[key] = objective_ms
        # Zero counts too: a version without slow events needs its series for the ratio.
        self._over[key] = self._over.get(key, 0) + int(np.count_nonzero(latency_ms > objective_ms))

    def remove_where(self, matches: Callable[[Version], bool]) -> None:
        """Drop the versions ``matches`` accepts (retired versions, forgotten models)."""
        for key in [key for key in self._objectives if matches(key)]:
            del self._objectives[key], self._over[key]

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        objective, over = self._families()
        for key, value in self._objectives.items():
            objective.add_metric(list(key), value)
            over.add_metric(list(key), float(self._over[key]))
        yield objective
        yield over

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily]:
        labels = ["model", "version"]
        objective = GaugeMetricFamily(
            OBJECTIVE,
            "The model version's latency objective in ms: its spec's latency_objective_ms, "
            "else DRIFTLINE_LATENCY_OBJECTIVE_MS.",
            labels=labels,
        )
        over = CounterMetricFamily(
            OVER,
            "Events whose latency_ms was over their model version's latency objective (the "
            "model_latency SLO's errors; driftline_model_latency_ms_count is the total).",
            labels=labels,
        )
        return objective, over
