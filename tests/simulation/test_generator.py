"""The stream simulator: deterministic, valid events, and each scenario changes only what it says.

Most checks compare a drifted stream with its control (same config without the scenario):
the two share every base random draw, so anything outside the scenario's feature and window
must be identical, not merely similar. Statistical checks allow 5 standard errors.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pytest
from jsonschema import Draft202012Validator

from streams.core import EventDecoder, RawRecord
from streams.simulation import (
    CHUNK_EVENTS,
    EventChunk,
    Scenario,
    StreamConfig,
    encode_events,
    generate_events,
    write_jsonl,
)

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "prediction_event.json"
N = 20_000
START = 10_000
BASE = StreamConfig(seed=11)
COLUMNS = tuple(f.name for f in fields(EventChunk) if f.name != "start")


@functools.cache
def stream(config: StreamConfig, count: int = N, offset: int = 0) -> EventChunk:
    """All events of ``generate_events(config, count, offset=offset)`` as one chunk."""
    chunks = list(generate_events(config, count, offset=offset))
    columns = {name: np.concatenate([getattr(c, name) for c in chunks]) for name in COLUMNS}
    return EventChunk(start=offset, **columns)


def drifted(*scenarios: Scenario, config: StreamConfig = BASE) -> EventChunk:
    return stream(replace(config, scenarios=scenarios))


def column(chunk: EventChunk, name: str) -> np.ndarray:
    index = int(name[1:])
    return chunk.numeric[:, index] if name[0] == "x" else chunk.categorical[:, index]


def assert_same(a: EventChunk, b: EventChunk, *, except_features: tuple[str, ...] = ()) -> None:
    """Equal everywhere but in ``except_features`` (and the score, if the model reads them)."""
    for name in BASE.feature_names:
        if name not in except_features:
            np.testing.assert_array_equal(column(a, name), column(b, name), err_msg=name)
    if not set(except_features) & set(BASE.model_features):
        np.testing.assert_array_equal(a.score, b.score)
    for name in ("segment", "group", "timestamps_ms", "latency_ms"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def mean_difference_bound(before: np.ndarray, after: np.ndarray) -> float:
    """Five standard errors of the difference of the two samples' means."""
    return 5 * np.sqrt(np.nanvar(before) / before.size + np.nanvar(after) / after.size)


# -- determinism --------------------------------------------------------------------------------

SEVERAL = (
    Scenario(kind="gradual", feature="x3", start=50, duration=400, magnitude=1.0),
    Scenario(kind="categorical", feature="c1", start=200, magnitude=0.5),
    Scenario(kind="anomaly_burst", start=300, duration=20, magnitude=8.0),
)


def encoded(config: StreamConfig, count: int, offset: int = 0) -> list[bytes]:
    chunks = generate_events(config, count, offset=offset)
    return [value for chunk in chunks for value in encode_events(config, chunk)]


def test_the_same_config_gives_the_same_bytes_and_another_seed_does_not():
    config = StreamConfig(seed=5, base_missing_rate=0.05, scenarios=SEVERAL)
    assert encoded(config, 1000) == encoded(config, 1000)
    assert encoded(config, 1000) != encoded(replace(config, seed=6), 1000)


@pytest.mark.parametrize("cuts", [(100, 100), (9_990, 30), (4_000, 7_000, 9_000)])
def test_continuing_at_an_offset_equals_one_long_run(cuts):
    config = StreamConfig(seed=5, base_missing_rate=0.05, scenarios=SEVERAL)
    whole, offset = stream(config, sum(cuts)), 0
    for count in cuts:
        piece, rows = stream(config, count, offset), slice(offset, offset + count)
        for name in COLUMNS:
            np.testing.assert_array_equal(getattr(piece, name), getattr(whole, name)[rows], name)
        offset += count
    if offset <= 1000:  # the bytes too, where that is quick
        first, rest = encoded(config, cuts[0]), encoded(config, offset - cuts[0], cuts[0])
        assert first + rest == encoded(config, offset)


def test_chunks_are_aligned_to_blocks_and_validated_eagerly():
    spans = [(c.start, len(c)) for c in generate_events(BASE, 25_000, offset=3_000)]
    assert spans == [(3_000, 7_000), (10_000, 10_000), (20_000, 8_000)]
    assert CHUNK_EVENTS == 10_000
    assert list(generate_events(BASE, 0)) == list(generate_events(BASE, 0, offset=5)) == []
    with pytest.raises(ValueError, match="count"):
        generate_events(BASE, -1)
    with pytest.raises(ValueError, match="offset"):
        generate_events(BASE, 1, offset=-5)


# -- the events are valid -----------------------------------------------------------------------

ONE_OF_EACH = (
    Scenario(kind="abrupt", feature="x3", start=60, magnitude=0.5),
    Scenario(kind="gradual", feature="x3", start=60, duration=30, magnitude=1.0),
    Scenario(kind="variance", feature="x19", start=60, magnitude=3.0),
    Scenario(kind="categorical", feature="c1", start=60, magnitude=0.9),
    Scenario(kind="missing_rate", feature="c2", start=60, magnitude=0.5),
    Scenario(kind="anomaly_burst", start=60, duration=30, magnitude=8.0),
    Scenario(kind="none"),
)


@functools.cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("scenario", ONE_OF_EACH, ids=lambda s: s.kind)
def test_every_event_follows_the_schema_and_the_decoder_accepts_it(scenario):
    # jsonschema takes ~1 ms an event: a short stream, with the drift from its middle on.
    config = StreamConfig(seed=3, base_missing_rate=0.05, scenarios=(scenario,))
    chunk = stream(config, 120)
    decoder = EventDecoder()
    for i, value in enumerate(encode_events(config, chunk)):
        validator().validate(orjson.loads(value))
        event = decoder.decode(RawRecord(value, 0, "sim", 0, i))
        assert event.event_id == f"sim-model-{i}"
        assert event.timestamp_ms == chunk.timestamps_ms[i]


# Nulls, an unseen category and (in the burst) negative counts, around a block boundary.
BURST = (*SEVERAL, Scenario(kind="anomaly_burst", start=9_990, duration=40, magnitude=8.0))


def as_dict(config: StreamConfig, chunk: EventChunk, i: int) -> dict:
    """Event ``i`` of ``chunk`` built the plain way, as a dict for ``orjson.dumps``."""
    numeric = [None if np.isnan(v) else v for v in chunk.numeric[i].tolist()]
    if config.count_feature is not None and numeric[-1] is not None:
        numeric[-1] = int(numeric[-1])
    categorical = [value or None for value in chunk.categorical[i].tolist()]
    stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(chunk.timestamps_ms[i]))
    return {
        "event_id": f"{config.model_id}-{chunk.start + i}",
        "model_id": config.model_id,
        "model_version": config.model_version,
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "features": dict(zip(config.feature_names, numeric + categorical, strict=True)),
        "prediction": int(chunk.prediction[i]),
        "score": float(chunk.score[i]),
        "latency_ms": float(chunk.latency_ms[i]),
        "attributes": {"segment": str(chunk.segment[i]), "group": str(chunk.group[i])},
    }


@pytest.mark.parametrize(
    "config",
    [
        StreamConfig(
            model_id="m.1_x-y", model_version="2.0", base_missing_rate=0.2, scenarios=BURST
        ),
        StreamConfig(seed=2, numeric_features=3, categorical_features=0),
    ],
)
def test_the_encoding_is_orjson_of_the_event_as_a_dict(config):
    chunk = stream(config, 400, 9_800)
    values = encode_events(config, chunk)
    assert values == [orjson.dumps(as_dict(config, chunk, i)) for i in range(len(chunk))]
    assert encode_events(config, chunk[5:5]) == []


def test_event_i_is_at_start_time_plus_i_over_the_rate():
    start = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    config = StreamConfig(seed=1, start_time=start, events_per_second=3.0)
    stamps = [orjson.loads(v)["timestamp"] for v in encode_events(config, stream(config, 4))]
    assert stamps[0] == "2026-03-01T07:30:00.000Z"
    assert [stamp[-7:] for stamp in stamps] == ["00.000Z", "00.333Z", "00.666Z", "01.000Z"]


def test_write_jsonl_writes_one_event_per_line(tmp_path):
    expected = encoded(BASE, 30, 5)
    assert write_jsonl(tmp_path / "events.jsonl", BASE, 30, offset=5) == 30
    assert (tmp_path / "events.jsonl").read_bytes().splitlines() == expected
    binary, text = io.BytesIO(), io.StringIO()
    write_jsonl(binary, BASE, 30, offset=5)
    write_jsonl(text, BASE, 30, offset=5)
    assert binary.getvalue() == text.getvalue().encode() == b"\n".join(expected) + b"\n"


# -- each scenario changes what it says and nothing else -----------------------------------------

CONTROL = stream(BASE)
SIGMA = np.nanstd(CONTROL.numeric, axis=0)
MU = np.nanmean(CONTROL.numeric, axis=0)


def before_after(chunk: EventChunk, name: str, start: int = START) -> tuple[np.ndarray, ...]:
    values = column(chunk, name)
    return values[:start], values[start:]


def test_abrupt_shifts_the_mean_by_magnitude_sigma_and_moves_the_predictions():
    chunk = drifted(Scenario(kind="abrupt", feature="x3", start=START, magnitude=0.5))
    before, after = before_after(chunk, "x3")
    shift = after.mean() - before.mean()
    assert abs(shift - 0.5 * SIGMA[3]) < mean_difference_bound(before, after)
    assert_same(chunk, CONTROL, except_features=("x3",))
    np.testing.assert_array_equal(chunk.score[:START], CONTROL.score[:START])
    assert chunk.score[START:].mean() - CONTROL.score[START:].mean() > 0.03


def test_gradual_ramps_the_mean_up_over_duration_then_holds():
    scenario = Scenario(kind="gradual", feature="x3", start=5_000, duration=10_000, magnitude=1.0)
    chunk = drifted(scenario)
    added = column(chunk, "x3") - column(CONTROL, "x3")
    ramp = np.clip((np.arange(N) - 5_000) / 10_000, 0, 1)
    assert np.allclose(added, SIGMA[3] * ramp, rtol=0.03, atol=2e-4)
    before, after = before_after(chunk, "x3", 15_000)
    assert abs(after.mean() - before[:5_000].mean() - SIGMA[3]) < 0.05 * SIGMA[3]
    assert_same(chunk, CONTROL, except_features=("x3",))


def test_variance_scales_the_spread_not_the_mean():
    chunk = drifted(Scenario(kind="variance", feature="x7", start=START, magnitude=1.5))
    before, after = before_after(chunk, "x7")
    assert after.std() / before.std() == pytest.approx(1.5, rel=0.05)
    assert abs(after.mean() - before.mean()) < mean_difference_bound(before, after)
    assert_same(chunk, CONTROL, except_features=("x7",))


def test_categorical_moves_the_mix_to_the_rarest_and_an_unseen_category():
    chunk = drifted(Scenario(kind="categorical", feature="c1", start=START, magnitude=0.5))
    before, after = before_after(chunk, "c1")
    values, counts = np.unique(before, return_counts=True)
    rarest, share = values[counts.argmin()], counts.min() / before.size
    assert "unseen" not in values
    bound = 5 * np.sqrt(0.25 / after.size)
    assert abs(np.mean(after == rarest) - (0.5 * share + 0.5 * 0.8)) < bound
    assert abs(np.mean(after == "unseen") - 0.5 * 0.2) < bound
    assert_same(chunk, CONTROL, except_features=("c1",))


@pytest.mark.parametrize("base_rate", [0.0, 0.1])
def test_missing_rate_adds_nulls_on_top_of_the_base_rate(base_rate):
    config = replace(BASE, base_missing_rate=base_rate)
    chunk = drifted(
        Scenario(kind="missing_rate", feature="x5", start=START, magnitude=0.3), config=config
    )
    before, after = before_after(chunk, "x5")
    expected = base_rate + (1 - base_rate) * 0.3
    assert abs(np.isnan(after).mean() - expected) < 5 * np.sqrt(0.25 / after.size)
    assert abs(np.isnan(before).mean() - base_rate) < 5 * np.sqrt(0.25 / before.size)
    control = stream(config)
    kept = ~np.isnan(column(chunk, "x5"))
    np.testing.assert_array_equal(column(chunk, "x5")[kept], column(control, "x5")[kept])
    assert_same(chunk, control, except_features=("x5",))


def test_an_anomaly_burst_puts_every_numeric_feature_far_out_for_its_duration():
    chunk = drifted(Scenario(kind="anomaly_burst", start=START, duration=200, magnitude=8.0))
    burst = slice(START, START + 200)
    distance = np.abs(chunk.numeric[burst] - MU) / SIGMA
    assert distance.min() > 0.8 * 8.0
    outside = np.r_[:START, START + 200 : N]
    np.testing.assert_array_equal(chunk.numeric[outside], CONTROL.numeric[outside])
    assert_same(chunk, CONTROL, except_features=BASE.numeric_names)


@pytest.mark.parametrize(
    ("kind", "feature", "duration", "magnitude"),
    [
        ("abrupt", "x3", None, 2.0),
        ("gradual", "x3", 20_000, 2.0),
        ("variance", "x3", None, 2.0),
        ("missing_rate", "x3", None, 0.5),
        ("anomaly_burst", None, 20_000, 8.0),
    ],
)
def test_end_stops_the_drift(kind, feature, duration, magnitude):
    window = {"start": 5_000, "end": 12_000, "duration": duration, "magnitude": magnitude}
    chunk = drifted(Scenario(kind=kind, feature=feature, **window))
    changed = np.any(chunk.numeric != CONTROL.numeric, axis=1) | np.any(
        np.isnan(chunk.numeric) != np.isnan(CONTROL.numeric), axis=1
    )
    assert not changed[:5_000].any() and not changed[12_000:].any()
    assert changed[5_000:12_000].mean() > 0.4


def test_the_stationary_control_does_not_drift_between_halves():
    assert_same(drifted(Scenario(kind="none")), CONTROL)
    for first, second in zip(*(half.T for half in np.split(CONTROL.numeric, 2)), strict=True):
        assert abs(first.mean() - second.mean()) < mean_difference_bound(first, second)
    for name in (*BASE.categorical_names, "segment", "group"):
        values = column(CONTROL, name) if name[0] == "c" else getattr(CONTROL, name)
        for value in np.unique(values):
            a, b = values[: N // 2] == value, values[N // 2 :] == value
            assert abs(a.mean() - b.mean()) < 5 * np.sqrt(0.5 / (N // 2)), (name, value)
    assert abs(CONTROL.score[: N // 2].mean() - CONTROL.score[N // 2 :].mean()) < 0.02


def test_x18_is_lognormal_and_x19_is_poisson_counts():
    assert (BASE.lognormal_feature, BASE.count_feature) == ("x18", "x19")
    x18, x19 = column(CONTROL, "x18"), column(CONTROL, "x19")
    assert x18.min() > 0 and x18.mean() > np.median(x18) and x18.max() > x18.mean() + 5 * x18.std()
    assert x19.min() >= 0 and np.array_equal(x19, np.round(x19))
    assert x19.var() / x19.mean() == pytest.approx(1.0, rel=0.1)
    small = StreamConfig(numeric_features=5)
    assert small.lognormal_feature is None and small.model_features == ("x0", "x1", "x2", "x3")


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "sudden"}, "kind"),
        ({"kind": "abrupt", "magnitude": 1.0}, "feature"),
        ({"kind": "anomaly_burst", "feature": "x1", "duration": 5, "magnitude": 8.0}, "feature"),
        ({"kind": "abrupt", "feature": "x1", "start": -1, "magnitude": 1.0}, "start"),
        ({"kind": "abrupt", "feature": "x1", "start": 1.5, "magnitude": 1.0}, "start"),
        ({"kind": "gradual", "feature": "x1", "magnitude": 1.0}, "duration"),
        ({"kind": "gradual", "feature": "x1", "duration": 0, "magnitude": 1.0}, "duration"),
        ({"kind": "abrupt", "feature": "x1", "duration": 10, "magnitude": 1.0}, "duration"),
        ({"kind": "abrupt", "feature": "x1"}, "magnitude"),
        ({"kind": "variance", "feature": "x1", "magnitude": 0.0}, "magnitude"),
        ({"kind": "abrupt", "feature": "x1", "magnitude": float("nan")}, "magnitude"),
        ({"kind": "missing_rate", "feature": "x1", "magnitude": 1.5}, "magnitude"),
        ({"kind": "none", "magnitude": 1.0}, "magnitude"),
        ({"kind": "abrupt", "feature": "x1", "start": 10, "end": 10, "magnitude": 1.0}, "end"),
    ],
)
def test_a_bad_scenario_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        Scenario(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model_id": "../etc"}, "model_id"),
        ({"model_version": ""}, "model_version"),
        ({"numeric_features": 0}, "numeric_features"),
        ({"categorical_features": -1}, "categorical_features"),
        ({"numeric_features": 990, "categorical_features": 11}, "numeric_features"),
        ({"base_missing_rate": 1.0}, "base_missing_rate"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"start_time": datetime(2026, 1, 1)}, "start_time"),
        ({"events_per_second": 0}, "events_per_second"),
        ({"scenarios": ("abrupt",)}, r"scenarios\[0\]"),
        ({"scenarios": [Scenario(kind="abrupt", feature="x20", magnitude=1.0)]}, "scenarios"),
        ({"scenarios": [Scenario(kind="abrupt", feature="c1", magnitude=1.0)]}, "scenarios"),
        ({"scenarios": [Scenario(kind="categorical", feature="x1", magnitude=0.5)]}, "scenarios"),
    ],
)
def test_a_bad_stream_config_is_refused_naming_the_field(kwargs, field):
    match = r"^scenarios\[0\]\.feature" if field == "scenarios" else f"^{field}"
    with pytest.raises(ValueError, match=match):
        StreamConfig(**kwargs)


def test_a_config_is_hashable_and_takes_a_list_of_scenarios():
    config = StreamConfig(scenarios=[Scenario(kind="none")])
    assert config.scenarios == (Scenario(kind="none"),)
    assert hash(config) == hash(replace(config))
    assert config.start_time == datetime(2026, 1, 1, tzinfo=UTC)
