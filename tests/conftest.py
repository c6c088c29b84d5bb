"""Contract checks shared by every test (``tests/contracts.py``).

Two roads lead out of Driftline in the tests, and both are checked here, once, rather than test
by test:

- Kafka: every record a test reads back with ``kafka_records.read_from`` (the integration tests,
  the demo) from an alerts, retrain-requests or dead-letter topic is checked against its
  contract before the test sees it (``published_records_conform``, autouse).
- Replay: tests run ``driftline replay`` through the ``run_replay`` fixture, which checks every
  line written to stdout (alerts), ``--retrain`` and ``--dlq``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from streams.adapters import kafka_records
from tests.contracts import checked_read_from, checked_replay


@pytest.fixture(autouse=True)
def published_records_conform(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check every published record any test reads back (see the module docstring)."""
    original = kafka_records.read_from
    checked = checked_read_from(original)
    # Test modules and the demo bind ``read_from`` by name: replace it wherever it is bound.
    for name, module in list(sys.modules.items()):
        if name.startswith(("streams.", "tests.")) and vars(module).get("read_from") is original:
            monkeypatch.setattr(module, "read_from", checked)


@pytest.fixture
def run_replay() -> Callable:
    """``driftline replay`` with every line it writes checked (``contracts.checked_replay``)."""
    return checked_replay
