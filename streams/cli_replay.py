"""``driftline replay``: a JSONL file of events (and labels) through the core, no servers.

It starts from the worker's settings (``DRIFTLINE_*``), its flags on top, so a worker and a
replay of the same events judge alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from streams.cli_parser import (
    Commands,
    add_judging_options,
    from_setting,
    input_file,
    output_file,
)
from streams.cli_settings import pii_policy, spec_paths
from streams.core.contract.pii import require_key_for
from streams.garbage_collection import collecting_for_batches
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.core.alerts.sink import AlertSink
    from streams.core.drift.profile import ReferenceProfile

__all__ = ["add_replay", "run_replay"]


def add_replay(commands: Commands) -> None:
    """``driftline replay``."""
    replay = commands.add_parser(
        "replay", help="run a JSONL file of events through the detectors, no servers needed"
    )
    replay.add_argument("events", type=input_file, help="one prediction event per line")
    add_judging_options(replay)
    replay.add_argument("--dlq", type=output_file, help="write rejected lines here (JSON lines)")
    # Flags default to None: the setting (DRIFTLINE_*, else its default) holds unless given.
    replay.add_argument(
        "--warmup-events", type=int,
        help=f"events to infer an unknown model's spec ({from_setting('warmup_events')})",
    )  # fmt: skip
    replay.add_argument(
        "--unknown-models", choices=["auto", "reject"],
        help="events of a model without a spec: infer its spec from them, or reject them "
        f"({from_setting('unknown_models')})",
    )  # fmt: skip
    replay.add_argument(
        "--labels", type=input_file,
        help="label events (JSONL), joined after the predictions: performance, concept drift, "
        "fairness alerts",
    )  # fmt: skip
    replay.add_argument(
        "--retrain", type=output_file, help="write retraining requests here (JSONL)"
    )
    replay.add_argument(
        "--label-ttl-s", type=int,
        help="a label later than this after its prediction counts as expired "
        f"({from_setting('label_ttl_s')})",
    )  # fmt: skip
    replay.add_argument(
        "--format", choices=["auto", "table", "jsonl"], default="auto",
        help="alerts on stdout as a table or as JSON lines; auto: a table on a terminal, "
        "JSON lines into a pipe or a file",
    )  # fmt: skip
    replay.set_defaults(run=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from streams.adapters.files.replay import LabelReplay, replay
    from streams.adapters.files.spec_files import load_profile_files, load_spec_files
    from streams.adapters.files.validation_labels import references_of_profiles
    from streams.core import Ingestor
    from streams.core.contract.duplicates import MemoryDuplicates
    from streams.core.drift.monitor import Monitor

    # The worker's settings, so DRIFTLINE_* configure a replay as they configure a worker.
    flags = ("window_events", "reference_events", "warmup_events", "unknown_models",
             "label_ttl_s")  # fmt: skip
    settings = Settings.from_env(os.environ, **{name: getattr(args, name) for name in flags})
    pii = pii_policy(settings)
    specs = load_spec_files(spec_paths(args.spec, settings))
    require_key_for(specs, pii)
    registry = settings.spec_registry(specs)
    loaded = load_profile_files(args.profile)
    profiles = {path: profile for path, (_, profile) in loaded.items()}
    monitor = Monitor(
        registry,
        settings.monitor_config(),
        profiles={(p.model_id, p.model_version): p for p in profiles.values()},
        pii=pii,
        new_version_reference=settings.new_version_reference,
        rollouts=settings.rollouts(),
    )
    with collecting_for_batches(), contextlib.ExitStack() as files:
        events = files.enter_context(args.events.open("rb"))
        dlq = files.enter_context(args.dlq.open("wb")) if args.dlq else None
        labels = None
        if args.labels:
            labels = LabelReplay(
                files.enter_context(args.labels.open("rb")),
                str(args.labels),
                config=settings.performance_config(),
                ttl_ms=settings.label_ttl_s * 1000,
                references=references_of_profiles([raw for raw, _ in loaded.values()]),
            )
        retrain_out = (
            files.enter_context(args.retrain.open("wb")) if args.labels and args.retrain else None
        )
        summary = replay(
            events,
            source=str(args.events),
            ingestor=Ingestor(settings.event_decoder(), registry),
            monitor=monitor,
            sink=_alert_sink(args.format, retrain_out),
            dead_letters_out=dlq,
            batch_size=settings.batch_size,
            labels=labels,
            duplicates=(
                MemoryDuplicates(ttl_ms=settings.dedup_ttl_s * 1000)
                if settings.dedup_ttl_s
                else None
            ),
        )
    print(summary.describe(), file=sys.stderr)
    _warn_unused_profiles(profiles, set(monitor.monitors))
    return 0


def _warn_unused_profiles(
    profiles: dict[Path, ReferenceProfile], judged: set[tuple[str, str]]
) -> None:
    """Name a ``--profile`` that no event was judged against, and the models that were."""
    seen = ", ".join(f"{model} {version}" for model, version in sorted(judged)) or "none"
    for path, profile in profiles.items():
        if (profile.model_id, profile.model_version) not in judged:
            print(
                f"driftline: warning: --profile {path} is of {profile.model_id} "
                f"{profile.model_version}, but the events judged were of: {seen}; "
                "it was not used",
                file=sys.stderr,
            )


def _alert_sink(output: str, retrain_out: BinaryIO | None) -> AlertSink:
    """JSON lines on stdout (byte for byte the replay format), or a table for a person: the
    default on a terminal. Retraining requests go to ``--retrain`` as JSON lines either way."""
    from streams.adapters.files.jsonl_sink import JsonlAlertSink
    from streams.adapters.files.table_sink import TableAlertSink
    from streams.core.alerts.sink import FanOutSink

    table = output == "table" or (output == "auto" and sys.stdout.isatty())
    if not table:
        return JsonlAlertSink(sys.stdout.buffer, retrain_out)
    return FanOutSink([TableAlertSink(sys.stdout), JsonlAlertSink(None, retrain_out)])
