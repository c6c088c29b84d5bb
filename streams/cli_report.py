"""``driftline report``: a JSONL file of events (and labels) replayed into an HTML page per
model version, drawn without Grafana; or, ``--from-redis``, the live page of one model
version from the state its worker stored."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from streams.cli_parser import USAGE_ERROR, Commands, add_judging_options, input_file
from streams.cli_settings import pii_policy, spec_paths
from streams.core.contract.pii import PiiPolicy, require_key_for
from streams.core.contract.spec import ModelSpec
from streams.settings import Settings

__all__ = ["add_report"]


def add_report(commands: Commands) -> None:
    """``driftline report``."""
    report = commands.add_parser(
        "report", help="replay a JSONL file and write an HTML drift report per model version "
        "(or --from-redis: a live model version's page)",
    )  # fmt: skip
    report.add_argument("events", type=input_file, nargs="?", help="one prediction event per line")
    report.add_argument(
        "--from-redis", nargs=2, metavar=("MODEL", "VERSION"),
        help="instead of EVENTS: the page of a live model version from its state in Redis "
        "(DRIFTLINE_REDIS_URL, DRIFTLINE_REDIS_PREFIX)",
    )  # fmt: skip
    report.add_argument(
        "--out", type=Path, required=True, help="the HTML file to write (its folder is made)"
    )
    report.add_argument(
        "--labels", type=input_file, help="label events (JSONL): performance, fairness"
    )
    add_judging_options(report)
    report.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    problem = _source_problem(args)
    if problem:
        print(f"driftline report: {problem}", file=sys.stderr)
        return USAGE_ERROR
    try:
        from streams.adapters.files.report.render import write_pages
    except ImportError as exc:
        print(f"driftline report needs Plotly ({exc.name}): pip install 'driftline[report]'",
              file=sys.stderr)  # fmt: skip
        return USAGE_ERROR
    from streams.adapters.files.report.runner import ReportInput, run_report
    from streams.adapters.files.spec_files import load_profile_files, load_spec_files

    flags = ("window_events", "reference_events")
    settings = Settings.from_env(os.environ, **{name: getattr(args, name) for name in flags})
    pii = pii_policy(settings)
    specs = load_spec_files(spec_paths(args.spec, settings))
    require_key_for(specs, pii)
    if args.from_redis:
        return _live(args, settings, pii, specs)
    profiles = [profile for _, profile in load_profile_files(args.profile).values()]
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


def _source_problem(args: argparse.Namespace) -> str | None:
    """Why the arguments name no single source (None when they do)."""
    if (args.events is None) == (args.from_redis is None):
        return "give exactly one of EVENTS or --from-redis MODEL VERSION"
    if args.from_redis and (args.labels or args.profile):
        return "--labels and --profile replay files: not with --from-redis"
    return None


def _live(args: argparse.Namespace, settings: Settings, pii: PiiPolicy,
          specs: list[ModelSpec]) -> int:  # fmt: skip
    from streams.adapters.files.report.live import live_page
    from streams.adapters.files.report.live_source import NotStored, load_live
    from streams.adapters.files.report.render import render_live_page

    model_id, version = args.from_redis
    try:
        live = load_live(settings, pii, (model_id, version), specs)
    except NotStored as exc:
        print(f"driftline report: {exc}", file=sys.stderr)
        return 1
    page = live_page(live.drift, live.performance)
    if page is None:
        print(f"driftline report: model {model_id} version {version} is still learning its "
              "reference: nothing to draw yet", file=sys.stderr)  # fmt: skip
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_live_page(page, source=f"live from {_where(settings)}"),
                        encoding="utf-8")  # fmt: skip
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _where(settings: Settings) -> str:
    """Redis's host and port, never its credentials (the URL may carry a password)."""
    url = urlsplit(settings.redis_url)
    return f"redis {url.hostname}:{url.port or 6379}, prefix {settings.redis_prefix}"
