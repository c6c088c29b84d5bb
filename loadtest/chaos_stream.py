"""The fixed stream every chaos scenario replays, and what a run of it left behind.

``ChaosStream`` is three models with drifts (one a control without), interleaved as live
models would publish, with the known-bad records of ``streams/samples.py`` mixed in. Model
ids are chosen so librdkafka's default partitioner (CRC32 of the key) puts each model on
a partition of its own: a fault on one worker's partitions then always has work behind it.

``Outcome`` is what a run left: the monitor state totals per model read from Redis, the
dead letters by original offset, the alert ids, and (when no worker was killed) the workers'
counters. ``Outcome.compare`` judges it against the crash-free reference run; see
``loadtest/chaos.py`` for what each figure can and cannot see.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import redis

from loadtest.producer import interleave
from streams.adapters.kafka.records import ReadRecord
from streams.adapters.kafka.roads import home_partition
from streams.core.contract.decoder import EventDecoder
from streams.core.contract.spec_inference import SpecInference
from streams.samples import BAD_RECORDS
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records
from streams.stack.worker import QUICK_SESSION_TIMEOUT_S

__all__ = ["ChaosStream", "Kill", "Outcome", "Verdict", "model_ids", "state_totals"]

PARTITIONS = 3
#: Events each model's spec is inferred from (the worker's default warm-up).
SPEC_EVENTS = 200
_OFFSET = "driftline.dlq.original.offset"
_PARTITION = "driftline.dlq.original.partition"


def model_ids(partitions: int = PARTITIONS) -> list[str]:
    """One model id per partition under librdkafka's consistent_random partitioner."""
    chosen: dict[int, str] = {}
    suffix = 0
    while len(chosen) < partitions:
        name = f"chaos-m{suffix}"
        chosen.setdefault(home_partition(name.encode(), partitions), name)
        suffix += 1
    return [chosen[p] for p in range(partitions)]


@dataclass(frozen=True)
class ChaosStream:
    """``events`` valid events over three models, plus the bad records mixed in."""

    events: int
    reference_events: int
    window_events: int

    @property
    def models(self) -> list[StreamConfig]:
        per_model = self.events // PARTITIONS
        drift_at = self.reference_events + (per_model - self.reference_events) // 3
        a, b, c = model_ids()
        return [
            StreamConfig(model_id=a, seed=11, scenarios=(
                Scenario(kind="abrupt", feature="x3", start=drift_at, magnitude=1.0),)),
            StreamConfig(model_id=b, seed=12, scenarios=(
                Scenario(kind="abrupt", feature="x5", start=drift_at, magnitude=1.5),)),
            StreamConfig(model_id=c, seed=13),  # the control: no drift
        ]  # fmt: skip

    def records(self, *, keyed: bool = True) -> tuple[list[tuple[bytes | None, bytes]], int]:
        """The records in publishing order, and how many of them are bad."""
        valid = interleave(self.models, self.events // PARTITIONS)
        bad = [(b"chaos-bad", b.value) for b in BAD_RECORDS] * 2
        step = len(valid) // (len(bad) + 1)
        records: list[tuple[bytes | None, bytes]] = []
        for index, (key, value) in enumerate(valid):
            records.append((key if keyed else None, value))
            if index % step == step - 1 and index // step < len(bad):
                records.append(bad[index // step])
        return records, len(bad)

    def write_specs(self, directory: Path) -> Path:
        """Each model's spec, inferred from its first events as a warm-up would, in
        ``directory`` for ``DRIFTLINE_SPECS_DIR``. With specs given, no model's first events
        wait for its warm-up: which of them a monitor sees no longer depends on how the
        records were batched (the routing stage hands the monitors small first chunks),
        so every run applies the same events to the same windows."""
        directory.mkdir(parents=True, exist_ok=True)
        decoder = EventDecoder()
        for stream in self.models:
            inference = SpecInference(stream.model_id, events_needed=SPEC_EVENTS)
            for chunk in generate_events(stream, SPEC_EVENTS):
                for record in raw_records(stream, chunk):
                    inference.observe(decoder.decode(record))
            spec = inference.spec().to_dict()
            (directory / f"{stream.model_id}.json").write_bytes(orjson.dumps(spec))
        return directory

    def env(self) -> dict[str, str]:
        """The worker settings every run of this stream uses."""
        return {
            "DRIFTLINE_PARTITIONS": str(PARTITIONS),
            "DRIFTLINE_WARMUP_EVENTS": "50",
            "DRIFTLINE_REFERENCE_EVENTS": str(self.reference_events),
            "DRIFTLINE_WINDOW_EVENTS": str(self.window_events),
            "DRIFTLINE_SESSION_TIMEOUT_S": QUICK_SESSION_TIMEOUT_S,  # crashes noticed soon
            "DRIFTLINE_COMMIT_INTERVAL_S": "3600",  # a crash redelivers all since the start
            "DRIFTLINE_LABEL_TTL_S": "300",  # kept predictions must not fill the local Redis
            "DRIFTLINE_STALL_S": "20",
        }


def state_totals(client: redis.Redis, prefix: str, window_events: int) -> dict[str, int]:
    """Events each model version's stored monitor has taken in: reference + windows."""
    totals: dict[str, int] = {}
    # P:{model}:state:version (every key of a model under its hash tag).
    for key in client.scan_iter(f"{prefix}:{{*}}:state:*", count=1000):
        name = key.decode()
        if ":quarantined:" in name:
            continue
        try:
            state = orjson.loads(client.get(key) or b"")
        except orjson.JSONDecodeError:
            continue
        if not isinstance(state, dict) or "windows_closed" not in state:
            continue
        model_id, version = name[len(prefix) + 2 :].split("}:state:", 1)
        model = f"{model_id}:{version}"
        # Closed windows held ``window_events`` each (the same setting in every run).
        windows = state["windows_closed"] * window_events + state["window_count"]
        totals[model] = state["reference_count"] + windows
    return totals


@dataclass
class Kill:
    """A worker SIGKILLed: when (ms since the epoch), and what its models' saved state
    covered once it was dead: per model, the last input offset per input partition (read
    before any other worker saved those models again; None if it could not be read)."""

    at_ms: int
    saved: dict[str, dict[int, int]] | None = None

    def explains_resend(self, alert: dict, first_sent_ms: int) -> bool:
        """Whether this kill is why ``alert`` was sent again: its first copy had left, but
        the batch that raised it was not saved yet (its trigger is past the saved offsets),
        so the next owner applied that batch again and raised it again. The worker's
        documented at-least-once window (``streams/adapters/faust/ingestion.py``)."""
        if self.saved is None or first_sent_ms > self.at_ms:
            return False
        trigger = alert["trigger"]
        saved = self.saved.get(alert["model_id"], {})
        return saved.get(trigger["partition"], -1) < trigger["offset"]


@dataclass
class Verdict:
    """One scenario's figures, as the results table shows them."""

    name: str
    events: int = 0
    lost: int = 0
    duplicated: int = 0
    double_counted: int = 0
    dead_lettered: int = 0
    alerts_equal: bool = False
    resume_s: float | None = None
    resume_limit_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expected_to_fail: bool = False

    @property
    def passed(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        self.failures.append(message)


@dataclass
class Outcome:
    """What one run left behind: state totals, dead letters, alerts, exact counters or None."""

    totals: dict[str, int]
    dead_letters: list[ReadRecord]
    alerts: list[dict]
    processed: int | None = None  # sum of every worker's counter, when none was killed
    forgotten: int | None = None  # of them, counted under model "_forgotten" (expired warm-ups)
    alert_sent_ms: list[int] = field(default_factory=list)  # each alert record's timestamp

    @property
    def dead_offsets(self) -> Counter[tuple[int, int]]:
        return Counter(
            (int(r.headers[_PARTITION]), int(r.headers[_OFFSET])) for r in self.dead_letters
        )

    def alert_ids(self, *, models: set[str] | None = None) -> Counter[str]:
        return Counter(
            a["alert_id"] for a in self.alerts if models is None or a["model_id"] in models
        )

    def described(self, alert_ids: set[str], most: int = 4) -> list[tuple]:
        """What the first ``most`` of ``alert_ids`` say: model, type, feature, status and
        the window's end, to tell an order that moved from an alert lost or made up."""
        return [
            (a["model_id"], a["type"], a["feature"], a["status"], a["window"].get("end"))
            for a in self.alerts
            if a["alert_id"] in alert_ids
        ][:most]

    def episodes(self, *, models: set[str] | None = None) -> Counter[tuple]:
        """Alerts by what they say (model, type, feature, status), not by their window."""
        return Counter(
            (a["model_id"], a["type"], a["feature"], a["status"])
            for a in self.alerts
            if models is None or a["model_id"] in models
        )

    def judge(
        self,
        verdict: Verdict,
        reference: Outcome,
        *,
        bad: set[tuple[int, int]],
        published: int,
        models: set[str],
        allow_duplicate_alerts: bool = False,
        drifted: set[tuple[str, str]] | None = None,
        kills: Sequence[Kill] = (),
    ) -> None:
        """Fill ``verdict`` from this run against the reference run, for the monitor states
        and alerts of ``models`` (model ids). ``drifted`` ((model, feature) pairs): require
        these injected drifts caught instead of equal alert ids, for input whose order
        across partitions is arbitrary (a model's events from several partitions meet in an
        order no two runs share, so an episode may open a window earlier or later).
        ``kills``: the run's SIGKILLs, each of which may explain an alert sent again."""
        dead = self.dead_offsets
        verdict.dead_lettered = len(dead)
        verdict.duplicated = sum(n - 1 for n in dead.values())
        missing = bad - dead.keys()
        verdict.lost = len(missing)
        if missing:
            verdict.fail(f"{len(missing)} bad records not dead-lettered")
        keys = {k for k in reference.totals if k.rsplit(":", 1)[0] in models}
        for model in sorted(keys):
            want, got = reference.totals.get(model, 0), self.totals.get(model, 0)
            verdict.lost += max(0, want - got)
            verdict.double_counted += max(0, got - want)
            if got != want:
                verdict.fail(f"{model}: state holds {got} events, the reference run {want}")
        if self.processed is not None and self.processed + len(dead) != published:
            gap = published - self.processed - len(dead)
            verdict.fail(f"processed + dead-lettered is {gap:+d} off the {published} published")
            verdict.lost += max(0, gap)
            verdict.double_counted += max(0, -gap)
        self._judge_alerts(verdict, reference, models, allow_duplicate_alerts, drifted, kills)

    def _judge_alerts(
        self,
        verdict: Verdict,
        reference: Outcome,
        models: set[str],
        allow_duplicates: bool,
        drifted: set[tuple[str, str]] | None,
        kills: Sequence[Kill],
    ) -> None:
        if drifted is not None:
            # A model's events from several partitions meet in an order no two runs share, so
            # which windows trip is not fixed, even on a drifted feature (a window mixing
            # events from before and after the shift may dip and split an episode). What
            # must hold: every injected drift caught (the exact counts above catch lost or
            # doubled events); other differences are printed.
            verdict.notes.append("alerts judged by the injected drifts being caught")
            episodes, expected = self.episodes(models=models), reference.episodes(models=models)
            caught = {(e[0], e[2]) for e in episodes if e[1] == "data_drift" and e[3] == "firing"}
            verdict.alerts_equal = drifted <= caught
            if not verdict.alerts_equal:
                verdict.fail(f"drifts not caught: {sorted(drifted - caught)}")
            if episodes != expected:
                verdict.notes.append(f"episodes differ: missing {sorted(expected - episodes)}, "
                                     f"extra {sorted(episodes - expected)}")  # fmt: skip
        want, got = reference.alert_ids(models=models), self.alert_ids(models=models)
        if drifted is None:
            verdict.alerts_equal = set(want) == set(got)
            if not verdict.alerts_equal:
                missing, extra = set(want) - set(got), set(got) - set(want)
                verdict.fail(
                    f"alert ids differ: {len(missing)} missing {reference.described(missing)}, "
                    f"{len(extra)} extra {self.described(extra)}"
                )
        repeats = sum(n - 1 for n in got.values())
        verdict.duplicated += repeats
        resent = self.resent_after_kills(got, kills)
        if resent:
            verdict.notes.append(f"{resent} alerts sent again after a kill before their batch "
                                 "was saved (at-least-once)")  # fmt: skip
        if repeats > resent and not allow_duplicates:
            repeated = {alert_id for alert_id, n in got.items() if n > 1}
            verdict.fail(f"{repeats - resent} alerts delivered more than once, not explained by "
                         f"a kill: {self.described(repeated)}")  # fmt: skip
        elif repeats > resent:
            verdict.notes.append(f"{repeats - resent} repeated alert ids (allowed: at-least-once "
                                 "here)")  # fmt: skip

    def resent_after_kills(self, counts: Counter[str], kills: Sequence[Kill]) -> int:
        """How many of the repeated copies in ``counts`` (alert id: copies) the ``kills``
        explain, each at most once per kill."""
        copies: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        for alert, sent_ms in zip(self.alerts, self.alert_sent_ms, strict=True):
            if counts[alert["alert_id"]] > 1:
                copies[alert["alert_id"]].append((sent_ms, alert))
        resent = 0
        for sent in copies.values():
            sent_ms, alert = min(sent, key=lambda copy: copy[0])
            explained = sum(kill.explains_resend(alert, sent_ms) for kill in kills)
            resent += min(len(sent) - 1, explained)
        return resent
