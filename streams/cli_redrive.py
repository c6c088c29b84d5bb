"""``driftline redrive``: dead letters sent again to their original topic once their cause is
mended (``streams/adapters/kafka/redrive.py``). Exit 0 done, 1 Kafka or Redis failed (what
was sent before it stays sent and marked), 2 a usage error."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from streams.cli_parser import USAGE_ERROR, Commands
from streams.core.errors import DriftlineError, Reason
from streams.settings import Settings

__all__ = ["add_redrive"]

FAILED = 1


def add_redrive(commands: Commands) -> None:
    """``driftline redrive``."""
    command = commands.add_parser(
        "redrive",
        help="send dead letters again to the topic they came from, once their cause is "
        "mended (each at most once, whatever each run chooses)",
    )
    command.add_argument(
        "--labels", action="store_true",
        help="the labels' dead letters (DRIFTLINE_TOPIC_LABELS_DLQ), not the predictions'",
    )  # fmt: skip
    command.add_argument(
        "--reason", action="append", choices=sorted(r.value for r in Reason), metavar="REASON",
        help="only dead letters of this reason (repeatable): e.g. model_limit once the cap "
        "is raised, unknown_feature once the spec is stored",
    )  # fmt: skip
    command.add_argument(
        "--model", action="append", metavar="MODEL_ID",
        help="only dead letters of this model (repeatable)",
    )  # fmt: skip
    command.add_argument(
        "--all", action="store_true", help="every reason and model (needed without --reason "
        "or --model, so that nothing is sent again by a bare command)",
    )  # fmt: skip
    command.add_argument(
        "--dry-run", action="store_true", help="count what would be sent; send nothing"
    )
    command.set_defaults(run=_redrive)


def _redrive(args: argparse.Namespace) -> int:
    # Imported here: the Kafka clients are not needed by the other commands.
    from confluent_kafka import KafkaException
    from redis.exceptions import RedisError

    from streams.adapters.kafka.acl import redrive_group
    from streams.adapters.kafka.redrive import Selection, redrive
    from streams.adapters.redis.client import connect

    if not (args.all or args.reason or args.model):
        print("driftline redrive: say which dead letters: --reason, --model or --all "
              "(see driftline redrive --help)", file=sys.stderr)  # fmt: skip
        return USAGE_ERROR
    settings = Settings.from_env(os.environ)
    topic = settings.topic_labels_dlq if args.labels else settings.topic_dlq
    selection = Selection(
        reasons=frozenset(args.reason) if args.reason else None,
        models=frozenset(args.model) if args.model else None,
    )

    async def run() -> list[str]:
        client = connect(settings.redis_url, socket_timeout=5)
        try:
            report = await redrive(settings.kafka, redrive_group(settings), client,
                                   settings.redis_prefix, topic, selection,
                                   dry_run=args.dry_run)  # fmt: skip
        finally:
            await client.aclose()
        return report.lines(dry_run=args.dry_run)

    try:
        lines = asyncio.run(run())
    except (DriftlineError, KafkaException, RedisError) as exc:  # RedriveFailed, unavailable
        print(f"driftline redrive: {exc}", file=sys.stderr)
        return FAILED
    print(f"{topic}:")
    for line in lines:
        print(f"  {line}")
    return 0
