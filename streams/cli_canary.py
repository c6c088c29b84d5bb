"""``driftline canary MODEL --baseline V1 --candidate V2``: the current canary verdict of a
rollout, read from the state the workers keep in Redis, as an exit code a CD pipeline can
gate on: 0 pass, 1 fail, 3 inconclusive (2 stays the usage error of every command)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import orjson

from streams.cli_parser import Commands
from streams.core.rollout.canary import ModelRollout
from streams.settings import Settings

__all__ = ["EXIT_CODES", "add_canary"]

EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3}


def add_canary(commands: Commands) -> None:
    """``driftline canary``."""
    canary = commands.add_parser(
        "canary", help="print a rollout's canary verdict from Redis; exit 0 pass, 1 fail, "
        "3 inconclusive",
    )  # fmt: skip
    canary.add_argument("model", help="the model id")
    canary.add_argument("--baseline", required=True, help="the version rolled out from")
    canary.add_argument("--candidate", required=True, help="the version being rolled out")
    canary.add_argument("--json", action="store_true", help="print the whole verdict as JSON")
    canary.set_defaults(run=_canary)


def _canary(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    report = asyncio.run(_verdict(settings, args.model, args.baseline, args.candidate))
    if report is None:
        report = {"model_id": args.model, "baseline": args.baseline, "candidate": args.candidate,
                  "verdict": "inconclusive", "windows": 0,
                  "reason": "the two versions have not received traffic in the same "
                  "window yet"}  # fmt: skip
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(_summary(report))
    return EXIT_CODES[report["verdict"]]


async def _verdict(settings: Settings, model_id: str, baseline: str, candidate: str
                   ) -> dict[str, Any] | None:  # fmt: skip
    # Imported here: redis takes ~0.1 s to import, and every other command starts without it.
    import redis.asyncio as aioredis

    from streams.adapters.redis.rollout_store import RedisRolloutStore

    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5)
    try:
        stored = await RedisRolloutStore(client, prefix=settings.redis_prefix).fetch(model_id)
    finally:
        await client.aclose()
    if stored is None:
        return None
    rollout = ModelRollout.restore(stored, model_id, settings.canary_config())
    return rollout.verdict(baseline, candidate)


def _summary(report: dict[str, Any]) -> str:
    lines = [f"{report['model_id']} {report['candidate']} vs {report['baseline']}: "
             f"{report['verdict']} over {report['windows']} shared windows"]  # fmt: skip
    if "reason" in report:
        lines.append(f"  {report['reason']}")
    events = report.get("events")
    if events:
        lines[0] += f" ({events['baseline']} baseline, {events['candidate']} candidate events)"
    for check in report.get("checks", []):
        value = "n/a" if check["value"] is None else f"{check['value']:.4f}"
        lines.append(f"  {check['name']}: {check['outcome']} ({check['statistic']} {value}, "
                     f"tolerance {check['threshold']:g})")  # fmt: skip
    shadow = report.get("shadow")
    if shadow and shadow["pairs"]:
        lines.append(f"  shadow: {shadow['pairs']} pairs, agreement {shadow['agreement']:.3f}, "
                     f"score correlation {shadow['score_correlation']}")  # fmt: skip
    return "\n".join(lines)
