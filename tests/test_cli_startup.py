"""``driftline``'s start-up: building the command line imports no Kafka, Redis or Faust client.

Each costs ~0.1 s or more to import, and every command (``replay``, ``--help``) paid for
them while the stack's help read its defaults; the commands that talk to a server import
them when they run.
"""

from __future__ import annotations

import subprocess
import sys

CLIENTS = ("redis", "confluent_kafka", "faust", "aiokafka")


def test_the_command_line_is_built_without_the_clients():
    probe = (
        "import sys, streams.cli; streams.cli._parser(); "
        f"print(sorted(m for m in {CLIENTS!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
