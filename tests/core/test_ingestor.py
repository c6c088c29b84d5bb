from __future__ import annotations

import pytest

from streams.core import EventDecoder, Ingestor, Reason, SpecRegistry
from tests.core.conftest import event_dict, record


def test_every_record_ends_in_exactly_one_place():
    records = [
        record(event_dict(event_id="a"), offset=0),
        record(b"garbage", offset=1),
        record(event_dict(event_id="b", score="12,5"), offset=2),
        record(event_dict(event_id="c"), offset=3),
    ]
    result = Ingestor(EventDecoder(), SpecRegistry()).ingest(records)
    assert [e.event_id for e in result.accepted] == ["a", "c"]
    assert [(r.record.offset, r.reason) for r in result.rejected] == [
        (1, Reason.NOT_JSON),
        (2, Reason.WRONG_TYPE),
    ]
    assert result.accepted_per_model() == {"churn": 2}


def test_the_model_is_named_only_when_the_registry_knows_it():
    ingestor = Ingestor(EventDecoder(), SpecRegistry(max_models=1, warmup_events=1))
    result = ingestor.ingest(
        [
            record(event_dict(model_id="known")),
            record(
                event_dict(
                    model_id="known", features={"age": 1, "income": 2, "plan": 3, "active": True}
                )
            ),
            record(event_dict(model_id="known", score="x")),
            record(event_dict(model_id="other")),
        ]
    )
    # A record that does not decode has no trustworthy model id at all.
    assert [(r.reason, r.model_id) for r in result.rejected] == [
        (Reason.WRONG_TYPE, "known"),
        (Reason.WRONG_TYPE, None),
        (Reason.MODEL_LIMIT, None),
    ]
    assert result.rejected[0].error_class == "streams.core.errors.InvalidEvent"


class ExplodingRegistry(SpecRegistry):
    def check(self, event, message_bytes, shape=None):
        if event.event_id == "boom":
            raise ZeroDivisionError("a bug")
        super().check(event, message_bytes, shape)


def test_a_bug_on_one_record_rejects_that_record_only(caplog):
    ingestor = Ingestor(EventDecoder(), ExplodingRegistry())
    result = ingestor.ingest(
        [record(event_dict(event_id="boom"), offset=7), record(event_dict(), offset=8)]
    )
    assert len(result.accepted) == 1
    (rejected,) = result.rejected
    assert rejected.reason is Reason.INTERNAL_ERROR
    assert rejected.error_class == "builtins.ZeroDivisionError"
    assert "predictions[0]@7" in caplog.text


@pytest.mark.parametrize("count", [0, 1, 250])
def test_counts_add_up(count):
    records = [record(event_dict(event_id=str(i)), offset=i) for i in range(count)]
    result = Ingestor(EventDecoder(), SpecRegistry()).ingest(records)
    assert len(result.accepted) + len(result.rejected) == count
