"""Unseen categories and type changes: quiet on reference-like windows, firing on change."""

from __future__ import annotations

import numpy as np

from streams.core.detectors.type_change import TypeChange, TypeChangeConfig
from streams.core.detectors.unseen_categories import UnseenCategories, UnseenCategoriesConfig
from streams.core.drift.profile import CategoricalProfile

# A long tail: 80 categories, the rarer ones past the 50 the profile keeps.
CATEGORIES = np.array([f"c{i}" for i in range(80)])
WEIGHTS = 1 / np.arange(1, 81) ** 1.2
WEIGHTS /= WEIGHTS.sum()


def draw(rng: np.random.Generator, n: int) -> list[str | None]:
    return list(rng.choice(CATEGORIES, n, p=WEIGHTS))


def test_reference_like_windows_stay_under_the_bar_of_both():
    rng = np.random.default_rng(7)
    profile = CategoricalProfile.from_values(draw(rng, 5_000))
    assert profile.shares[-1] > 0  # the tail is real: the expected rate is not 0
    detectors = [UnseenCategories(UnseenCategoriesConfig(), profile),
                 TypeChange(TypeChangeConfig(), profile)]  # fmt: skip
    fired = 0
    for _ in range(500):
        values = draw(rng, 1_000)
        for detector in detectors:
            detector.update(values)
            verdict = detector.verdict()
            fired += verdict.value > verdict.threshold
            detector.end_window()
    assert fired == 0


def test_a_new_category_and_a_type_change_fire_their_own_detector_only():
    rng = np.random.default_rng(8)
    profile = CategoricalProfile.from_values(draw(rng, 5_000))
    unseen = UnseenCategories(UnseenCategoriesConfig(), profile)
    changed = TypeChange(TypeChangeConfig(), profile)
    renamed = [f"new-{v}" if i % 10 == 0 else v for i, v in enumerate(draw(rng, 1_000))]
    as_codes = [str(i % 7) if i % 10 == 0 else v for i, v in enumerate(draw(rng, 1_000))]
    judged = {}
    for name, values in (("renamed", renamed), ("as_codes", as_codes)):
        for detector in (unseen, changed):
            detector.update(values)
            verdict = detector.verdict()
            judged[name, detector.name] = verdict.value > verdict.threshold
            detector.end_window()
    assert judged == {
        ("renamed", "unseen_categories"): True,
        ("renamed", "type_change"): False,
        ("as_codes", "unseen_categories"): True,
        ("as_codes", "type_change"): True,
    }
