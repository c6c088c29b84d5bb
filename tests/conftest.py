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

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.adapters import kafka_records
from tests.contracts import check_jsonl, check_published

# Replay's output files, by option, and the schema of their lines.
_REPLAY_FILES = {"--retrain": "retrain_request", "--dlq": "replay_dead_letter"}


def _checked_read_from(original: Callable) -> Callable:
    def read_from(bootstrap: str, topic: str, start: dict[int, int], **kwargs):
        records = original(bootstrap, topic, start, **kwargs)
        for record in records:
            check_published(topic, record)
        return records

    return read_from


@pytest.fixture(autouse=True)
def published_records_conform(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check every published record any test reads back (see the module docstring)."""
    original = kafka_records.read_from
    checked = _checked_read_from(original)
    # Test modules and the demo bind ``read_from`` by name: replace it wherever it is bound.
    for name, module in list(sys.modules.items()):
        if name.startswith(("streams.", "tests.")) and vars(module).get("read_from") is original:
            monkeypatch.setattr(module, "read_from", checked)


@pytest.fixture
def run_replay() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``driftline replay`` in a subprocess and check every line it wrote.

    Alerts on stdout against ``schemas/alert.json``; ``--retrain`` and ``--dlq`` files against
    ``schemas/retrain_request.json`` and ``schemas/replay_dead_letter.json``.
    """

    def run(events: Path, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "replay", str(events), *map(str, args)],
            capture_output=True,
            check=True,
        )
        check_jsonl("alert", done.stdout, where="replay stdout")
        for option, schema in _REPLAY_FILES.items():
            if option in args:
                path = Path(args[args.index(option) + 1])
                check_jsonl(schema, path.read_bytes(), where=str(path))
        return done

    return run
