"""``driftline``: the one command line, wiring settings, adapters and the core together.

This is the only module that reads ``os.environ`` (with the client library given no
settings): each command hands it to ``Settings.from_env``, its flags as overrides.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from streams.cli_acl import add_kafka_acl, add_redis_acl
from streams.cli_canary import add_canary
from streams.cli_parser import USAGE_ERROR, CliParser, input_file, output_file
from streams.cli_parser import Commands as _Commands
from streams.cli_parser import field_default as _field_default
from streams.cli_parser import from_setting as _from_setting
from streams.cli_partitions import add_partitions
from streams.cli_redrive import add_redrive
from streams.cli_replay import add_replay
from streams.cli_report import add_report
from streams.cli_settings import pii_policy as _pii_policy
from streams.cli_settings import spec_paths as _spec_paths
from streams.core.contract.pii import require_key_for
from streams.core.errors import DriftlineError
from streams.env_reader import variable
from streams.garbage_collection import collecting_for_batches
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.core.drift.profile import ReferenceProfile

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
        return USAGE_ERROR
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        # A path the argument checks could not foresee (a --spec folder's file, a race).
        print(f"driftline: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130  # the shell's code for SIGINT, without a traceback
    except BrokenPipeError:
        # `driftline replay ... | head`: the reader has what it wanted. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # the shell's code for SIGPIPE, as `cat` killed by it gives


def _parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="driftline", description="Streaming ML monitoring on Kafka.")
    parser.add_argument(
        "--loglevel", default="info", choices=["debug", "info", "warning"],
        help="the least severe log lines shown",
    )  # fmt: skip
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_stack(commands)
    _add_worker(commands)
    add_replay(commands)
    _add_profile(commands)
    _add_simulate(commands)
    add_redis_acl(commands)
    add_kafka_acl(commands)
    _add_demo(commands)
    add_report(commands)
    add_canary(commands)
    add_partitions(commands)
    add_redrive(commands)
    return parser


def _add_stack(commands: _Commands) -> None:
    """``driftline stack``."""
    from streams.stack.config import StackConfig

    stack = commands.add_parser("stack", help="start, stop or show the local Kafka and Redis")
    stack.add_argument("action", choices=["up", "down", "status"], help="what to do")
    stack.add_argument(
        "--secure", action="store_true",
        help="add a SASL_SSL listener (SCRAM-SHA-512) on DRIFTLINE_KAFKA_SECURE_PORT "
        f"({_field_default(StackConfig, 'kafka_secure_port')})",
    )  # fmt: skip
    stack.add_argument(
        "--brokers", type=int, choices=(1, 3, 5), default=None,
        help="KRaft nodes to run (default DRIFTLINE_KAFKA_BROKERS, else "
        f"{_field_default(StackConfig, 'kafka_brokers')}); nodes 2 and up listen on "
        f"DRIFTLINE_KAFKA_NODE_PORTS ({_field_default(StackConfig, 'kafka_node_ports')}) and up",
    )  # fmt: skip
    stack.set_defaults(run=_stack)


def _add_worker(commands: _Commands) -> None:
    """``driftline worker``."""
    worker = commands.add_parser("worker", help="run a Faust worker on the predictions topic")
    worker.add_argument(
        "--spec",
        type=Path,
        action="append",
        default=[],
        help="model spec JSON file or folder of them (repeatable); stored in Redis for all "
        "workers (default: none, and DRIFTLINE_SPECS_DIR if set)",
    )
    worker.add_argument(
        "--web-port", type=int, help=f"port of /metrics and /health ({_from_setting('web_port')})"
    )
    worker.set_defaults(run=_worker)


def _add_profile(commands: _Commands) -> None:
    """``driftline profile``."""
    profile = commands.add_parser(
        "profile", help="build a model version's reference profile from training data"
    )
    profile.add_argument("training", type=input_file, help="CSV with a header, or JSON lines")
    profile.add_argument("--model-id", required=True, help="the model the profile is of")
    profile.add_argument("--model-version", default="v1", help="the model version")
    profile.add_argument(
        "--spec", type=input_file, help="model spec giving the feature types (default: inferred)"
    )
    profile.add_argument(
        "--out", type=output_file, help="write the profile here (JSON; default: stdout)"
    )
    profile.add_argument(
        "--labels", type=input_file,
        help="labelled validation set (CSV or JSON lines with prediction, label, score): its "
        "metrics become the performance reference",
    )  # fmt: skip
    profile.add_argument(
        "--store", action="store_true", help="register it in Redis for the workers"
    )
    profile.set_defaults(run=_profile)


def _add_simulate(commands: _Commands) -> None:
    """``driftline simulate``."""
    from streams.simulation import StreamConfig

    simulate = commands.add_parser(
        "simulate", help="write a synthetic prediction stream with injected drift"
    )
    target = simulate.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=output_file, help="JSONL file to write")
    target.add_argument(
        "--kafka", action="store_true", help="publish to the predictions topic instead"
    )
    simulate.add_argument("--events", type=int, default=20_000, help="how many events")
    # None: the stream's own default (StreamConfig).
    simulate.add_argument(
        "--model-id",
        help=f"the events' model (default: {_field_default(StreamConfig, 'model_id')})",
    )
    simulate.add_argument(
        "--seed", type=int,
        help="the same seed gives the same events "
        f"(default: {_field_default(StreamConfig, 'seed')})",
    )  # fmt: skip
    simulate.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="kind=K,feature=F,start=N,magnitude=M[,duration=N][,end=N]",
        help="a drift to inject (repeatable); kinds: abrupt, gradual, variance, categorical, "
        "missing_rate, anomaly_burst, none",
    )
    simulate.set_defaults(run=_simulate)


def _add_demo(commands: _Commands) -> None:
    """``driftline demo``."""
    demo = commands.add_parser(
        "demo", help="start everything, publish good and bad events, show what happened"
    )
    demo.set_defaults(run=_demo)


def _stack(args: argparse.Namespace) -> int:
    from streams import stack

    config = stack.StackConfig.from_env(os.environ, secure=args.secure)
    if args.brokers is not None:
        config = dataclasses.replace(config, kafka_brokers=args.brokers)
    action = {"up": stack.up, "down": stack.down}.get(args.action)
    services = action(config, log=print) if action else stack.status(config)
    for service in services:
        print(service.describe())
    if config.secure and args.action == "up":
        for name, value in stack.secure_client_env(config).items():
            print(f"export {name}={value}")
    return 0 if args.action == "down" or all(s.running for s in services) else 1


def _say(line: str) -> None:
    """One line of ours on stderr, apart from the log's timestamps and levels."""
    print(f"driftline: {line}", file=sys.stderr, flush=True)


def _worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker as FaustWorker

    from streams.adapters.faust.app import build_worker, load_stored_specs
    from streams.adapters.files.spec_files import load_spec_files
    from streams.adapters.kafka.admin import check_session_timeout, ensure_worker_topics
    from streams.adapters.kafka.broker_wait import wait_for_broker

    settings = Settings.from_env(os.environ, web_port=args.web_port)
    pii = _pii_policy(settings)
    file_specs = load_spec_files(_spec_paths(args.spec, settings))
    wait_for_broker(settings.kafka.bootstrap, say=_say)  # after the files: their errors first
    stored_specs = load_stored_specs(settings)
    require_key_for([*file_specs, *stored_specs], pii)
    check_session_timeout(settings)
    limits = ensure_worker_topics(settings)
    worker = build_worker(settings, stored_specs=stored_specs, file_specs=file_specs, pii=pii,
                          dead_letter_limits=limits)  # fmt: skip
    with collecting_for_batches():
        try:
            FaustWorker(worker.app, loglevel=args.loglevel).execute_from_commandline()
        except SystemExit:
            if worker.app.refused is not None:  # it stopped itself: say why, in one line
                raise worker.app.refused from None
            raise
    return 0


def _profile(args: argparse.Namespace) -> int:
    from streams.adapters.files.spec_files import load_spec_files
    from streams.adapters.files.training_data import profile_from_file
    from streams.adapters.files.validation_labels import PROFILE_KEY, reference_from_file
    from streams.adapters.redis.state_store import register_profile

    spec = load_spec_files([args.spec])[0] if args.spec else None
    settings = Settings.from_env(os.environ)
    pii = _pii_policy(settings)
    require_key_for([spec] if spec else [], pii)
    profile = profile_from_file(
        args.training, model_id=args.model_id, model_version=args.model_version, spec=spec,
        pii=pii,
    )  # fmt: skip
    _warn_if_small(profile, args.training, settings.window_events)
    built = profile.to_dict()
    if args.labels:
        built[PROFILE_KEY] = reference_from_file(
            args.labels, model_id=args.model_id, model_version=args.model_version, spec=spec
        ).to_dict()
    if args.out:
        args.out.write_bytes(orjson.dumps(built, option=orjson.OPT_INDENT_2))
        print(f"wrote the profile of {args.model_id} {args.model_version} to {args.out}")
    if args.store:
        register_profile(settings.redis_url, settings.redis_prefix, built)
        print(f"registered it in Redis at {settings.redis_url}")
    if not (args.out or args.store):
        sys.stdout.buffer.write(orjson.dumps(built) + b"\n")
    return 0


def _warn_if_small(profile: ReferenceProfile, path: Path, window_events: int) -> None:
    """A profile of fewer rows than a window is allowed (a first try), but said to be noise."""
    counts = [part.count for part in profile.numeric.values()]
    rows = max([*counts, *(part.count for part in profile.categorical.values())], default=0)
    if rows < window_events:
        print(
            f"driftline: warning: {path} has {rows} rows, fewer than one window of "
            f"{window_events} events ({variable('window_events')}): a profile this small "
            "is noise, and windows judged against it will drift by chance",
            file=sys.stderr,
        )


def _simulate(args: argparse.Namespace) -> int:
    from streams.simulation import (
        Scenario,
        StreamConfig,
        encode_events,
        generate_events,
        write_jsonl,
    )

    given = {name: getattr(args, name) for name in ("model_id", "seed")}
    config = StreamConfig(
        **{name: value for name, value in given.items() if value is not None},
        scenarios=tuple(Scenario.from_text(text) for text in args.scenario),
    )
    if args.out:
        write_jsonl(args.out, config, args.events)
        print(f"wrote {args.events} events to {args.out}", file=sys.stderr)
        return 0
    from streams.adapters.kafka.admin import ensure_worker_topics
    from streams.adapters.kafka.records import publish

    settings = Settings.from_env(os.environ)
    ensure_worker_topics(settings)  # the worker may not have run yet
    key = config.model_id.encode()
    for chunk in generate_events(config, args.events):
        records = [(key, value) for value in encode_events(config, chunk)]
        publish(settings.kafka, settings.topic_predictions, records)
    print(f"published {args.events} events to {settings.topic_predictions}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    if args.loglevel != "debug":
        # The demo tells its own story on stdout; INFO lines (topics created) interleave it.
        logging.getLogger().setLevel(logging.WARNING)
    return run_demo(os.environ)


if __name__ == "__main__":
    sys.exit(main())
