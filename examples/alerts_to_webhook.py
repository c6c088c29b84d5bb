"""Post every Driftline alert to a webhook, once, as JSON.

    python examples/alerts_to_webhook.py https://hooks.example/driftline [--group G]

Each alert is POSTed as the JSON of its ``ReceivedAlert`` fields. Its offset is committed only
after the POST succeeded: if the webhook fails, the script stops with the alert uncommitted,
and the next run posts it again (alerts are at least once; a re-sent one has the same
``alert_id``, which the receiver can use too). Kafka and topics come from ``DRIFTLINE_*``.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request

import orjson

from streams.client import AlertConsumer, ReceivedAlert


def post(url: str, alert: ReceivedAlert, timeout_s: float = 10.0) -> None:
    """POST the alert; raises on a network error or a non-2xx answer."""
    request = urllib.request.Request(url, data=orjson.dumps(alert), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("webhook")
    parser.add_argument("--group", default="driftline-webhook")
    parser.add_argument("--idle-timeout", type=float, help="stop after this many idle seconds")
    args = parser.parse_args(argv)
    posted = 0
    with AlertConsumer(args.group) as consumer:
        for alert in consumer.alerts(idle_timeout_s=args.idle_timeout):
            post(args.webhook, alert)  # committed when the loop comes back: after the POST
            posted += 1
        print(f"posted {posted} alerts; skipped {consumer.duplicates} duplicates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
