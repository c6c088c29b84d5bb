"""``driftline report``: a JSONL file of events (and labels) replayed into an HTML page per
model version, drawn without Grafana."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from streams.cli_parser import USAGE_ERROR, Commands, add_judging_options, input_file
from streams.cli_settings import pii_policy, spec_paths
from streams.core.contract.pii import require_key_for
from streams.settings import Settings

__all__ = ["add_report"]


def add_report(commands: Commands) -> None:
    """``driftline report``."""
    report = commands.add_parser(
        "report", help="replay a JSONL file and write an HTML drift report per model version"
    )
    report.add_argument("events", type=input_file, help="one prediction event per line")
    report.add_argument(
        "--out", type=Path, required=True, help="the HTML file to write (its folder is made)"
    )
    report.add_argument(
        "--labels", type=input_file, help="label events (JSONL): performance, fairness"
    )
    add_judging_options(report)
    report.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    try:
        from streams.adapters.files.report.render import write_pages
    except ImportError as exc:
        print(f"driftline report needs Plotly ({exc.name}): pip install 'driftline[report]'",
              file=sys.stderr)  # fmt: skip
        return USAGE_ERROR
    from streams.adapters.files.report.runner import ReportInput, run_report
    from streams.adapters.files.spec_files import load_spec_files
    from streams.core.drift.profile import ReferenceProfile

    flags = ("window_events", "reference_events")
    settings = Settings.from_env(os.environ, **{name: getattr(args, name) for name in flags})
    pii = pii_policy(settings)
    specs = load_spec_files(spec_paths(args.spec, settings))
    require_key_for(specs, pii)
    profiles = [ReferenceProfile.from_dict(orjson.loads(p.read_bytes())) for p in args.profile]
    source = ReportInput(args.events, args.labels, profiles, specs)
    run = run_report(source, settings, pii, progress=sys.stderr)
    print(run.summary.describe(), file=sys.stderr)
    if not run.pages:
        print("driftline report: no model version got past its reference: nothing to draw",
              file=sys.stderr)  # fmt: skip
        return 1
    for path in write_pages(run.pages, args.out, source=args.events.name):
        print(f"wrote {path}", file=sys.stderr)
    return 0
