from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from streams.core.labels.performance import ClassificationWindow, RegressionWindow

METRICS = ("count", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
           "calibration_error")  # fmt: skip


def labelled(rng: np.random.Generator, n: int, start_ms: int = 0) -> dict[str, np.ndarray]:
    """A batch of classification pairs with tied scores, missing scores and confident misses."""
    truth = rng.random(n) < 0.35
    # Rounding to 2 decimals makes ties, and puts scores on the bin edges 0.0, 0.1, ..., 1.0.
    score = np.round(np.clip(0.35 * truth + 0.65 * rng.random(n), 0, 1), 2)
    score[rng.random(n) < 0.05] = 0.0  # some confident misses for log loss to clip
    score[rng.random(n) < 0.05] = 1.0
    score[rng.random(n) < 0.1] = np.nan
    predicted = np.where(np.isnan(score), rng.random(n) < 0.3, score >= 0.5)
    # A multiclass model can be wrong while both classes are negative in the binary view.
    confused = ~truth & ~predicted & (rng.random(n) < 0.2)
    return {
        "correct": (predicted == truth) & ~confused,
        "true_positive_class": truth,
        "predicted_positive_class": predicted,
        "score": score,
        "timestamp_ms": start_ms + rng.integers(0, 10_000, n),  # out of order, with repeats
    }


def pairs(batches: list[dict[str, np.ndarray]]) -> list[dict]:
    """The batches as one list of plain-Python pairs, in arrival order."""
    columns = {name: np.concatenate([b[name] for b in batches]).tolist() for name in batches[0]}
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def expected_classification(rows: list[dict], bins: int = 10) -> dict[str, float]:
    """Every metric computed plainly, one pair at a time."""
    nan = float("nan")
    tp = fp = fn = right = 0
    for row in rows:
        y, yhat = row["true_positive_class"], row["predicted_positive_class"]
        tp += y and yhat
        fp += (not y) and yhat
        fn += y and not yhat
        right += row["correct"]
    scored = [(r["score"], r["true_positive_class"]) for r in rows if not math.isnan(r["score"])]
    positives = [s for s, y in scored if y]
    negatives = [s for s, y in scored if not y]
    wins = 0.0
    for p in positives:
        for q in negatives:
            wins += 1.0 if p > q else 0.5 if p == q else 0.0
    loss = 0.0
    for s, y in scored:
        p = min(max(s, 1e-15), 1 - 1e-15)
        loss -= math.log(p) if y else math.log(1 - p)
    ece = 0.0
    for i in range(bins):
        lower, upper = i / bins, (i + 1) / bins
        members = [(s, y) for s, y in scored if lower <= s < upper or (i == bins - 1 and s == 1)]
        if members:
            mean_score = sum(s for s, _ in members) / len(members)
            rate = sum(y for _, y in members) / len(members)
            ece += len(members) / len(scored) * abs(mean_score - rate)
    return {
        "count": len(rows),
        "accuracy": right / len(rows) if rows else nan,
        "precision": tp / (tp + fp) if tp + fp else nan,
        "recall": tp / (tp + fn) if tp + fn else nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else nan,
        "roc_auc": wins / (len(positives) * len(negatives)) if positives and negatives else nan,
        "log_loss": loss / len(scored) if scored else nan,
        "calibration_error": ece if scored else nan,
    }


def assert_close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if math.isnan(value):
            assert math.isnan(actual[name]), name
        else:
            assert actual[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Exactly equal, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def test_classification_metrics_match_a_plain_computation():
    batch = labelled(np.random.default_rng(1), 400)
    rows = pairs([batch])
    scores = [r["score"] for r in rows if not math.isnan(r["score"])]
    assert 0 < len(scores) < len(rows) and len(set(scores)) < len(scores) / 2  # gaps, ties
    window = ClassificationWindow()
    window.add(**batch)
    assert len(window) == 400
    assert tuple(window.metrics()) == METRICS
    assert_close(window.metrics(), expected_classification(rows))


def test_the_ring_keeps_exactly_the_last_n_pairs():
    rng = np.random.default_rng(2)
    window = ClassificationWindow(window_events=150, calibration_bins=7)
    batches: list[dict[str, np.ndarray]] = []
    for size in (40, 90, 0, 330, 25, 70, 150, 149):  # 330 is more than the window holds
        batches.append(labelled(rng, size))
        window.add(**batches[-1])
        last = pairs(batches)[-150:]
        assert len(window) == len(last)
        assert_close(window.metrics(), expected_classification(last, bins=7))


def test_since_ms_selects_the_pairs_at_or_after_it_within_the_window():
    rng = np.random.default_rng(3)
    window = ClassificationWindow(window_events=200)
    batches = [labelled(rng, 250), labelled(rng, 150, start_ms=5_000)]
    for batch in batches:
        window.add(**batch)
    last = pairs(batches)[-200:]
    boundary = sorted(r["timestamp_ms"] for r in last)[120]  # a timestamp some pairs carry
    for since in (0, boundary, boundary + 1, 9_000):
        recent = [r for r in last if r["timestamp_ms"] >= since]
        assert 0 < len(recent) < 200 or since == 0
        assert_close(window.metrics(since_ms=since), expected_classification(recent))
    assert window.metrics(since_ms=20_000)["count"] == 0


def test_undefined_metrics_are_nan_without_errors_or_warnings():
    negatives = {
        "correct": np.array([True, True, False]),
        "true_positive_class": np.zeros(3, bool),
        "predicted_positive_class": np.zeros(3, bool),
        "score": np.array([0.1, 0.2, np.nan]),
        "timestamp_ms": np.array([1, 2, 3]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = ClassificationWindow().metrics()
        window = ClassificationWindow()
        window.add(**negatives)
        one_class = window.metrics()
        unscored = ClassificationWindow()
        unscored.add(**(negatives | {"score": np.full(3, np.nan)}))
        no_scores = unscored.metrics()
        nothing_recent = window.metrics(since_ms=4)
    assert empty["count"] == 0 and all(math.isnan(empty[k]) for k in METRICS[1:])
    assert same(nothing_recent, empty)
    assert one_class["accuracy"] == pytest.approx(2 / 3)
    for name in ("precision", "recall", "f1", "roc_auc"):
        assert math.isnan(one_class[name]), name
    assert one_class["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    assert one_class["calibration_error"] == pytest.approx(0.15)
    for name in ("roc_auc", "log_loss", "calibration_error"):
        assert math.isnan(no_scores[name]), name
    assert no_scores["accuracy"] == pytest.approx(2 / 3)


def test_a_missed_positive_class_gives_f1_zero_and_precision_nan():
    window = ClassificationWindow()
    window.add(correct=np.array([False, True]), true_positive_class=np.array([True, False]),
               predicted_positive_class=np.zeros(2, bool), score=np.array([0.2, 0.1]),
               timestamp_ms=np.array([1, 2]))  # fmt: skip
    metrics = window.metrics()
    assert math.isnan(metrics["precision"])
    assert metrics["recall"] == 0.0 and metrics["f1"] == 0.0


def test_inputs_are_neither_mutated_nor_kept():
    batch = labelled(np.random.default_rng(4), 300)
    before = {name: column.copy() for name, column in batch.items()}
    window = ClassificationWindow(window_events=100)
    window.add(**batch)
    for name, column in batch.items():
        assert np.array_equal(column, before[name], equal_nan=True), name
    metrics = window.metrics()
    for column in batch.values():
        column[:] = column[::-1]  # the window must hold its own copy
    batch["score"][:] = 0.5
    assert same(window.metrics(), metrics)


def test_restore_of_a_json_snapshot_continues_identically():
    rng = np.random.default_rng(5)
    batches = [labelled(rng, n) for n in (60, 130, 260, 45)]
    for cut in (1, 2, 3):  # before the ring is full, after it wraps, after a huge batch
        first = ClassificationWindow(window_events=200, calibration_bins=5)
        for batch in batches[:cut]:
            first.add(**batch)
        snapshot = json.loads(json.dumps(first.snapshot(), allow_nan=False))
        assert snapshot["version"] == 1
        second = ClassificationWindow.restore(snapshot)
        assert len(second) == len(first) and same(second.metrics(), first.metrics())
        for batch in batches[cut:]:
            first.add(**batch)
            second.add(**batch)
            assert same(second.metrics(), first.metrics())
            assert same(second.metrics(since_ms=5_000), first.metrics(since_ms=5_000))
        assert second.snapshot() == first.snapshot()


def test_restore_rejects_a_snapshot_it_cannot_continue():
    window = ClassificationWindow(window_events=50)
    window.add(**labelled(np.random.default_rng(9), 30))
    snapshot = window.snapshot()
    with pytest.raises(ValueError, match="version"):
        ClassificationWindow.restore(snapshot | {"version": 2})
    for bad in ({"next": 10}, {"next": 50}, {"window_events": 20}):
        with pytest.raises(ValueError, match="fit"):
            ClassificationWindow.restore(snapshot | bad)


@pytest.mark.parametrize(
    "params",
    [{"window_events": 0}, {"window_events": -5}, {"window_events": 2.5},
     {"calibration_bins": 0}, {"calibration_bins": -1}],
)  # fmt: skip
def test_the_classification_constructor_rejects_bad_params(params):
    with pytest.raises(ValueError):
        ClassificationWindow(**params)


def test_a_bad_batch_is_rejected_and_leaves_the_window_as_it_was():
    rng = np.random.default_rng(6)
    window = ClassificationWindow(window_events=50)
    window.add(**labelled(rng, 30))
    metrics = window.metrics()
    ragged = labelled(rng, 10) | {"timestamp_ms": np.arange(9)}
    logits = labelled(rng, 10) | {"score": np.linspace(-2, 2, 10)}
    for batch in (ragged, logits):
        with pytest.raises(ValueError):
            window.add(**batch)
    assert len(window) == 30 and same(window.metrics(), metrics)


def expected_regression(errors: list[float]) -> dict[str, float]:
    if not errors:
        return {"count": 0, "mae": float("nan"), "rmse": float("nan")}
    mae = sum(abs(e) for e in errors) / len(errors)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    return {"count": len(errors), "mae": mae, "rmse": rmse}


def test_regression_metrics_match_the_formulas_over_the_last_n_and_since():
    rng = np.random.default_rng(7)
    window = RegressionWindow(window_events=120)
    errors: list[float] = []
    stamps: list[int] = []
    for size in (50, 0, 300, 80):
        error, stamp = rng.normal(0.3, 2.0, size), rng.integers(0, 1_000, size)
        before = error.copy()
        window.add(error=error, timestamp_ms=stamp)
        assert np.array_equal(error, before)
        errors += error.tolist()
        stamps += stamp.tolist()
        assert len(window) == min(len(errors), 120)
        assert_close(window.metrics(), expected_regression(errors[-120:]))
        recent = [e for e, t in zip(errors[-120:], stamps[-120:], strict=True) if t >= 500]
        assert_close(window.metrics(since_ms=500), expected_regression(recent))
    assert_close(RegressionWindow().metrics(), expected_regression([]))


def test_regression_restore_continues_identically_and_rejects_bad_input():
    rng = np.random.default_rng(8)
    first = RegressionWindow(window_events=64)
    first.add(error=rng.normal(size=100), timestamp_ms=np.arange(100))
    second = RegressionWindow.restore(json.loads(json.dumps(first.snapshot(), allow_nan=False)))
    later = rng.normal(size=40)
    for window in (first, second):
        window.add(error=later, timestamp_ms=np.arange(100, 140))
    assert len(second) == 64 and same(second.metrics(), first.metrics())
    with pytest.raises(ValueError):
        second.add(error=np.array([1.0, np.nan]), timestamp_ms=np.array([1, 2]))
    assert same(second.metrics(), first.metrics())
    for bad in (0, -1):
        with pytest.raises(ValueError):
            RegressionWindow(window_events=bad)
