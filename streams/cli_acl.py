"""``driftline redis-acl`` and ``driftline kafka-acl``: the least a worker's Redis user and
Kafka principal need (``streams/adapters/redis/acl.py``, ``streams/adapters/kafka/acl.py``),
printed for an operator to apply, or (Kafka, ``--apply``) created on the brokers."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from streams.cli_parser import Commands
from streams.settings import Settings

__all__ = ["add_kafka_acl", "add_redis_acl"]


def add_redis_acl(commands: Commands) -> None:
    """``driftline redis-acl``."""
    acl = commands.add_parser(
        "redis-acl",
        help="print the Redis ACL user a worker needs: its prefix's keys, Driftline's commands",
    )
    acl.add_argument("--user", default="driftline", help="ACL user name")
    acl.add_argument("--prefix", help="key prefix (default: DRIFTLINE_REDIS_PREFIX)")
    acl.add_argument(
        "--aclfile", action="store_true", help="a line for an ACL file instead of ACL SETUSER"
    )
    acl.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from stdin (default: generate one, printed on stderr)",
    )  # fmt: skip
    acl.set_defaults(run=_redis_acl)


def _redis_acl(args: argparse.Namespace) -> int:
    from streams.adapters.redis.acl import aclfile_line, setuser_command

    prefix = args.prefix or Settings.from_env(os.environ).redis_prefix
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise ValueError("--password-stdin: no password on stdin")
    else:
        password = secrets.token_urlsafe(24)
        # stderr: stdout stays the rule alone, fit for a file or a pipe into redis-cli.
        print(f"password of {args.user}: {password}", file=sys.stderr)
    if args.aclfile:
        print(aclfile_line(args.user, password, prefix))
    else:
        print(" ".join(setuser_command(args.user, password, prefix)))
    return 0


def add_kafka_acl(commands: Commands) -> None:
    """``driftline kafka-acl``."""
    acl = commands.add_parser(
        "kafka-acl",
        help="print (or --apply) the Kafka ACLs a worker's principal needs, for the topics "
        "and group its DRIFTLINE_* settings name",
    )
    acl.add_argument("--principal", default="User:driftline", help="the worker's principal")
    acl.add_argument(
        "--no-create", action="store_true",
        help="leave out Create: the operator creates the worker's topics",
    )  # fmt: skip
    acl.add_argument(
        "--no-session-check",
        action="store_true",
        help="leave out DescribeConfigs on the cluster: the worker then skips checking "
        "DRIFTLINE_SESSION_TIMEOUT_S against the brokers' bounds",
    )
    acl.add_argument(
        "--apply", action="store_true",
        help="create the ACLs on the brokers, logged in with DRIFTLINE_KAFKA_* (an admin's)",
    )  # fmt: skip
    acl.set_defaults(run=_kafka_acl)


def _kafka_acl(args: argparse.Namespace) -> int:
    # Imported here: confluent-kafka's admin client is not needed by the other commands.
    from streams.adapters.kafka.acl import create_acls, kafka_acls_commands, worker_grants

    settings = Settings.from_env(os.environ)
    grants = worker_grants(
        settings, create=not args.no_create, check_session=not args.no_session_check
    )
    if args.apply:
        created = create_acls(settings.kafka, args.principal, grants)
        print(f"created {created} ACLs for {args.principal}", file=sys.stderr)
        return 0
    for line in kafka_acls_commands(args.principal, grants):
        print(line)
    return 0
