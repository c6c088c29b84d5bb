"""``driftline partitions COUNT``: add partitions to the topics the workers consume, only
once no worker runs and every record is consumed (``streams/adapters/kafka/partitions.py``
says why). Exit 0 done (or nothing to do), 1 not safe now (the reason says what to do), 2 a
count below today's."""

from __future__ import annotations

import argparse
import os
import sys

from streams.cli_parser import USAGE_ERROR, Commands
from streams.settings import Settings

__all__ = ["add_partitions"]

NOT_NOW = 1


def add_partitions(commands: Commands) -> None:
    """``driftline partitions``."""
    command = commands.add_parser(
        "partitions",
        help="add partitions to the predictions and labels topics and their by-model copies, "
        "once no worker runs and every record is consumed",
    )
    command.add_argument("count", type=_positive, help="the partitions each topic should have")
    command.add_argument(
        "--dry-run", action="store_true", help="check and say what would change; change nothing"
    )
    command.set_defaults(run=_partitions)


def _partitions(args: argparse.Namespace) -> int:
    # Imported here: confluent-kafka's admin client is not needed by the other commands.
    from streams.adapters.kafka.partitions import FewerPartitions, PartitionsRefused, grow

    settings = Settings.from_env(os.environ)
    try:
        plan = grow(settings, args.count, apply=not args.dry_run)
    except PartitionsRefused as exc:
        print(f"driftline partitions: {exc}", file=sys.stderr)
        return USAGE_ERROR if isinstance(exc, FewerPartitions) else NOT_NOW
    if not plan:
        print(f"every topic has {args.count} partitions already: nothing to do")
        return 0
    verb = "would go" if args.dry_run else "went"
    for topic, (before, after) in plan.items():
        print(f"{topic}: {before} -> {after} partitions ({verb})")
    if not args.dry_run:
        print(f"Start the workers with DRIFTLINE_PARTITIONS={args.count}, and set the "
              "autoscaler's maximum to it (k8s/README.md).")  # fmt: skip
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: a count of partitions is at least 1")
    return value
