"""The Prometheus rules pass promtool's checks and unit tests, and name only metrics the
worker exports (with the bucket bounds the SLOs count on)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.prometheus.stream_metrics import AGE_BUCKETS, LATENCY_MS_BUCKETS
from streams.stack import debian

RULES = Path(__file__).parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    return debian.promtool(print)


def _run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rules_pass_promtools_check(promtool):
    done = _run(promtool, "check", "rules", "rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_fires_and_stays_silent_as_its_unit_tests_say(promtool):
    done = _run(promtool, "test", "rules", "rules_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (RULES / "rules_test.yml").read_text()))
    assert tested == set(alert_names()), "every alerting rule has a unit test"


def alert_names() -> list[str]:
    # No YAML parser among the dependencies; the file's layout is fixed by promtool's check.
    return re.findall(r"^\s+- alert: (\w+)$", (RULES / "rules.yml").read_text(), re.M)


def exported_names() -> set[str]:
    """Every sample name the worker's registry can export (histograms with their suffixes)."""
    registry = CollectorRegistry()
    IngestMetrics(registry)
    names = set()
    for family in registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
        }.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    return names


def test_the_rules_name_only_exported_metrics_and_existing_buckets():
    text = re.sub(r"^\s*#.*$", "", (RULES / "rules.yml").read_text(), flags=re.M)
    used = set(re.findall(r"\bdriftline_[a-z_]+", text))
    assert used and used <= exported_names(), used - exported_names()
    bounds = {
        "driftline_event_age_seconds_bucket": AGE_BUCKETS,
        "driftline_model_latency_ms_bucket": LATENCY_MS_BUCKETS,
    }
    for name, le in re.findall(r'(driftline_\w+_bucket)\{le="([^"]+)"\}', text):
        assert float(le) in bounds[name], (name, le)


def test_every_alert_links_its_own_runbook_section_and_every_section_is_an_alert():
    runbook = RULES.parents[1] / "docs" / "RUNBOOK.md"
    sections = re.findall(r"^## (\S+)$", runbook.read_text(), re.M)
    links = re.findall(
        r'^\s+- alert: (\w+)$(?:\n(?!\s+- ).*)*?\n\s+runbook_url: "docs/RUNBOOK\.md#([\w-]+)"$',
        (RULES / "rules.yml").read_text(),
        re.M,
    )
    assert [name for name, _ in links] == alert_names(), "every alert has a runbook_url"
    # GitHub's anchor for a heading of one word: the word in lower case.
    assert all(anchor == name.lower() for name, anchor in links)
    assert sorted(sections) == sorted(alert_names())
