from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.contract.columns import Columns
from streams.core.contract.decoder import EventDecoder
from streams.core.drift.profile import NumericProfile, ReferenceProfile
from streams.core.errors import InvalidState
from tests.core.conftest import event_dict, record
from tests.json_mutations import refusals


def test_numeric_profile_bins_missing_and_range():
    values = np.array([*range(100), np.nan, np.nan], dtype=float)
    profile = NumericProfile.from_values(values)
    assert profile.bins == 10
    np.testing.assert_allclose(profile.shares, 0.1, atol=0.011)
    assert profile.missing_rate == pytest.approx(2 / 102)
    assert (profile.minimum, profile.maximum) == (0, 99)


def test_a_discrete_feature_gets_fewer_bins_not_empty_ones():
    values = np.array([0] * 50 + [1] * 30 + [2] * 20, dtype=float)
    profile = NumericProfile.from_values(values)
    assert profile.bins <= 3
    assert np.all(profile.shares > 0)
    assert profile.shares.sum() == pytest.approx(1)


def test_a_profile_round_trips_through_json():
    decoder = EventDecoder()
    events = [
        decoder.decode(record(event_dict(features={"age": a, "plan": p})))
        for a, p in [(30, "gold"), (40, "basic"), (None, "gold"), (55, None)]
    ]
    columns = Columns.from_events(events, ["age"], ["plan"])
    profile = ReferenceProfile.from_columns("churn", "v3", columns)
    restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert restored.to_dict() == profile.to_dict()
    assert restored.categorical["plan"].categories == ("gold", "basic")
    assert restored.numeric["age"].missing_rate == 0.25


def test_columns_mark_missing_values():
    decoder = EventDecoder()
    events = [
        decoder.decode(record(event_dict(features={"age": 1, "plan": "a", "ok": True}))),
        decoder.decode(record(event_dict(features={"plan": None, "ok": False}))),
    ]
    columns = Columns.from_events(events, ["age"], ["plan", "ok"])
    assert columns.numeric[0, 0] == 1 and np.isnan(columns.numeric[1, 0])
    assert columns.categorical == {"plan": ["a", None], "ok": ["true", "false"]}


def test_a_profile_broken_anywhere_raises_invalid_state_and_nothing_else():
    """Profiles come from files (`replay --profile`, `report --profile`) and from Redis: a
    malformed one is refused as such, never an AttributeError or a numpy error from deep
    inside (which stopped `replay --profile` with a traceback)."""
    rng = np.random.default_rng(3)
    decoder = EventDecoder()
    ages, incomes = rng.normal(40, 9, 300), rng.lognormal(10, 1, 300)
    plans = rng.choice(["gold", "basic"], 300)
    rows = [{"age": float(a), "income": float(i), "plan": str(p)}
            for a, i, p in zip(ages, incomes, plans, strict=True)]  # fmt: skip
    events = [decoder.decode(record(event_dict(features=row))) for row in rows]
    columns = Columns.from_events(events, ["age", "income"], ["plan"])
    profile = ReferenceProfile.from_columns("churn", "v3", columns, anomaly_columns=2)
    document = json.loads(json.dumps(profile.to_dict()))
    assert document["anomaly"] is not None  # the scorer's fields are broken too
    assert refusals(document, ReferenceProfile.from_dict, InvalidState) > 100
