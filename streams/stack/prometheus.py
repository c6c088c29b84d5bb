"""A Prometheus server in a child process scraping workers, for tests and local checks.

The binary is Debian's (``debian.prometheus``, installed like redis-server with its service
kept off). Its configuration, data and log live in ``home``; it listens on loopback only.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from streams.stack import debian
from streams.stack.errors import StackError
from streams.stack.service import Log

__all__ = ["PrometheusServer"]

#: The scrape job the rules and dashboards expect (deploy/prometheus/).
JOB = "driftline-worker"


class PrometheusServer:
    """Start, query and stop one Prometheus.

    Parameters
    ----------
    home
        Its configuration, TSDB and log go here.
    port
        Its HTTP port on 127.0.0.1.
    targets
        ``host:port`` of the workers to scrape (job ``driftline-worker``).
    rules
        Rule files to load.
    interval_s
        Scrape and rule evaluation interval.
    bearer_token
        Sent to the workers' /metrics (``DRIFTLINE_WEB_TOKEN``), if they require one.
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int,
        targets: Sequence[str],
        rules: Sequence[Path] = (),
        interval_s: float = 1.0,
        bearer_token: str | None = None,
    ) -> None:
        self.home = home
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._config = _config(targets, rules, interval_s, bearer_token)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, log: Log = print, *, timeout_s: float = 30.0) -> None:
        """Start it and wait until /-/ready answers; ``StackError`` if it does not."""
        binary = debian.prometheus(log)
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "prometheus.yml"
        config.write_text(self._config)
        argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}"]  # fmt: skip
        with (self.home / "prometheus.log").open("ab") as out:
            self._process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.home / "prometheus.log").read_text(errors="replace")[-2000:]
                raise StackError(f"prometheus: not ready on port {self.port}:\n{tail}")
            time.sleep(0.2)

    def stop(self, *, timeout_s: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query (``StackError`` for a query Prometheus refuses)."""
        return self._api("query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float, step_s: float = 1.0) -> list:
        return self._api("query_range", query=expr, start=start, end=end, step=step_s)["result"]

    def label_values(self, label: str, match: str) -> list[str]:
        """What Grafana's ``label_values(match, label)`` lists."""
        return self._api(f"label/{label}/values", **{"match[]": match})

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now."""
        return self._api("alerts")["alerts"]

    def _api(self, path: str, **params: Any) -> Any:
        url = f"{self.base_url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise StackError(f"prometheus: {path} {params}: {exc.read().decode()}") from exc
        return body["data"]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False


def _config(
    targets: Sequence[str], rules: Sequence[Path], interval_s: float, token: str | None
) -> str:
    """Prometheus's YAML configuration (JSON is YAML, and needs no YAML writer)."""
    job: dict[str, Any] = {
        "job_name": JOB,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": list(targets)}],
    }
    if token is not None:
        job["authorization"] = {"type": "Bearer", "credentials": token}
    interval = f"{max(int(interval_s * 1000), 100)}ms"
    return orjson.dumps({
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path.resolve()) for path in rules],
        "scrape_configs": [job],
    }).decode()  # fmt: skip
