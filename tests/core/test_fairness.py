from __future__ import annotations

import json
import math

import numpy as np
import pytest

from streams.core.labels.fairness import FairnessPolicy, FairnessWindow, GroupRates, confident_gaps

NAN = float("nan")


def stream(rng, n, selection, *, positive_rate=0.4, missing=0.0):
    """Groups drawn uniformly from ``selection``'s keys, each selecting at its own rate."""
    names = list(selection)
    groups = [names[i] for i in rng.integers(0, len(names), n)]
    rates = np.array([selection[g] for g in groups])
    predicted = rng.random(n) < rates
    truth = rng.random(n) < positive_rate
    groups = [None if r < missing else g for g, r in zip(groups, rng.random(n), strict=True)]
    return groups, predicted, truth


def loop_rates(groups, predicted, truth, window_events):
    """Per-group rates over the last ``window_events`` events with a group, one at a time."""
    events = [(g, p, t) for g, p, t in zip(groups, predicted, truth, strict=True) if g is not None]
    tallies: dict[str, list[int]] = {}
    for g, p, t in events[-window_events:]:
        tally = tallies.setdefault(g, [0, 0, 0, 0, 0])  # count, positives, selected, tp, fp
        tally[0] += 1
        tally[1] += bool(t)
        tally[2] += bool(p)
        tally[3] += bool(p and t)
        tally[4] += bool(p and not t)
    return {
        g: GroupRates(c, pos, sel / c, tp / pos if pos else NAN, fp / (c - pos) if c - pos else NAN)
        for g, (c, pos, sel, tp, fp) in tallies.items()
    }


def loop_summary(rates, reference, min_size):
    """(parity, its group), (equal opportunity, its group), (impact ratio, its group)."""
    ref = rates[reference]
    parity, opportunity, impact = (NAN, None), (NAN, None), (NAN, None)
    for g, r in rates.items():
        if g == reference or r.count < min_size:
            continue
        d = abs(r.selection_rate - ref.selection_rate)
        if math.isnan(parity[0]) or d > parity[0]:
            parity = (d, g)
        if r.positives >= min_size and ref.positives >= min_size:
            d = abs(r.true_positive_rate - ref.true_positive_rate)
            if math.isnan(opportunity[0]) or d > opportunity[0]:
                opportunity = (d, g)
        ratio = r.selection_rate / ref.selection_rate
        if math.isnan(impact[0]) or ratio < impact[0]:
            impact = (ratio, g)
    return parity, opportunity, impact


def same_rates(actual: GroupRates, expected: GroupRates) -> bool:
    pairs = zip(
        (actual.count, actual.positives, actual.selection_rate, actual.true_positive_rate,
         actual.false_positive_rate),
        (expected.count, expected.positives, expected.selection_rate,
         expected.true_positive_rate, expected.false_positive_rate),
        strict=True,
    )  # fmt: skip
    return all((math.isnan(a) and math.isnan(e)) or a == pytest.approx(e) for a, e in pairs)


def test_group_rates_match_a_plain_loop_over_the_last_events():
    rng = np.random.default_rng(1)
    groups, predicted, truth = stream(
        rng, 9_000, {"a": 0.5, "b": 0.3, "c": 0.7, "d": 0.2}, missing=0.1
    )
    window = FairnessWindow(FairnessPolicy("region", "a"), window_events=4_000)
    for start in range(0, 9_000, 700):  # batches that do not divide the window
        end = start + 700
        window.add(groups[start:end], predicted[start:end], truth[start:end])
    expected = loop_rates(groups, predicted, truth, 4_000)
    actual = window.groups()
    assert len(window) == 4_000
    assert actual.keys() == expected.keys()
    assert all(same_rates(actual[g], expected[g]) for g in expected)


def test_summary_metrics_match_a_plain_loop():
    rng = np.random.default_rng(2)
    selection = {"a": 0.5, "b": 0.35, "c": 0.65, "tiny": 0.0}
    groups, predicted, truth = stream(rng, 3_000, selection, positive_rate=0.1)
    groups[:2_950] = [g if g != "tiny" else "b" for g in groups[:2_950]]  # "tiny" stays small
    policy = FairnessPolicy("region", "a", min_group_size=60)
    window = FairnessWindow(policy, window_events=3_000)
    window.add(groups, predicted, truth)
    parity, opportunity, impact = loop_summary(loop_rates(groups, predicted, truth, 3_000), "a", 60)
    report = window.judge()
    assert report.judgeable and set(report.judged_groups) == {"b", "c"}
    assert (report.demographic_parity_difference, report.demographic_parity_group) == (
        pytest.approx(parity[0]), parity[1])  # fmt: skip
    assert (report.equal_opportunity_difference, report.equal_opportunity_group) == (
        pytest.approx(opportunity[0]), opportunity[1])  # fmt: skip
    assert (report.disparate_impact_ratio, report.disparate_impact_group) == (
        pytest.approx(impact[0]), impact[1])  # fmt: skip
    assert opportunity[1] is not None  # the positives rule left some group to judge


def test_a_biased_stream_violates_parity_and_disparate_impact():
    rng = np.random.default_rng(3)
    window = FairnessWindow(FairnessPolicy("region", "A"), window_events=5_000)
    window.add(*stream(rng, 5_000, {"A": 0.6, "B": 0.3}))
    report = window.judge()
    found = {(v.metric, v.group) for v in report.violations}
    assert ("disparate_impact_ratio", "B") in found
    assert ("demographic_parity_difference", "B") in found
    assert report.disparate_impact_ratio == pytest.approx(0.5, abs=0.06)
    assert report.demographic_parity_difference == pytest.approx(0.3, abs=0.04)
    impact = next(v for v in report.violations if v.metric == "disparate_impact_ratio")
    assert impact.bound == 0.8 and impact.value == report.disparate_impact_ratio


def test_a_fair_stream_gives_no_violation():
    rng = np.random.default_rng(4)
    window = FairnessWindow(FairnessPolicy("region", "A"), window_events=5_000)
    # About 1,700 events (670 positives) a group once the window is full: a difference of
    # 0.1 is then over three standard errors. Over the minimum 100, it is not (see policy).
    window.add(*stream(rng, 5_000, {"A": 0.45, "B": 0.45, "C": 0.45}))
    for _ in range(10):
        window.add(*stream(rng, 500, {"A": 0.45, "B": 0.45, "C": 0.45}))
        report = window.judge()
        assert report.judgeable and report.violations == ()
    assert report.disparate_impact_ratio > 0.9


def test_groups_below_min_group_size_are_reported_but_not_judged():
    policy = FairnessPolicy("region", "A", min_group_size=100)
    window = FairnessWindow(policy, window_events=1_000)
    n = np.ones(200, bool)
    window.add(["A"] * 200 + ["B"] * 200, np.r_[n, ~n], np.r_[n, n])
    window.add(["C"] * 99, np.zeros(99, bool), np.ones(99, bool))  # would violate everything
    report = window.judge()
    assert window.groups()["C"].count == 99
    assert report.judged_groups == ("B",)
    assert {v.group for v in report.violations} == {"B"}


@pytest.mark.parametrize(
    ("a", "b"), [(99, 500), (500, 99), (500, 0)], ids=["small reference", "small other", "alone"]
)
def test_too_little_data_is_not_judgeable_and_never_alerts(a, b):
    window = FairnessWindow(FairnessPolicy("region", "A"))
    window.add(["A"] * a + ["B"] * b, np.r_[np.ones(a, bool), np.zeros(b, bool)],
               np.ones(a + b, bool))  # fmt: skip
    report = window.judge()
    assert not report.judgeable and report.violations == () and report.judged_groups == ()
    assert math.isnan(report.demographic_parity_difference)
    assert report.demographic_parity_group is None


@pytest.mark.parametrize("few", ["A", "B"])
def test_equal_opportunity_waits_for_enough_positives(few):
    window = FairnessWindow(FairnessPolicy("region", "A", min_group_size=100))
    # 500 events a group, all of A's selected, none of B's; ``few`` has only 50 positives.
    truth = {g: np.arange(500) < (50 if g == few else 500) for g in "AB"}
    window.add(["A"] * 500 + ["B"] * 500, np.r_[np.ones(500, bool), np.zeros(500, bool)],
               np.r_[truth["A"], truth["B"]])  # fmt: skip
    report = window.judge()
    assert report.judgeable and math.isnan(report.equal_opportunity_difference)
    assert report.equal_opportunity_group is None
    assert "equal_opportunity_difference" not in {v.metric for v in report.violations}
    assert window.groups()["B"].true_positive_rate == 0.0  # reported all the same


def test_undefined_rates_are_nan_not_errors():
    window = FairnessWindow(FairnessPolicy("region", "A"))
    assert window.groups() == {} and not window.judge().judgeable
    # The reference selects no one and has no positives; B has no negatives.
    window.add(["A"] * 200 + ["B"] * 200, np.r_[np.zeros(200, bool), np.ones(200, bool)],
               np.r_[np.zeros(200, bool), np.ones(200, bool)])  # fmt: skip
    rates, report = window.groups(), window.judge()
    assert math.isnan(rates["A"].true_positive_rate) and math.isnan(rates["B"].false_positive_rate)
    assert math.isnan(report.disparate_impact_ratio) and report.disparate_impact_group is None
    assert math.isnan(report.equal_opportunity_difference)
    assert [(v.metric, v.value) for v in report.violations] == [
        ("demographic_parity_difference", 1.0)
    ]


def test_the_ring_buffer_keeps_exactly_the_last_n_events():
    window = FairnessWindow(FairnessPolicy("region", "a"), window_events=10)
    window.add(["a"] * 7, np.ones(7, bool), np.ones(7, bool))
    window.add(["b"] * 6, np.zeros(6, bool), np.ones(6, bool))
    assert {g: r.count for g, r in window.groups().items()} == {"a": 4, "b": 6}
    window.add(["c"] * 15 + ["d"] * 10, np.zeros(25, bool), np.ones(25, bool))  # > window
    assert {g: r.count for g, r in window.groups().items()} == {"d": 10}
    assert len(window) == 10


def test_missing_attributes_are_not_counted():
    window = FairnessWindow(FairnessPolicy("region", "a"), window_events=10)
    window.add(["a", None, "b", None], np.ones(4, bool), np.ones(4, bool))
    assert len(window) == 2 and set(window.groups()) == {"a", "b"}


def test_groups_past_max_groups_share_a_bounded_other_bucket():
    policy = FairnessPolicy("region", "ref", min_group_size=10, max_groups=3)
    window = FairnessWindow(policy, window_events=10_000)
    names = [f"g{i}" for i in range(2_000)] + ["__other__"]
    groups = ["ref"] * 500 + ["x"] * 50 + ["y"] * 50 + [name for name in names for _ in range(3)]
    window.add(groups, np.r_[np.ones(500, bool), np.zeros(len(groups) - 500, bool)],
               np.ones(len(groups), bool))  # fmt: skip
    rates = window.groups()
    assert list(rates) == ["ref", "x", "y", "__other__"]
    assert rates["__other__"].count == 3 * 2_001
    assert len(window.snapshot()["names"]) == 4  # memory does not grow with new names
    report = window.judge()
    assert report.judged_groups == ("x", "y")  # a mixture of groups is never judged
    assert "__other__" not in {v.group for v in report.violations}


def test_snapshot_is_json_and_restore_continues_identically():
    rng = np.random.default_rng(5)
    policy = FairnessPolicy("region", "a", max_groups=3)
    groups, predicted, truth = stream(rng, 6_000, {"a": 0.5, "b": 0.3, "c": 0.6, "d": 0.4},
                                      missing=0.05)  # fmt: skip
    first = FairnessWindow(policy, window_events=2_500)
    first.add(groups[:3_100], predicted[:3_100], truth[:3_100])
    text = json.dumps(first.snapshot(), allow_nan=False)
    second = FairnessWindow.restore(json.loads(text), policy)
    for start in range(3_100, 6_000, 900):
        end = start + 900
        first.add(groups[start:end], predicted[start:end], truth[start:end])
        second.add(groups[start:end], predicted[start:end], truth[start:end])
        assert repr(first.judge()) == repr(second.judge())
    assert repr(first.groups()) == repr(second.groups())
    assert first.snapshot() == second.snapshot()
    assert json.dumps(first.snapshot(), allow_nan=False)


def test_restore_refuses_a_snapshot_it_cannot_continue():
    window = FairnessWindow(FairnessPolicy("region", "a"), window_events=10)
    window.add(["a", "b", "c"], np.ones(3, bool), np.ones(3, bool))
    snapshot = window.snapshot()
    for policy in (FairnessPolicy("plan", "a"), FairnessPolicy("region", "b"),
                   FairnessPolicy("region", "a", max_groups=2)):  # fmt: skip
        with pytest.raises(ValueError):
            FairnessWindow.restore(snapshot, policy)
    with pytest.raises(ValueError):
        FairnessWindow.restore({**snapshot, "version": 2}, FairnessPolicy("region", "a"))


@pytest.mark.parametrize(
    "kwargs",
    [{"attribute": ""}, {"reference_group": ""}, {"reference_group": "__other__"},
     {"min_group_size": 0}, {"max_groups": 1}, {"max_parity_difference": 0},
     {"max_equal_opportunity_difference": 1.5}, {"min_disparate_impact": 0},
     {"min_disparate_impact": 1.2}],
)  # fmt: skip
def test_bad_policies_fail_fast(kwargs):
    with pytest.raises(ValueError):
        FairnessPolicy(**{"attribute": "region", "reference_group": "a", **kwargs})


def test_bad_batches_are_refused_and_leave_the_window_unchanged():
    window = FairnessWindow(FairnessPolicy("region", "a"), window_events=10)
    window.add(["a"], np.ones(1, bool), np.ones(1, bool))
    before = window.snapshot()
    bad = [
        (["a", "b"], np.ones(1, bool), np.ones(1, bool)),
        (["a"], np.ones(1), np.ones(1, bool)),  # floats, not booleans
        ([3], np.ones(1, bool), np.ones(1, bool)),
        ([["a"]], np.ones(1, bool), np.ones(1, bool)),
    ]
    for batch in bad:
        with pytest.raises(ValueError):
            window.add(*batch)
    assert window.snapshot() == before
    with pytest.raises(ValueError):
        FairnessWindow(FairnessPolicy("region", "a"), window_events=0)


def test_add_does_not_mutate_its_input():
    groups, predicted, truth = ["a", "b", None], np.array([True, False, True]), np.ones(3, bool)
    copies = (list(groups), predicted.copy(), truth.copy())
    FairnessWindow(FairnessPolicy("region", "a")).add(groups, predicted, truth)
    assert groups == copies[0]
    assert np.array_equal(predicted, copies[1]) and np.array_equal(truth, copies[2])


def test_a_ratio_of_exactly_four_fifths_is_not_a_violation():
    window = FairnessWindow(FairnessPolicy("region", "A", max_parity_difference=0.5))
    selected = {"A": np.arange(200) < 100, "B": np.arange(200) < 80}  # 0.5 and 0.4
    window.add(["A"] * 200 + ["B"] * 200, np.r_[selected["A"], selected["B"]],
               np.zeros(400, bool))  # fmt: skip
    report = window.judge()
    assert report.disparate_impact_ratio == 0.8 and report.violations == ()


def test_confident_gaps_ignore_chance_differences_and_keep_real_ones():
    policy = FairnessPolicy("group", "a", min_group_size=200)
    small = FairnessWindow(policy)
    # Two groups of 250 whose selection rates differ by 0.12: within chance at 99%.
    small.add(["a"] * 250 + ["b"] * 250,
              np.array([True] * 140 + [False] * 110 + [True] * 110 + [False] * 140),
              np.zeros(500, dtype=bool))  # fmt: skip
    gaps = {metric: value for metric, value, _ in confident_gaps(small)}
    assert small.judge().demographic_parity_difference == pytest.approx(0.12)
    assert gaps["demographic_parity_difference"] < 0.1
    large = FairnessWindow(policy)
    large.add(["a"] * 2000 + ["b"] * 2000,
              np.array([True] * 1200 + [False] * 800 + [True] * 600 + [False] * 1400),
              np.zeros(4000, dtype=bool))  # fmt: skip
    gaps = {metric: (value, bound) for metric, value, bound in confident_gaps(large)}
    value, bound = gaps["demographic_parity_difference"]
    assert bound < value < 0.3
    shortfall, bound = gaps["disparate_impact_shortfall"]
    assert shortfall > bound  # 0.3 / 0.6 = 0.5, far under four fifths


def test_no_gaps_while_groups_are_too_small():
    window = FairnessWindow(FairnessPolicy("group", "a", min_group_size=200))
    window.add(["a"] * 100 + ["b"] * 100, np.array([True, False] * 100), np.zeros(200, bool))
    assert confident_gaps(window) == []
