"""A scikit-learn model behind a small HTTP service that logs every prediction to Driftline.

    python examples/prediction_service.py [--port 8000] [--model-id churn] [--model-version v1]
    curl -s localhost:8000/predict -d '{"features": {"tenure": 14, "spend": 52.5, "tickets": 2}}'
    {"prediction": 0, "score": 0.31, "event_id": "0194c3a2-..."}

Kafka and topics come from ``DRIFTLINE_*`` (as for the worker). The answer carries the
``event_id``: whoever learns the true outcome later sends it with that id
(``examples/send_labels.py``). Logging adds microseconds to a request and never fails it:
with Kafka down, events are dropped and counted, and the service goes on answering.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from sklearn.linear_model import LogisticRegression

from streams.client import PredictionLogger

FEATURES = ("tenure", "spend", "tickets")


def train(seed: int = 7) -> LogisticRegression:
    """A churn-like model on synthetic data: short tenure and many tickets churn."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.exponential(24, 2000), rng.normal(50, 15, 2000),
                         rng.poisson(1.5, 2000)])  # fmt: skip
    logit = 0.8 - 0.08 * x[:, 0] + 0.01 * x[:, 1] + 0.6 * x[:, 2]
    y = rng.random(2000) < 1 / (1 + np.exp(-logit))
    return LogisticRegression(max_iter=1000).fit(x, y.astype(int))


def make_handler(model: LogisticRegression, logger: PredictionLogger, model_id: str,
                 model_version: str) -> type[BaseHTTPRequestHandler]:  # fmt: skip
    class Predict(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            started = time.perf_counter()
            try:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                features = {name: float(body["features"][name]) for name in FEATURES}
            except (KeyError, TypeError, ValueError) as exc:
                return self._answer(400, {"error": f"bad request: {exc}"})
            score = float(model.predict_proba(np.array([list(features.values())]))[0, 1])
            prediction = int(score >= 0.5)
            event_id = logger.log(model_id, model_version, features, prediction, score=score,
                                  latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
            self._answer(200, {"prediction": prediction, "score": score, "event_id": event_id})

        def _answer(self, status: int, document: dict) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args) -> None:  # one line per request is too many
            pass

    return Predict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--model-id", default="churn")
    parser.add_argument("--model-version", default="v1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    model = train()
    with PredictionLogger() as logger:
        handler = make_handler(model, logger, args.model_id, args.model_version)
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
        # SIGTERM ends the service like Ctrl-C: the logger then flushes what is queued.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
        print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        server.server_close()
    print(f"delivered {logger.delivered}, dropped {logger.dropped}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
