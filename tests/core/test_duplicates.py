"""``MemoryDuplicates``: replay's filter of events sent twice, against a plain model of its rule."""

from __future__ import annotations

import random

import pytest

from streams.core.contract.duplicates import MemoryDuplicates, keep
from streams.core.contract.event import PredictionEvent

TTL_MS = 1_000


def event(event_id: str, at: int, version: str = "v1") -> PredictionEvent:
    return PredictionEvent(event_id, "m", version, at, {}, "yes", 0.5)


def test_an_id_is_remembered_for_the_ttl_of_the_newest_event_time() -> None:
    seen = MemoryDuplicates(ttl_ms=TTL_MS)
    assert seen.duplicates([event("a", 0), event("b", 1_000)], [(0, 0), (0, 1)]) == [False, False]
    # The newest time is 1,000: "a" at 0 is exactly at the edge, still remembered.
    assert seen.duplicates([event("a", 1_000)], [(0, 2)]) == [True]
    # One millisecond on, within the same batch: forgotten, so this "a" is a new event.
    assert seen.duplicates([event("c", 1_001), event("a", 1_001)], [(0, 3), (0, 4)]) == [
        False,
        False,
    ]


def test_an_id_seen_again_after_its_ttl_is_kept_as_the_newest() -> None:
    seen = MemoryDuplicates(ttl_ms=TTL_MS, max_ids=2)
    seen.duplicates([event("a", 0), event("b", 10)], [(0, 0), (0, 1)])
    assert seen.duplicates([event("a", 1_500)], [(0, 2)]) == [False]
    # Three ids for two places: the one to go is the oldest, "b", not "a" stored anew.
    seen.duplicates([event("c", 1_600)], [(0, 3)])
    assert seen.duplicates([event("a", 1_700)], [(0, 4)]) == [True]


def test_the_same_record_read_again_is_not_a_copy_and_versions_are_apart() -> None:
    seen = MemoryDuplicates(ttl_ms=TTL_MS)
    seen.duplicates([event("a", 0)], [(3, 7)])
    assert seen.duplicates([event("a", 0), event("a", 0, "v2")], [(3, 7), (3, 8)]) == [
        False,
        False,
    ]


def test_the_oldest_ids_go_past_max_ids() -> None:
    seen = MemoryDuplicates(ttl_ms=TTL_MS, max_ids=2)
    seen.duplicates([event("a", 0), event("b", 1), event("c", 2)], [(0, 0), (0, 1), (0, 2)])
    assert seen.duplicates([event("a", 3), event("c", 3)], [(0, 3), (0, 4)]) == [False, True]


def test_a_mismatched_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="2 events but 1 positions"):
        MemoryDuplicates(ttl_ms=TTL_MS).duplicates([event("a", 0), event("b", 0)], [(0, 0)])
    with pytest.raises(ValueError):
        keep([event("a", 0)], [(0, 0)], [False, False])


@pytest.mark.parametrize("seed", range(5))
def test_random_streams_match_the_rule(seed: int) -> None:
    # The rule written plainly: a copy is an event whose (version, id) was seen at another
    # position, at an event time within the TTL of the newest time so far.
    rng = random.Random(seed)
    seen = MemoryDuplicates(ttl_ms=TTL_MS)
    remembered: dict[tuple[str, str], tuple[int, tuple[int, int]]] = {}
    newest, clock, offset = 0, 0, 0
    for _ in range(40):
        batch, positions, expected = [], [], []
        for _ in range(rng.randint(0, 60)):
            clock += rng.randint(0, 40)
            at = max(clock - rng.randint(0, 50), 0)  # some events arrive late
            e = event(f"e{rng.randint(0, 150)}", at, rng.choice(["v1", "v2"]))
            reread = rng.random() < 0.1 and (e.model_version, e.event_id) in remembered
            position = remembered[(e.model_version, e.event_id)][1] if reread else (0, offset)
            offset += 1
            newest = max(newest, at)
            earlier = remembered.get((e.model_version, e.event_id))
            if earlier is None or earlier[0] < newest - TTL_MS:
                remembered[(e.model_version, e.event_id)] = (at, position)
                expected.append(False)
            else:
                expected.append(earlier[1] != position)
            batch.append(e)
            positions.append(position)
        assert seen.duplicates(batch, positions) == expected
        kept, kept_positions = keep(batch, positions, expected)
        assert kept == [e for e, d in zip(batch, expected, strict=True) if not d]
        assert len(kept_positions) == len(kept)
