"""The worker's HTTP surface: ``/metrics``, ``/health`` and ``/live``, and nothing else.

Faust serves its own blueprints beside an app's pages (``/router``, ``/table`` with table
data, ``/`` and, in debug, ``/graph`` and sensor statistics); ``BatchApp`` serves none of
them, so what is listed here is all a scraper or a stranger on the network can reach.
``/metrics`` may require a bearer token; the probes stay open, since kubelet sends none and
they reveal no more than up or down.
"""

from __future__ import annotations

import hmac

import faust
import orjson
from prometheus_client import CONTENT_TYPE_LATEST

from streams.adapters.faust.health import HealthCheck, StreamLiveness
from streams.adapters.prometheus.text_families import MetricsRegistry

__all__ = ["add_routes"]


def add_routes(
    app: faust.App,
    *,
    metrics_registry: MetricsRegistry,
    health: HealthCheck,
    liveness: StreamLiveness,
    metrics_token: str | None = None,
) -> None:
    """Serve the three pages on ``app``'s web server."""
    expected = None if metrics_token is None else f"Bearer {metrics_token}".encode()

    @app.page("/metrics")
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        if expected is not None and not _authorized(request, expected):
            headers = {"WWW-Authenticate": 'Bearer realm="driftline"'}
            return web.bytes(b"unauthorized\n", status=401, headers=headers)
        # aiohttp refuses a charset in content_type, which Prometheus' type carries.
        headers = {"Content-Type": CONTENT_TYPE_LATEST}
        return web.bytes(await metrics_registry.render_async(), headers=headers)

    @app.page("/health")
    async def health_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        healthy, checks = await health.report()
        body = orjson.dumps({"healthy": healthy, **checks})
        return web.bytes(body, content_type="application/json", status=200 if healthy else 503)

    @app.page("/live")
    async def live_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # Liveness only: a Redis or Kafka outage is for /health (readiness); restarting the
        # worker would not fix it and would rebalance the group.
        ok = liveness.failure is None
        body = orjson.dumps({"live": ok, "error": liveness.failure})
        return web.bytes(body, content_type="application/json", status=200 if ok else 503)


def _authorized(request: faust.web.Request, expected: bytes) -> bool:
    given = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(given, expected)  # constant time: no timing oracle on the token
