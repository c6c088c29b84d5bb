"""A PII spec that arrives by refresh while no key is set: its PII is dropped, one warning."""

from __future__ import annotations

import asyncio
import logging

from streams.adapters.faust.spec_sync import sync_specs
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from tests import pii_stream


class _Stored:
    """Only what ``sync_specs`` calls of a spec store: the specs an operator stored."""

    def __init__(self, specs: list[ModelSpec]) -> None:
        self.specs = specs

    async def load(self) -> list[ModelSpec]:
        return self.specs


def test_a_late_pii_spec_without_a_key_is_registered_with_one_warning(caplog):
    spec = ModelSpec.from_dict(pii_stream.SPEC)
    registry, policy = SpecRegistry(), PiiPolicy()
    with caplog.at_level(logging.WARNING):
        for changed in (spec, ModelSpec.from_dict({**pii_stream.SPEC, "task": "regression"})):
            asyncio.run(sync_specs(_Stored([changed]), registry, policy))
    assert registry.spec_for(spec.model_id, "v1") is not None
    warnings = [r for r in caplog.records if "PII values are dropped" in r.getMessage()]
    assert len(warnings) == 1
    assert not policy.hashes  # so monitors built from it drop PII
