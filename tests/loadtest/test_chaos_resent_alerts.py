"""The chaos suite's rule for an alert id seen twice: allowed only when a kill explains it
(its first copy had left, its batch was not saved yet), a failure otherwise."""

from __future__ import annotations

from loadtest.chaos_stream import Kill, Outcome, Verdict

MODEL = "chaos-m0"


def alert(alert_id: str, offset: int) -> dict:
    return {
        "alert_id": alert_id, "model_id": MODEL, "type": "data_drift", "feature": "x3",
        "status": "firing", "window": {"end": "2026-01-01T00:00:00Z"},
        "trigger": {"partition": 0, "offset": offset},
    }  # fmt: skip


def judged(sent: list[tuple[str, int, int]], kills: list[Kill]) -> Verdict:
    """``sent``: (alert id, trigger offset, sent at ms) of each alert record, in topic order."""
    ids = {alert_id: offset for alert_id, offset, _ in sent}
    reference = Outcome(totals={}, dead_letters=[], alerts=[alert(a, o) for a, o in ids.items()],
                        alert_sent_ms=[0] * len(ids))  # fmt: skip
    run = Outcome(totals={}, dead_letters=[], alerts=[alert(a, o) for a, o, _ in sent],
                  alert_sent_ms=[ms for _, _, ms in sent])  # fmt: skip
    verdict = Verdict("scenario")
    run.judge(verdict, reference, bad=set(), published=0, models={MODEL}, kills=kills)
    return verdict


def test_an_alert_sent_before_a_kill_that_found_its_batch_unsaved_may_come_again():
    kill = Kill(at_ms=1_000, saved={MODEL: {0: 499}})
    verdict = judged([("a", 500, 900), ("b", 200, 950), ("a", 500, 2_000)], [kill])
    assert verdict.passed, verdict.failures
    assert verdict.duplicated == 1
    assert verdict.notes == ["1 alerts sent again after a kill before their batch was saved "
                             "(at-least-once)"]  # fmt: skip


def test_an_alert_whose_batch_was_saved_before_the_kill_must_not_come_again():
    kill = Kill(at_ms=1_000, saved={MODEL: {0: 500}})
    verdict = judged([("a", 500, 900), ("a", 500, 2_000)], [kill])
    assert not verdict.passed
    assert "1 alerts delivered more than once, not explained by a kill" in verdict.failures[0]


def test_an_alert_first_sent_after_the_kill_is_a_repeat_of_the_new_worker():
    kill = Kill(at_ms=1_000, saved={MODEL: {0: 100}})
    assert not judged([("a", 500, 1_500), ("a", 500, 2_000)], [kill]).passed


def test_each_kill_explains_one_copy_at_most():
    kill = Kill(at_ms=1_000, saved={MODEL: {}})
    assert not judged([("a", 500, 900), ("a", 500, 1_500), ("a", 500, 2_000)], [kill]).passed
    second = Kill(at_ms=1_800, saved={MODEL: {0: 10}})
    assert judged([("a", 500, 900), ("a", 500, 1_500), ("a", 500, 2_000)], [kill, second]).passed


def test_without_a_kill_or_with_a_kill_not_read_any_repeat_fails():
    sent = [("a", 500, 900), ("a", 500, 2_000)]
    assert not judged(sent, []).passed
    assert not judged(sent, [Kill(at_ms=1_000)]).passed
