"""``driftline``: the one command line, wiring settings, adapters and the core together.

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from streams.core.errors import DriftlineError
from streams.settings import Settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.loglevel.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except (DriftlineError, ValueError) as exc:
        print(f"driftline: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftline", description="Streaming ML monitoring on Kafka."
    )
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning"])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    stack = commands.add_parser("stack", help="start, stop or show the local Kafka and Redis")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.set_defaults(run=_stack)

    worker = commands.add_parser("worker", help="run a Faust worker on the predictions topic")
    worker.add_argument(
        "--spec",
        type=Path,
        action="append",
        default=[],
        help="model spec JSON file or folder of them (repeatable); stored in Redis for all workers",
    )
    worker.add_argument("--web-port", type=int, help="port of /metrics and /health")
    worker.set_defaults(run=_worker)

    demo = commands.add_parser(
        "demo", help="start everything, publish good and bad events, show what happened"
    )
    demo.set_defaults(run=_demo)
    return parser


def _stack(args: argparse.Namespace) -> int:
    from streams import stack

    config = stack.StackConfig.from_env(os.environ)
    action = {"up": stack.up, "down": stack.down}.get(args.action)
    services = action(config, log=print) if action else stack.status(config)
    for service in services:
        print(service.describe())
    return 0 if args.action == "down" or all(s.running for s in services) else 1


def _worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker as FaustWorker

    from streams.adapters.faust_app import build_worker, load_stored_specs
    from streams.adapters.kafka_admin import ensure_worker_topics
    from streams.adapters.spec_files import load_spec_files

    settings = Settings.from_env(os.environ, web_port=args.web_port)
    spec_paths = [*args.spec, *([settings.specs_dir] if settings.specs_dir else [])]
    file_specs = load_spec_files(spec_paths)
    ensure_worker_topics(settings)
    worker = build_worker(settings, stored_specs=load_stored_specs(settings), file_specs=file_specs)
    FaustWorker(worker.app, loglevel=args.loglevel).execute_from_commandline()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(os.environ)


if __name__ == "__main__":
    sys.exit(main())
