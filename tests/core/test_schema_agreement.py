"""The hand-written decoder and ``schemas/prediction_event.json`` accept the same examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core import EventDecoder, Ingestor, SpecRegistry
from tests.core.conftest import record

EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples" / "prediction_event"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))


def ingest(path: Path):
    # Auto-registration checks feature names as the schema's propertyNames do.
    ingestor = Ingestor(EventDecoder(), SpecRegistry(unknown_models="auto", warmup_events=10))
    return ingestor.ingest([record(path.read_bytes())])


def test_there_are_examples_of_both_kinds():
    assert len(VALID) >= 4
    assert len(INVALID) >= 12


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_schema_valid_examples_are_accepted(path):
    result = ingest(path)
    assert result.rejected == []
    assert len(result.accepted) == 1


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_schema_invalid_examples_are_rejected(path):
    result = ingest(path)
    assert result.accepted == []
    assert len(result.rejected) == 1
