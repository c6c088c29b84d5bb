"""Send the true outcomes of earlier predictions from a CSV file.

    python examples/send_labels.py labels.csv

The CSV has a header with ``event_id``, ``model_id`` and ``label`` (the ``event_id`` the
prediction service answered with) and, optionally, ``timestamp`` (RFC 3339, when the outcome
became known). Numbers in ``label`` are sent as numbers, ``true``/``false`` as booleans.
Kafka and topics come from ``DRIFTLINE_*``. Exit code 1 if any label was dropped.
"""

from __future__ import annotations

import argparse
import csv
import sys

from streams.client import LabelLogger


def label_value(text: str) -> bool | int | float | str:
    """``1`` -> 1, ``0.5`` -> 0.5, ``true`` -> True; anything else stays a string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_file")
    args = parser.parse_args(argv)
    sent = 0
    with open(args.csv_file, newline="") as handle, LabelLogger(close_timeout_s=30) as labels:
        for row in csv.DictReader(handle):
            labels.log(row["event_id"], row["model_id"], label_value(row["label"]),
                       timestamp=row.get("timestamp") or None)  # fmt: skip
            sent += 1
    print(f"sent {sent} labels: delivered {labels.delivered}, dropped {labels.dropped}")
    return 1 if labels.dropped else 0


if __name__ == "__main__":
    sys.exit(main())
