"""Rollouts: a new version's inherited reference, canary verdicts and shadow traffic.

``reference`` picks the reference a new version inherits from the model's previous one;
``tally`` counts one version's traffic in bounded histograms; ``checks`` compares two
tallies (scores, positive rate, latency, rejections, accuracy); ``canary`` pairs a model's
versions on the same time windows and judges them; ``shadow`` joins two versions' events of
one request; ``rollouts`` holds all of it for every model.
"""

from __future__ import annotations

from streams.core.rollout.canary import CanaryConfig, ModelRollout
from streams.core.rollout.rollouts import Rollouts

__all__ = ["CanaryConfig", "ModelRollout", "Rollouts"]
