"""PII is hashed under a secret key, or dropped, before a monitor, profile, reference chunk,
alert or label-join record keeps it."""

from __future__ import annotations

import orjson
import pytest

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.contract.event import RawRecord
from streams.core.contract.pii import HASH_HEX_DIGITS, PiiPolicy, has_pii, require_key_for
from streams.core.contract.spec import ModelSpec
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.labels.labelled import MemoryLabelJoin, kept_fields
from tests import pii_stream

KEY, OTHER_KEY = b"k" * 32, b"j" * 32
SPEC = ModelSpec.from_dict(pii_stream.SPEC)
CONFIG = MonitorConfig(window_events=200, reference_events=500)


def test_hmac_is_keyed_stable_and_128_bits():
    policy = PiiPolicy(key=KEY)
    hashed = policy.redact("ann@example.com")
    assert hashed == PiiPolicy(key=KEY).redact("ann@example.com")
    assert hashed != PiiPolicy(key=OTHER_KEY).redact("ann@example.com")
    assert hashed != policy.redact("bob@example.com")
    assert hashed.startswith("hmac:") and len(hashed) == 5 + HASH_HEX_DIGITS
    assert policy.redact(None) is None  # missing stays missing
    assert policy.redact(41) == policy.redact_column(["41"])[0]  # by its category text


def test_drop_removes_and_the_key_stays_out_of_repr():
    dropped = PiiPolicy(mode="drop").redact_fields({"email": "a@b.c", "x": 1}, ["email"])
    assert dropped == {"x": 1}
    assert "kkkk" not in repr(PiiPolicy(key=KEY))
    with pytest.raises(ValueError, match="at least 16 bytes"):
        PiiPolicy(key=b"short")


def test_a_pii_spec_needs_a_key_unless_pii_is_dropped():
    assert has_pii(SPEC)
    with pytest.raises(ValueError, match="no DRIFTLINE_PII_KEY"):
        require_key_for([SPEC], PiiPolicy())
    require_key_for([SPEC], PiiPolicy(mode="drop"))
    require_key_for([SPEC], PiiPolicy(key=KEY))


def run(policy: PiiPolicy, count: int = 2_000):
    registry = SpecRegistry([SPEC])
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, CONFIG, pii=policy)
    evts = pii_stream.events(0, count, drift_at=1_000)
    stored: list[bytes] = []
    alerts = []
    for start in range(0, count, 250):
        batch = [RawRecord(orjson.dumps(e), 0, "p", 0, start + i)
                 for i, e in enumerate(evts[start : start + 250])]  # fmt: skip
        result = ingestor.ingest(batch)
        assert not result.rejected
        alerts += monitor.process(result.accepted, result.positions).alerts
        watcher = monitor.monitors[pii_stream.MODEL, "v1"]
        stored += [orjson.dumps(x) for x in (watcher.snapshot(), watcher.take_new_reference(),
                                             watcher.take_new_profile())]  # fmt: skip
    stored += [orjson.dumps(a.to_dict()) for a in alerts]
    return evts, b"\n".join(stored), alerts, monitor.monitors[pii_stream.MODEL, "v1"]


def test_a_monitor_fed_pii_keeps_none_of_it_and_still_watches_it():
    evts, stored, alerts, watcher = run(PiiPolicy(key=KEY))
    assert [v for v in pii_stream.distinctive_values(evts) if v in stored] == []
    # The zip codes concentrated at event 1000: drift on a PII feature is still caught.
    assert "zip" in {a.feature for a in alerts if a.type == "data_drift"}
    assert alerts and all(a.sample for a in alerts)
    for name in ("email", "age", "zip"):
        assert all(c.startswith("hmac:") for c in watcher.profile.categorical[name].categories)
    assert "age" not in watcher.profile.numeric  # no raw quantile edges or range
    hashes = {m.decode() for m in pii_stream.HASH.findall(stored)}
    assert hashes
    values = pii_stream.candidates(evts)
    assert pii_stream.dictionary_attack(hashes, values, keys=[OTHER_KEY]) == set()
    # The attack does work with the key: the test can fail.
    some = [*values[:200], evts[-1]["features"]["zip"]]
    assert pii_stream.dictionary_attack(hashes, some, keys=[KEY])


def test_dropped_pii_is_neither_watched_nor_sampled():
    evts, stored, alerts, watcher = run(PiiPolicy(mode="drop"))
    assert [v for v in pii_stream.distinctive_values(evts) if v in stored] == []
    assert not pii_stream.HASH.search(stored)
    assert set(watcher.profile.categorical) & {"email", "age", "zip"} == set()
    assert all("email" not in s["features"] for a in alerts for s in a.sample)


def test_the_label_join_keeps_pii_attributes_hashed_and_fairness_by_hash():
    registry = SpecRegistry([SPEC])
    event = (
        Ingestor(EventDecoder(), registry)
        .ingest([RawRecord(orjson.dumps(pii_stream.events(0, 1, drift_at=9)[0]), 0, "p", 0, 0)])
        .accepted[0]
    )
    policy = PiiPolicy(key=KEY)
    kept = kept_fields(event, SPEC.pii_attributes, policy)
    assert kept["a"]["region"] == "north"
    assert kept["a"]["phone"] == policy.redact(event.attributes["phone"])
    assert kept_fields(event, SPEC.pii_attributes, PiiPolicy(mode="drop"))["a"] == {
        "region": "north"
    }
    view = policy.fairness_view(SPEC)
    assert view.fairness[0].reference_group == policy.redact("female")
    join = MemoryLabelJoin(pii=policy)
    join.keep([event], {SPEC.model_id: SPEC.pii_attributes})
    assert b"555" not in orjson.dumps(list(join._kept.values()))
