"""The drift-quality benchmark's result rows and how they print (``loadtest/quality.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Row", "format_table"]


@dataclass(frozen=True, slots=True)
class Row:
    """One (scenario, setup) result over ``seeds`` seeds.

    ``delays`` holds the delay of every seed where the drift was caught; it is None when there
    is no drift (the control) or the setup does not apply, and ``false_alarms_per_million`` is
    None only when the setup does not apply.
    """

    scenario: str
    setup: str
    seeds: int
    delays: tuple[int, ...] | None
    false_alarms_per_million: float | None

    @property
    def missed(self) -> int | None:
        return None if self.delays is None else self.seeds - len(self.delays)

    @property
    def mean_delay(self) -> float | None:
        return sum(self.delays) / len(self.delays) if self.delays else None


def _delay_cell(row: Row) -> str:
    if row.false_alarms_per_million is None:
        return "n/a"
    if row.delays is None:
        return "-"  # no drift to detect
    if not row.delays:
        return "never"
    low, high = min(row.delays), max(row.delays)
    return f"{row.mean_delay:,.0f} ({low:,}-{high:,})"


def _missed_cell(row: Row) -> str:
    if row.false_alarms_per_million is None:
        return "n/a"
    return "-" if row.missed is None else f"{row.missed}/{row.seeds}"


def _false_alarm_cell(row: Row) -> str:
    rate = row.false_alarms_per_million
    return "n/a" if rate is None else f"{rate:,.1f}"


def format_table(rows: Iterable[Row]) -> str:
    lines = [
        "| scenario | setup | mean delay, events (min-max) | missed | false alarms per 1M events |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.scenario} | {r.setup} | {_delay_cell(r)} | {_missed_cell(r)} "
        f"| {_false_alarm_cell(r)} |"
        for r in rows
    ]
    return "\n".join(lines)
