"""The worker serves /metrics, /health and /live only, and /metrics wants its token."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def status_of(url: str, *, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    "path", ["/", "/router/", "/table/", "/graph/", "/stats/", "/assignment/", "/performance/"]
)
def test_faust_own_routes_are_not_served(worker, path):
    assert status_of(worker.base_url + path) == 404


def test_metrics_needs_the_token(worker, worker_env):
    url = worker.base_url + "/metrics"
    assert status_of(url) == 401
    assert status_of(url, token="not-" + worker_env["DRIFTLINE_WEB_TOKEN"]) == 401
    assert status_of(url, token=worker_env["DRIFTLINE_WEB_TOKEN"]) == 200
    names = {name for name, _ in worker.metrics()}  # WorkerProcess sends the token
    assert "driftline_batch_size_count" in names


def test_probes_need_no_token(worker):
    assert status_of(worker.base_url + "/health") == 200
    assert status_of(worker.base_url + "/live") == 200
