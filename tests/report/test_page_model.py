"""The report's page model, built from a replay: what a person reads off the page."""

from __future__ import annotations

import numpy as np
import pytest

from tests.adapters import test_replay_contracts as every_alert
from tests.report.conftest import DRIFT_WINDOW


def test_an_injected_drift_is_an_episode_from_its_window_on(drifted):
    (page,) = drifted.pages
    assert [(e.column, e.rule, e.alert_type) for e in page.episodes] == [
        ("x7", "drift", "data_drift")
    ]
    (episode,) = page.episodes
    assert episode.start == DRIFT_WINDOW
    assert episode.end is None  # the shift never goes back
    assert episode.value > episode.threshold
    # The drifted feature comes first, and its drift series crosses the line where it began.
    column = page.columns[0]
    assert column.name == "x7" and column.episodes == (episode,)
    (drift,) = [s for s in column.series if s.rule == "drift"]
    over = [w for w, v, t in zip(drift.windows, drift.values, drift.thresholds, strict=True)
            if v > t]  # fmt: skip
    assert over[0] == DRIFT_WINDOW
    assert column.histogram.peak_window is not None
    assert column.histogram.peak_window >= DRIFT_WINDOW


def test_no_drift_no_episode(steady):
    (page,) = steady.pages
    assert page.episodes == ()
    assert page.alerts == {}
    assert all(not c.episodes for c in page.columns)
    # Every window was still judged: a quiet page is not an empty one.
    assert len(page.window_starts_ms) == 7
    assert all(len(s.windows) == 7 for c in page.columns for s in c.series)


def test_histograms_are_shares_of_the_reference_bins(drifted):
    (page,) = drifted.pages
    for column in page.columns:
        hist = column.histogram
        assert len(hist.labels) == len(hist.reference) == len(hist.monitored)
        assert sum(hist.reference) == pytest.approx(1, abs=1e-9)
        assert sum(hist.monitored) == pytest.approx(1, abs=1e-9)
    x7 = next(c for c in page.columns if c.name == "x7").histogram
    # Shifted up by one standard deviation: the top reference bin holds far more than its 10%.
    assert x7.monitored[-1] > 2 * x7.reference[-1]
    assert x7.peak is not None and x7.peak[-1] > x7.monitored[-1]


def test_windows_match_the_monitor_and_their_counts_add_up(drifted):
    (record,) = drifted.recorder.versions.values()
    assert record.monitor is not None
    assert len(record.windows) == record.monitor.windows_closed == 7
    for window in record.windows:
        assert window.count == 1000
        assert int(np.sum(window.bins["x7"])) == 1000  # x7 has no missing values
        assert window.last_offset - window.first_offset == 999


def test_every_alert_stream_episodes_resolve_and_quality_and_labels_show(every_alert_run):
    (page,) = every_alert_run.pages
    change = (every_alert.CHANGE - 5_000) // 1_000
    back = (every_alert.BACK - 5_000) // 1_000
    by_rule = {(e.column, e.rule): e for e in page.episodes}
    drift = by_rule["x0", "drift"]
    assert drift.start == change
    assert drift.end is not None and back <= drift.end <= back + 3
    missing = by_rule["x2", "missing_rate"]
    assert missing.alert_type == "data_quality" and missing.start == change
    x2 = next(c for c in page.columns if c.name == "x2")
    assert x2.quality.reference_missing == 0
    assert 0.05 < x2.quality.missing < 0.3
    assert page.rejected_unattributed == {"missing_field": 1, "not_json": 1}
    assert page.model_series and page.model_series[0].episodes
    performance = page.performance
    assert performance is not None
    assert "accuracy" in performance.metrics and "accuracy" in performance.reference
    assert list(performance.fairness) == ["group"]
    group = performance.fairness["group"]
    assert {"disparate_impact_ratio", "equal_opportunity_difference"} <= set(group)
    assert {"selection rate: A", "selection rate: B"} <= set(group)
    assert performance.fairness_bounds == {"group": 0.8}
    fairness = [e for e in performance.episodes if e.alert_type == "fairness"]
    assert fairness and all(e.column == "group" for e in fairness)
    first, last = performance.evaluations[0], performance.evaluations[-1]
    assert all(first <= e.start <= (e.end or last) <= last for e in performance.episodes)
    assert {e.alert_type for e in performance.episodes} >= {"performance", "fairness"}
    assert performance.evaluations == tuple(sorted(performance.evaluations))
