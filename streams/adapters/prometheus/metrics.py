"""Every Prometheus metric Driftline exports, on a registry that is passed in.

Label values come from bounded sets only: ``model`` is a model the registry knows (capped by
``max_models``; the series of a model whose warm-up expired are folded into ``_forgotten``)
or ``_unknown``;
``reason`` is a ``Reason``; the per-version gauges (``VersionSeries``) and window summaries
stop taking new label sets at ``max_statistic_series`` (counted in
``driftline_metric_series_dropped_total``) and leave with their version.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Collection, Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.adapters.prometheus.stream_metrics import StreamMetrics, group_by_version
from streams.adapters.prometheus.version_series import VersionSeries
from streams.adapters.prometheus.window_summary import WindowSummaries
from streams.core.alerts.alert import Alert
from streams.core.contract.columns import Columns
from streams.core.contract.event import PredictionEvent
from streams.core.contract.ingestor import IngestResult, Rejection
from streams.core.contract.spec import DEFAULT_LATENCY_OBJECTIVE_MS, ModelSpec
from streams.core.drift.monitor import Monitor
from streams.core.drift.outcome import BatchOutcome

__all__ = ["FORGOTTEN_MODEL_LABEL", "UNKNOWN_MODEL_LABEL", "IngestMetrics"]

UNKNOWN_MODEL_LABEL = "_unknown"
#: Where the event counts of models whose warm-up expired (or was refused) go, so that the
#: counters' sums still add up to every record read once those models' series are removed.
FORGOTTEN_MODEL_LABEL = "_forgotten"
_JUDGED = ("disparate_impact_ratio", "demographic_parity_difference",
           "equal_opportunity_difference")  # fmt: skip
_BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class IngestMetrics:
    """Counters and histograms of the ingestion step."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        max_statistic_series: int = 5000,
        latency_objective_ms: float = DEFAULT_LATENCY_OBJECTIVE_MS,
        moved_grace_s: float = 60.0,
    ) -> None:
        """``moved_grace_s``: how long after a rebalance a version may go unprocessed before
        its series leave (``HeldVersions``; the worker passes ``DRIFTLINE_STALL_S``)."""
        self.max_statistic_series = max_statistic_series
        #: The latency objective of model versions whose spec sets none.
        self.latency_objective_ms = latency_objective_ms
        # What each model's event counters hold, to fold them into ``_forgotten`` when the
        # model is forgotten (prometheus_client offers no public read of one series).
        self._per_model: dict[str, dict[tuple[Counter, tuple[str, ...]], float]] = {}
        self.series_dropped = Counter(
            "driftline_metric_series_dropped",
            "Statistic updates not exported because the label-set cap was reached.",
            registry=registry,
        )
        self.anomalous_events = Counter(
            "driftline_anomalous_events",
            "Events scored above the reference's anomaly threshold, per model.",
            ["model"],
            registry=registry,
        )
        # Registered in the order /metrics has always listed them.
        self._add_record_metrics(registry)
        self._add_stream_metrics(registry)
        self._add_batch_metrics(registry)
        self._add_model_metrics(registry)
        self.stream = StreamMetrics(registry)
        self.versions = VersionSeries(
            registry,
            max_series=max_statistic_series,
            dropped=self.series_dropped,
            moved_grace_s=moved_grace_s,
        )
        self.windows = WindowSummaries(max_series=max_statistic_series, dropped=self.series_dropped)
        registry.register(self.windows)

    def _add_record_metrics(self, registry: CollectorRegistry) -> None:
        """What became of each record and each write."""
        self.events_processed = Counter(
            "driftline_events_processed",
            "Valid events accepted (applied to a monitor or to the model's spec warm-up), per "
            "model; driftline_events_unwatched counts those of them no monitor judged.",
            ["model"],
            registry=registry,
        )
        self.events_unwatched = Counter(
            "driftline_events_unwatched",
            "Accepted events no monitor judged, per model and reason: warmup (the spec is "
            "still being learned) or monitor_limit (the worker's monitor cap was full).",
            ["model", "reason"],
            registry=registry,
        )
        self.events_rejected = Counter(
            "driftline_events_rejected",
            "Records rejected and sent to the dead-letter topic, per model and reason.",
            ["model", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "driftline_retries",
            "Writes of a batch's dead letters, alerts or state that failed and were retried, "
            "per target (a topic, or redis).",
            ["target"],
            registry=registry,
        )
        self.publish_failures = Counter(
            "driftline_publish_failures",
            "Writes given up because their error is permanent (not retried), per target and "
            "reason (too_large, invalid_topic, authorization, configuration, rejected, "
            "unexpected). A dead letter given up is sent as a truncated copy instead.",
            ["target", "reason"],
            registry=registry,
        )

    def _add_stream_metrics(self, registry: CollectorRegistry) -> None:
        """Partition progress, and what a restart recovered or set aside."""
        self.consumer_lag = Gauge(
            "driftline_consumer_lag",
            "Records of a partition this worker holds not processed yet (high watermark minus "
            "the next offset to process), as last sampled.",
            ["topic", "partition"],
            registry=registry,
        )
        self.seconds_since_progress = Gauge(
            "driftline_seconds_since_progress",
            "Seconds a partition this worker holds has had lag without progress (0 when it "
            "has no lag or just moved on).",
            ["topic", "partition"],
            registry=registry,
        )
        self.state_quarantined = Counter(
            "driftline_state_quarantined",
            "Stored keys that did not parse or failed validation, moved aside to "
            "<key>:quarantined:<unix seconds>; kind is state, profile, reference or performance.",
            ["kind"],
            registry=registry,
        )
        self.duplicate_events = Counter(
            "driftline_duplicate_events",
            "Events skipped as copies of one with the same model version and event_id seen "
            "within DRIFTLINE_DEDUP_TTL_S at another offset (producer retries), per model.",
            ["model"],
            registry=registry,
        )
        self.replayed_skipped = Counter(
            "driftline_replayed_records_skipped",
            "Records redelivered after a restart that Redis shows were applied already.",
            registry=registry,
        )
        self.saves_refused = Counter(
            "driftline_state_saves_refused",
            "Model states this worker rebuilt because another worker saved the model since "
            "it read it (a worker paused past a rebalance); kind is state or performance.",
            ["kind"],
            registry=registry,
        )
        self.state_lost = Counter(
            "driftline_state_lost",
            "Model states Redis no longer held as this worker had saved them (it lost the "
            "keys or its later writes), saved again from what the worker held; kind as above.",
            ["kind"],
            registry=registry,
        )
        self.state_behind = Counter(
            "driftline_state_behind_commits",
            "Partitions whose committed offset was past what Redis's state holds when this "
            "worker took them (Redis lost writes): read again from there; kind as above.",
            ["kind"],
            registry=registry,
        )

    def _add_batch_metrics(self, registry: CollectorRegistry) -> None:
        """Alerts, micro-batches and models known."""
        self.alerts = Counter(
            "driftline_alerts",
            "Alerts emitted, per model, type and status.",
            ["model", "type", "status"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "driftline_batch_size",
            "Records per micro-batch.",
            buckets=_BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "driftline_batch_processing_seconds",
            "Time to process one micro-batch, dead letters included.",
            registry=registry,
        )
        self.last_batch = Gauge(
            "driftline_last_batch_timestamp_seconds",
            "When the last micro-batch finished (Unix time).",
            registry=registry,
        )
        self.models_known = Gauge(
            "driftline_models_known",
            "Models registered or warming up.",
            registry=registry,
        )

    def _add_model_metrics(self, registry: CollectorRegistry) -> None:
        """Per model: labels and retraining requests (the per-version gauges: VersionSeries)."""
        self.labels = Counter(
            "driftline_labels",
            "Labels by what became of them: joined, duplicate, early (waiting), expired, "
            "unknown, overflow, unwatched (no spec for the model yet) or rejected.",
            ["model", "outcome"],
            registry=registry,
        )
        self.retrain_requests = Counter(
            "driftline_retrain_requests",
            "Retraining requests published, per model.",
            ["model"],
            registry=registry,
        )

    def observe_monitors(self, monitor: Monitor, outcome: BatchOutcome) -> None:
        """Anomaly counts and the latest window statistics of the model versions just fed."""
        for key in outcome.touched:
            watched = monitor.monitors.get(key)
            if watched is None:  # retired since
                continue
            self.versions.observe_monitor(key, watched, outcome.verdicts.get(key, ()))
            anomalies = outcome.anomalies.get(key, 0)
            if anomalies:
                self.anomalous_events.labels(key[0]).inc(anomalies)

    def observe_unwatched(self, outcome: BatchOutcome, refused: Collection[str] = ()) -> None:
        """Count a batch's accepted events that no monitor judged, less those of ``refused``
        models (counted when applied again)."""
        for (model_id, reason), count in outcome.unwatched.items():
            if model_id not in refused:
                self._count(self.events_unwatched, model_id, reason, amount=count)

    def forget_versions(self, versions: Iterable[tuple[str, str]]) -> None:
        """Drop every series of model versions retired (new versions keep coming, and the
        registry caps how many are live, not how many there ever were) or moved to another
        worker, giving back their room under the statistics cap."""
        gone = set(versions)
        if gone:
            self.stream.forget_versions(gone)
            self.versions.drop_where(lambda labels: (labels[0], labels[1]) in gone)
            self.windows.drop_where(lambda version: version in gone)

    def rebalanced(self, now: float) -> None:
        """A new partition assignment at ``now`` (monotonic seconds): see ``HeldVersions``."""
        self.versions.held.rebalanced(now=now)

    def drop_moved_versions(self, now: float) -> None:
        """Once a rebalance's grace period is over, drop the series of the versions this
        worker no longer processes (``HeldVersions``)."""
        self.forget_versions(self.versions.moved(now))

    def forget_models(self, model_ids: Iterable[str]) -> None:
        """Fold the event counts of models whose warm-up expired or was refused into
        ``_forgotten`` and drop their series.

        Expiring warm-ups let new model ids in all the time; without this each one would
        leave ``model`` label sets behind for good, and without the fold their events would
        drop out of the counters' sums.
        """
        model_ids = list(model_ids)
        self.stream.forget_models(model_ids)
        gone = set(model_ids)
        self.versions.drop_where(lambda labels: labels[0] in gone)
        self.windows.drop_where(lambda version: version[0] in gone)
        for model_id in model_ids:
            for (counter, rest), count in self._per_model.pop(model_id, {}).items():
                counter.labels(FORGOTTEN_MODEL_LABEL, *rest).inc(count)
                counter.remove(model_id, *rest)

    def _count(self, counter: Counter, model_id: str, *rest: str, amount: float = 1) -> None:
        """Add to a per-model event counter, remembering the amount for ``forget_models``."""
        counter.labels(model_id, *rest).inc(amount)
        tallies = self._per_model.setdefault(model_id, {})
        tallies[counter, rest] = tallies.get((counter, rest), 0) + amount

    def observe_alerts(self, alerts: list[Alert], now: float | None = None) -> None:
        """Count alerts; ``now``: when they were published (default: the clock)."""
        for alert in alerts:
            self.alerts.labels(alert.model_id, alert.type, alert.status).inc()
        self.stream.observe_alerts(alerts, time.time() if now is None else now)

    def observe_events(
        self,
        accepted: Sequence[PredictionEvent],
        columns: Mapping[tuple[str, str], Sequence[Columns]],
        monitor: Monitor,
        now: float,
    ) -> None:
        """A batch's accepted events, once its monitors have taken them (and read them into
        ``columns``, ``BatchOutcome.columns``): their age, the model's latency (against its
        objective, from the spec ``monitor`` checks them against) and scores, and the window
        summaries of the versions watched."""
        if accepted:
            groups = group_by_version(accepted)
            spec_for = monitor.registry.spec_for
            objectives = {key: self._latency_objective(spec_for(*key)) for key in groups}
            self.stream.observe_events(groups, now, objectives)
            self.windows.observe(columns, monitor)

    def _latency_objective(self, spec: ModelSpec | None) -> float:
        if spec is None or spec.latency_objective_ms is None:
            return self.latency_objective_ms
        return spec.latency_objective_ms

    def observe_rejections(self, rejections: list[Rejection]) -> None:
        """Count rejected records, one increment per (model, reason)."""
        rejected: dict[tuple[str, str], int] = {}
        for rejection in rejections:
            key = (rejection.model_id or UNKNOWN_MODEL_LABEL, rejection.reason.value)
            rejected[key] = rejected.get(key, 0) + 1
        for (model, reason), count in rejected.items():
            self._count(self.events_rejected, model, reason, amount=count)

    def observe_duplicates(self, duplicates: Sequence[PredictionEvent]) -> None:
        """Count the events a batch skipped as duplicates, one increment per model."""
        for model, count in Tally(e.model_id for e in duplicates).items():
            self._count(self.duplicate_events, model, amount=count)

    def observe_batch(self, result: IngestResult, seconds: float) -> None:
        """Count one processed batch; one increment per (model, reason), not per event."""
        for model, count in result.accepted_per_model().items():
            self._count(self.events_processed, model, amount=count)
        self.observe_rejections(result.rejected)
        self.batch_size.observe(len(result.accepted) + len(result.rejected))
        self.batch_seconds.observe(seconds)
        self.last_batch.set_to_current_time()
