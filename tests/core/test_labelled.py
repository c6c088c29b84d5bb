"""What the label join keeps of a prediction and of a waiting label, read back: the stored
forms round-trip, and any other shape (garbage written by something else) is refused as
``InvalidState``, which the Redis join counts as ``unreadable`` instead of crashing."""

from __future__ import annotations

import orjson
import pytest

from streams.core.contract.event import LabelEvent, PredictionEvent
from streams.core.errors import InvalidState
from streams.core.labels.labelled import kept_fields, label_fields, label_from_fields, labelled
from tests.json_mutations import refusals

EVENT = PredictionEvent(event_id="e1", model_id="churn", model_version="v3",
                        timestamp_ms=1_000, features={"x": 1.0}, prediction=True, score=0.8,
                        attributes={"region": "eu"})  # fmt: skip
LABEL = LabelEvent("e1", "churn", False, 61_000, "v3")


def stored(document: dict) -> object:
    return orjson.loads(orjson.dumps(document))  # as Redis gives it back


def test_the_kept_forms_round_trip():
    pair = labelled(LABEL, stored(kept_fields(EVENT)))
    assert (pair.model_version, pair.prediction, pair.label, pair.score) == ("v3", True, False, 0.8)
    assert pair.attributes == {"region": "eu"} and pair.predicted_at_ms == 1_000
    waiting = stored(label_fields(LABEL, (2, 40)))
    assert label_from_fields("churn", "e1", waiting) == (LABEL, (2, 40))


@pytest.mark.parametrize(
    ("document", "read"),
    [
        (kept_fields(EVENT), lambda raw: labelled(LABEL, raw)),
        (label_fields(LABEL, (2, 40)), lambda raw: label_from_fields("churn", "e1", raw)),
    ],
    ids=["kept prediction", "waiting label"],
)
def test_any_other_shape_is_refused_as_invalid_state(document, read):
    assert refusals(stored(document), read, InvalidState) > 20
