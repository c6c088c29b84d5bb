"""One tracked source's patterns, judged against the rest of the population in its window.

Each pattern is a count of hits among a source's trials (its events, or for near-duplicates
its comparisons with its own recent events). The null hypothesis is that the source behaves
as the others: its hits then follow a binomial (Poisson for near-duplicates, whose trials
are comparisons) at the rate of every *other* tracked source in the window. The rate is
smoothed by one hit in two trials, so a pattern no other source shows still has a finite
expectation. A finding also needs ``min_hits`` hits and ``min_ratio`` times the expectation:
a real but small excess (a legitimate client a little unlike the others) is not an attack.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.abuse.tail_bounds import binomial_tail_log10, poisson_tail_log10
from streams.core.online.space_saving import Tracked

__all__ = ["EVENT_PATTERNS", "PATTERNS", "Finding", "Totals", "judge_source"]

#: Per-event patterns, in the order of ``Tracked.hits``.
EVENT_PATTERNS = ("threshold_probing", "anomalous_share")
#: Every pattern an ``adversarial`` alert can name.
PATTERNS = ("near_duplicates", *EVENT_PATTERNS)


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over every tracked source of a window."""

    events: int
    hits: tuple[int, ...]
    duplicates: int
    seen: int

    @classmethod
    def of(cls, entries: list[Tracked]) -> Totals:
        patterns = len(entries[0].hits) if entries else 0
        return cls(
            events=sum(e.events for e in entries),
            hits=tuple(sum(e.hits[p] for e in entries) for p in range(patterns)),
            duplicates=sum(e.duplicates for e in entries),
            seen=sum(e.seen for e in entries),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """A pattern one source shows far more than the others.

    ``strength`` is ``-log10`` of a bound on the chance of as many hits under the others'
    rate (``population_rate`` per trial, ``expected`` hits over ``trials``).
    """

    pattern: str
    hits: int
    trials: int
    expected: float
    population_rate: float
    strength: float


def judge_source(
    entry: Tracked, totals: Totals, *, min_hits: int, min_ratio: float
) -> list[Finding]:
    """The patterns ``entry`` shows beyond the floors, each with its strength.

    Examples
    --------
    >>> prober = Tracked(200, 0, 2, 1, 4)
    >>> prober.hits, prober.duplicates, prober.seen = [150, 0], 190, 800
    >>> totals = Totals(events=10_200, hits=(650, 10), duplicates=200, seen=60_800)
    >>> [(f.pattern, f.hits, round(f.strength)) for f in
    ...  judge_source(prober, totals, min_hits=10, min_ratio=3.0)]
    [('near_duplicates', 190, 509), ('threshold_probing', 150, 147)]
    """
    findings = []
    others_seen = totals.seen - entry.seen
    rate = (totals.duplicates - entry.duplicates + 1) / (others_seen + 2)
    expected = rate * entry.seen
    if _beyond_floors(entry.duplicates, expected, min_hits, min_ratio):
        strength = poisson_tail_log10(entry.duplicates, expected)
        findings.append(Finding(PATTERNS[0], entry.duplicates, entry.seen, expected, rate,
                                strength))  # fmt: skip
    others = totals.events - entry.events
    for index, pattern in enumerate(EVENT_PATTERNS):
        hits = entry.hits[index]
        rate = (totals.hits[index] - hits + 1) / (others + 2)
        expected = rate * entry.events
        if _beyond_floors(hits, expected, min_hits, min_ratio):
            strength = binomial_tail_log10(hits, entry.events, rate)
            findings.append(Finding(pattern, hits, entry.events, expected, rate, strength))
    return findings


def _beyond_floors(hits: int, expected: float, min_hits: int, min_ratio: float) -> bool:
    return hits >= min_hits and hits >= min_ratio * expected
