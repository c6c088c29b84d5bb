"""``driftline redis-acl`` and ``driftline kafka-acl``: the least a worker's Redis user and
Kafka principal need (``streams/adapters/redis/acl.py``, ``streams/adapters/kafka/acl.py``),
printed for an operator to apply, or (Kafka, ``--apply``) created on the brokers."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import TYPE_CHECKING

from streams.cli_parser import Commands
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.adapters.kafka.acl import Grant

__all__ = ["add_kafka_acl", "add_redis_acl"]


def add_redis_acl(commands: Commands) -> None:
    """``driftline redis-acl``."""
    acl = commands.add_parser(
        "redis-acl",
        help="print the Redis ACL user a worker needs: its prefix's keys, Driftline's commands",
    )
    acl.add_argument("--user", default="driftline", help="ACL user name")
    acl.add_argument("--prefix", help="key prefix (default: DRIFTLINE_REDIS_PREFIX)")
    _switch(acl, "--aclfile", "a line for an ACL file instead of ACL SETUSER")
    _switch(acl, "--password-stdin",
            "read the password from stdin (default: generate one, printed on stderr)")  # fmt: skip
    acl.set_defaults(run=_redis_acl)


def _switch(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    parser.add_argument(flag, action="store_true", help=help_text)


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
        "and group its DRIFTLINE_* settings name (or, with --role, a logging service's, an "
        "alert consumer's or driftline redrive's)",
    )
    acl.add_argument("--role", choices=tuple(_ROLES), default="worker",
                     help="whose ACLs: the worker's; a service's that logs predictions and "
                     "labels (streams.client); an AlertConsumer's; or an operator's running "
                     "driftline redrive")  # fmt: skip
    acl.add_argument("--principal", help="the principal, User:NAME (default for the worker: "
                     "User:driftline; the other roles must name theirs)")  # fmt: skip
    acl.add_argument("--group", help="the alert consumer's consumer group (--role alert-consumer)")
    _switch(acl, "--no-create", "leave out Create: the operator creates the worker's topics")
    _switch(acl, "--no-session-check",
            "leave out DescribeConfigs on the cluster: the worker then skips checking "
            "DRIFTLINE_SESSION_TIMEOUT_S against the brokers' bounds")  # fmt: skip
    _switch(acl, "--apply", "create them on the brokers, logged in as DRIFTLINE_KAFKA_* says")
    acl.set_defaults(run=_kafka_acl)


_ROLES = {"worker": "User:driftline", "logger": None, "alert-consumer": None, "redrive": None}


def _kafka_acl(args: argparse.Namespace) -> int:
    # Imported here: confluent-kafka's admin client is not needed by the other commands.
    from streams.adapters.kafka.acl import create_acls, kafka_acls_commands

    principal = args.principal or _ROLES[args.role]
    if principal is None:
        raise ValueError(f"kafka-acl --role {args.role} needs --principal User:NAME")
    settings = Settings.from_env(os.environ)
    grants = _grants(args, settings)
    if args.apply:
        created = create_acls(settings.kafka, principal, grants)
        print(f"created {created} ACLs for {principal}", file=sys.stderr)
        return 0
    for line in kafka_acls_commands(principal, grants):
        print(line)
    return 0


def _grants(args: argparse.Namespace, settings: Settings) -> list[Grant]:
    from streams.adapters.kafka.acl import (
        alert_consumer_grants,
        logger_grants,
        redrive_grants,
        worker_grants,
    )

    if args.role != "worker" and (args.no_create or args.no_session_check):
        raise ValueError("--no-create and --no-session-check are the worker's (--role worker)")
    if (args.group is not None) != (args.role == "alert-consumer"):
        raise ValueError("--group names the alert consumer's group: give it with "
                         "--role alert-consumer, and only then")  # fmt: skip
    if args.role == "logger":
        return logger_grants(settings)
    if args.role == "alert-consumer":
        return alert_consumer_grants(settings, args.group)
    if args.role == "redrive":
        return redrive_grants(settings)
    return worker_grants(
        settings, create=not args.no_create, check_session=not args.no_session_check
    )
