"""Which dead letters ``driftline redrive`` sends again, read from their headers as the worker
writes them (``dead_letter_message``, ``truncated_copy``, ``DeadLetterRedactor``). The sending
and the marks against the real broker and Redis: tests/integration/test_redrive.py."""

from __future__ import annotations

import pytest

from streams.adapters.kafka.dead_letter import dead_letter_message, truncated_copy
from streams.adapters.kafka.records import ReadRecord
from streams.adapters.kafka.redrive import DeadLetter, RedriveReport, Selection
from streams.core.contract.event import RawRecord
from streams.core.contract.ingestor import Rejection
from streams.core.errors import Reason
from streams.samples import sample_events


def consumed(message: tuple, partition: int = 1, offset: int = 7) -> ReadRecord:
    """``message`` (key, value, headers) as a consumer reads it back (``read_record``)."""
    key, value, headers = message
    return ReadRecord(partition, offset, key, value, dict(headers))


def letter(value: bytes, reason: Reason, *, model_id: str | None = None) -> tuple:
    record = RawRecord(key=b"k", value=value, source="predictions", partition=3, offset=42,
                       timestamp_ms=1)  # fmt: skip
    rejection = Rejection(record=record, reason=reason, detail="why",
                          error_class="InvalidEvent", model_id=model_id)  # fmt: skip
    return dead_letter_message(rejection)


EVENT = next(sample_events("churn", 1))


def test_a_dead_letter_is_read_back_as_the_worker_wrote_it():
    read = DeadLetter.of(consumed(letter(EVENT, Reason.OUT_OF_RANGE, model_id="churn")))
    record = read.record
    assert (record.partition, record.offset, record.key, record.value) == (1, 7, b"k", EVENT)
    assert (read.topic, read.reason, read.model_id, read.whole) == (
        "predictions", "out_of_range", "churn", True)  # fmt: skip


def test_the_model_comes_from_the_record_where_the_worker_did_not_know_it():
    read = DeadLetter.of(consumed(letter(EVENT, Reason.UNKNOWN_MODEL)))
    assert read.model_id == "churn"
    assert DeadLetter.of(consumed(letter(b"[1, 2]", Reason.NOT_AN_OBJECT))).model_id is None
    assert DeadLetter.of(consumed(letter(b"\xff", Reason.INVALID_UTF8))).model_id is None


@pytest.mark.parametrize(
    ("selection", "why"),
    [
        (Selection(), None),
        (Selection(reasons=frozenset({"unknown_model"})), None),
        (Selection(reasons=frozenset({"model_limit"})), "other reasons"),
        (Selection(models=frozenset({"churn"})), None),
        (Selection(models=frozenset({"fraud"})), "other models"),
        (Selection(reasons=frozenset({"unknown_model"}), models=frozenset({"fraud"})),
         "other models"),
    ],
)  # fmt: skip
def test_a_selection_takes_its_reasons_and_models(selection, why):
    read = DeadLetter.of(consumed(letter(EVENT, Reason.UNKNOWN_MODEL)))
    assert selection.passes_over(read) == why


def test_truncated_redacted_and_foreign_records_are_never_sent():
    truncated = truncated_copy(letter(EVENT, Reason.TOO_LARGE), 10)
    key, value, headers = letter(EVENT, Reason.OUT_OF_RANGE, model_id="churn")
    redacted = (key, value, [*headers, ("driftline.dlq.pii", b"redacted")])
    unredacted = (key, value, [*headers, ("driftline.dlq.pii", b"unredacted")])
    foreign = (b"k", EVENT, [("some.header", b"x")])
    cannot = "truncated or redacted (cannot be sent again)"
    assert Selection().passes_over(DeadLetter.of(consumed(truncated))) == cannot
    assert Selection().passes_over(DeadLetter.of(consumed(redacted))) == cannot
    assert Selection().passes_over(DeadLetter.of(consumed(unredacted))) is None
    assert (
        Selection().passes_over(DeadLetter.of(consumed(foreign))) == "not a Driftline dead letter"
    )


def test_the_report_counts_by_destination_and_reason_and_by_why():
    report = RedriveReport()
    report.sent[("predictions", "unknown_model")] += 40
    report.sent[("predictions", "model_limit")] += 2
    report.passed_over["other reasons"] += 1
    assert report.lines(dry_run=True) == [
        "would send 42 dead letters again",
        "  2 to predictions (model_limit)",
        "  40 to predictions (unknown_model)",
        "passed over 1: other reasons",
    ]
    assert RedriveReport().lines(dry_run=False) == ["sent 0 dead letters again"]
