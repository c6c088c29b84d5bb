"""``driftline``: the one command line, wiring settings, adapters and the core together.

This is the only module that reads ``os.environ`` (with the client library given no
settings): each command hands it to ``Settings.from_env``, its flags as overrides.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeAlias

import orjson

from streams.core.contract.pii import PiiPolicy, require_key_for
from streams.core.errors import DriftlineError
from streams.env_reader import variable
from streams.settings import Settings

__all__ = ["main"]

# What ``add_subparsers`` returns; each ``_add_<command>`` adds its command to it.
_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


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
    _add_stack(commands)
    _add_worker(commands)
    _add_replay(commands)
    _add_profile(commands)
    _add_simulate(commands)
    _add_redis_acl(commands)
    _add_demo(commands)
    return parser


def _add_stack(commands: _Commands) -> None:
    """``driftline stack``."""
    from streams.stack.config import StackConfig

    stack = commands.add_parser("stack", help="start, stop or show the local Kafka and Redis")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument(
        "--secure", action="store_true",
        help="add a SASL_SSL listener (SCRAM-SHA-512) on DRIFTLINE_KAFKA_SECURE_PORT "
        f"({_field_default(StackConfig, 'kafka_secure_port')})",
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
        help="model spec JSON file or folder of them (repeatable); stored in Redis for all workers",
    )
    worker.add_argument("--web-port", type=int, help="port of /metrics and /health")
    worker.set_defaults(run=_worker)


def _add_replay(commands: _Commands) -> None:
    """``driftline replay``."""
    replay = commands.add_parser(
        "replay", help="run a JSONL file of events through the detectors, no servers needed"
    )
    replay.add_argument("events", type=Path, help="one prediction event per line")
    replay.add_argument("--spec", type=Path, action="append", default=[], help="model spec(s)")
    replay.add_argument("--dlq", type=Path, help="write rejected lines here (JSON lines)")
    # Flags default to None: the setting (DRIFTLINE_*, else its default) holds unless given.
    replay.add_argument(
        "--window", type=int, dest="window_events",
        help=f"events per window ({_from_setting('window_events')})",
    )  # fmt: skip
    replay.add_argument(
        "--reference-events", type=int,
        help=f"events that form the reference ({_from_setting('reference_events')})",
    )  # fmt: skip
    replay.add_argument(
        "--warmup-events", type=int,
        help=f"events to infer an unknown model's spec ({_from_setting('warmup_events')})",
    )  # fmt: skip
    replay.add_argument(
        "--unknown-models", choices=["auto", "reject"],
        help=_from_setting("unknown_models"),
    )  # fmt: skip
    replay.add_argument(
        "--profile", type=Path, action="append", default=[],
        help="reference profile from `driftline profile` (repeatable); others are learned",
    )  # fmt: skip
    replay.add_argument(
        "--labels", type=Path,
        help="label events (JSONL), joined after the predictions: performance, concept drift, "
        "fairness alerts",
    )  # fmt: skip
    replay.add_argument("--retrain", type=Path, help="write retraining requests here (JSONL)")
    replay.add_argument(
        "--label-ttl-s", type=int,
        help="a label later than this after its prediction counts as expired "
        f"({_from_setting('label_ttl_s')})",
    )  # fmt: skip
    replay.set_defaults(run=_replay)


def _add_profile(commands: _Commands) -> None:
    """``driftline profile``."""
    profile = commands.add_parser(
        "profile", help="build a model version's reference profile from training data"
    )
    profile.add_argument("training", type=Path, help="CSV with a header, or JSON lines")
    profile.add_argument("--model-id", required=True)
    profile.add_argument("--model-version", default="v1")
    profile.add_argument("--spec", type=Path, help="model spec giving the feature types")
    profile.add_argument("--out", type=Path, help="write the profile here (JSON)")
    profile.add_argument(
        "--labels", type=Path,
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
    target.add_argument("--out", type=Path, help="JSONL file to write")
    target.add_argument(
        "--kafka", action="store_true", help="publish to the predictions topic instead"
    )
    simulate.add_argument("--events", type=int, default=20_000)
    # None: the stream's own default (StreamConfig).
    simulate.add_argument("--model-id", help=f"default: {_field_default(StreamConfig, 'model_id')}")
    simulate.add_argument(
        "--seed", type=int, help=f"default: {_field_default(StreamConfig, 'seed')}"
    )
    simulate.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="kind=K,feature=F,start=N,magnitude=M[,duration=N][,end=N]",
        help="a drift to inject (repeatable); kinds: abrupt, gradual, variance, categorical, "
        "missing_rate, anomaly_burst, none",
    )
    simulate.set_defaults(run=_simulate)


def _add_redis_acl(commands: _Commands) -> None:
    """``driftline redis-acl``."""
    acl = commands.add_parser(
        "redis-acl",
        help="print the Redis ACL user a worker needs: its prefix's keys, Driftline's commands",
    )
    acl.add_argument("--user", default="driftline", help="ACL user name (default: driftline)")
    acl.add_argument("--prefix", help="key prefix (default: DRIFTLINE_REDIS_PREFIX)")
    acl.add_argument(
        "--aclfile", action="store_true", help="a line for an ACL file instead of ACL SETUSER"
    )
    acl.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from stdin (default: generate one, printed on stderr)",
    )  # fmt: skip
    acl.set_defaults(run=_redis_acl)


def _add_demo(commands: _Commands) -> None:
    """``driftline demo``."""
    demo = commands.add_parser(
        "demo", help="start everything, publish good and bad events, show what happened"
    )
    demo.set_defaults(run=_demo)


def _from_setting(name: str) -> str:
    """``default: DRIFTLINE_<NAME>, else <its default>``, for the help of a flag that
    overrides a setting."""
    return f"default: {variable(name)}, else {_field_default(Settings, name)}"


def _field_default(cls: type, name: str) -> object:
    """The default of dataclass field ``name``, shown in help, written only in ``cls``."""
    (spec,) = [spec for spec in fields(cls) if spec.name == name]
    return spec.default


def _stack(args: argparse.Namespace) -> int:
    from streams import stack

    config = stack.StackConfig.from_env(os.environ, secure=args.secure)
    action = {"up": stack.up, "down": stack.down}.get(args.action)
    services = action(config, log=print) if action else stack.status(config)
    for service in services:
        print(service.describe())
    if config.secure and args.action == "up":
        for name, value in stack.secure_client_env(config).items():
            print(f"export {name}={value}")
    return 0 if args.action == "down" or all(s.running for s in services) else 1


def _redis_acl(args: argparse.Namespace) -> int:
    import secrets

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


def _worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker as FaustWorker

    from streams.adapters.faust.app import build_worker, load_stored_specs
    from streams.adapters.files.spec_files import load_spec_files
    from streams.adapters.kafka.admin import ensure_worker_topics

    settings = Settings.from_env(os.environ, web_port=args.web_port)
    pii = _pii_policy(settings)
    file_specs = load_spec_files(_spec_paths(args.spec, settings))
    stored_specs = load_stored_specs(settings)
    require_key_for([*file_specs, *stored_specs], pii)
    limits = ensure_worker_topics(settings)
    worker = build_worker(settings, stored_specs=stored_specs, file_specs=file_specs, pii=pii,
                          dead_letter_limits=limits)  # fmt: skip
    FaustWorker(worker.app, loglevel=args.loglevel).execute_from_commandline()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from streams.adapters.files.jsonl_sink import JsonlAlertSink
    from streams.adapters.files.replay import LabelReplay, replay
    from streams.adapters.files.spec_files import load_spec_files
    from streams.adapters.files.validation_labels import references_of_profiles
    from streams.core import Ingestor
    from streams.core.drift.monitor import Monitor
    from streams.core.drift.profile import ReferenceProfile

    # The worker's settings, so DRIFTLINE_* configure a replay as they configure a worker.
    flags = ("window_events", "reference_events", "warmup_events", "unknown_models",
             "label_ttl_s")  # fmt: skip
    settings = Settings.from_env(os.environ, **{name: getattr(args, name) for name in flags})
    pii = _pii_policy(settings)
    specs = load_spec_files(_spec_paths(args.spec, settings))
    require_key_for(specs, pii)
    registry = settings.spec_registry(specs)
    raw_profiles = [orjson.loads(p.read_bytes()) for p in args.profile]
    profiles = [ReferenceProfile.from_dict(raw) for raw in raw_profiles]
    with contextlib.ExitStack() as files:
        events = files.enter_context(args.events.open("rb"))
        dlq = files.enter_context(args.dlq.open("wb")) if args.dlq else None
        labels = None
        if args.labels:
            labels = LabelReplay(
                files.enter_context(args.labels.open("rb")),
                str(args.labels),
                config=settings.performance_config(),
                ttl_ms=settings.label_ttl_s * 1000,
                references=references_of_profiles(raw_profiles),
            )
        retrain_out = (
            files.enter_context(args.retrain.open("wb")) if args.labels and args.retrain else None
        )
        summary = replay(
            events,
            source=str(args.events),
            ingestor=Ingestor(settings.event_decoder(), registry),
            monitor=Monitor(
                registry,
                settings.monitor_config(),
                profiles={(p.model_id, p.model_version): p for p in profiles},
                pii=pii,
            ),
            sink=JsonlAlertSink(sys.stdout.buffer, retrain_out),
            dead_letters_out=dlq,
            batch_size=settings.batch_size,
            labels=labels,
        )
    print(summary.describe(), file=sys.stderr)
    return 0


def _spec_paths(flags: list[Path], settings: Settings) -> list[Path]:
    """The ``--spec`` files and folders, then ``DRIFTLINE_SPECS_DIR`` if set."""
    return [*flags, *([settings.specs_dir] if settings.specs_dir else [])]


def _profile(args: argparse.Namespace) -> int:
    from streams.adapters.files.spec_files import load_spec_files
    from streams.adapters.files.training_data import profile_from_file
    from streams.adapters.files.validation_labels import PROFILE_KEY, reference_from_file
    from streams.adapters.redis.state_store import register_profile

    spec = load_spec_files([args.spec])[0] if args.spec else None
    settings = Settings.from_env(os.environ)
    pii = _pii_policy(settings)
    require_key_for([spec] if spec else [], pii)
    built = profile_from_file(
        args.training, model_id=args.model_id, model_version=args.model_version, spec=spec,
        pii=pii,
    ).to_dict()  # fmt: skip
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


def _pii_policy(settings: Settings) -> PiiPolicy:
    """The PII policy, holding the key (``DRIFTLINE_PII_KEY`` or ``_FILE``)."""
    key = settings.pii_key.encode() if settings.pii_key else None
    return PiiPolicy(key=key, mode="drop" if settings.pii == "drop" else "hash")


def _simulate(args: argparse.Namespace) -> int:
    from streams.simulation import StreamConfig, encode_events, generate_events, write_jsonl

    given = {name: getattr(args, name) for name in ("model_id", "seed")}
    config = StreamConfig(
        **{name: value for name, value in given.items() if value is not None},
        scenarios=tuple(_scenario(text) for text in args.scenario),
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


def _scenario(text: str):
    from streams.simulation import Scenario

    fields: dict[str, Any] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name in ("start", "duration", "end"):
            fields[name] = int(value)
        elif name == "magnitude":
            fields[name] = float(value)
        else:
            fields[name] = value
    return Scenario(**fields)


def _demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(os.environ)


if __name__ == "__main__":
    sys.exit(main())
