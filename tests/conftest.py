"""Contract checks shared by every test (``tests/contracts.py``).

Two roads lead out of Driftline in the tests, and both are checked here, once, rather than test
by test:

- Kafka: every record a test reads back with ``kafka_records.read_from`` (the integration tests,
  the demo) from an alerts, retrain-requests or dead-letter topic is checked against its
  contract before the test sees it (``published_records_conform``, autouse).
- Replay: tests run ``driftline replay`` through the ``run_replay`` fixture, which checks every
  line written to stdout (alerts), ``--retrain`` and ``--dlq``.

And once the session ends, any worker process a failed test left running is killed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

from streams import stack
from streams.adapters.kafka import records as kafka_records
from streams.stack.worker import kill_leftovers
from tests.contracts import checked_read_from, checked_replay
from tests.integration.conftest import session_stack


@pytest.fixture(scope="session")
def stack_config() -> Iterator[stack.StackConfig]:
    """The real Kafka and Redis (``tests/integration/conftest.py``), here so that the tests
    of every folder share one: each instance of a session fixture set up apart (imported
    into a test module) deleted every run's topics at its end, under the shared worker."""
    yield from session_stack()


@pytest.fixture(scope="session", autouse=True)
def no_worker_outlives_the_tests() -> Iterator[None]:
    """Workers run in sessions of their own: one a failed test never stopped would go on
    consuming (and taking CPU from the next runs) after pytest exits."""
    yield
    left = kill_leftovers()
    if left:
        print(f"\nkilled {len(left)} worker(s) no test stopped: pids {left}", file=sys.stderr)


@pytest.fixture(scope="session", autouse=True)
def published_records_conform() -> Iterator[None]:
    """Check every published record any test reads back (see the module docstring).

    Session-scoped, so that it is in place before module fixtures read topics too.
    """
    original = kafka_records.read_from
    checked = checked_read_from(original)
    with pytest.MonkeyPatch.context() as patch:
        # Modules imported from now on get the checked one from kafka_records; those already
        # imported (the test modules, collected before this runs) bound ``read_from`` by name.
        patch.setattr(kafka_records, "read_from", checked)
        for name, module in list(sys.modules.items()):
            if (
                name.startswith(("streams.", "tests."))
                and vars(module).get("read_from") is original
            ):
                patch.setattr(module, "read_from", checked)
        yield


@pytest.fixture
def run_replay() -> Callable:
    """``driftline replay`` with every line it writes checked (``contracts.checked_replay``)."""
    return checked_replay
