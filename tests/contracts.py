"""The contract check: every record Driftline publishes agrees with ``schemas/``.

Alerts and retraining requests are checked against their JSON Schemas, dead-letter headers
against the table in ``schemas/README.md`` (which headers exist, which are required, which are
decimals, which mirror another), and the lines ``driftline replay`` writes against the schema of
what they are. ``tests/conftest.py`` applies these checks to every record a test reads back, so
a drift between the code and a schema fails whichever test first sees such a record.

The worker does not validate at run time (cost per record); this is where drift is caught.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

__all__ = [
    "SCHEMA_DIR",
    "ContractViolation",
    "HeaderRow",
    "check_dead_letter_headers",
    "check_jsonl",
    "check_published",
    "check_record",
    "checked_read_from",
    "checked_replay",
    "dead_letter_table",
    "load_json",
    "topic_contract",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# Replay's output files, by option, and the schema of their lines.
_REPLAY_FILES = {"--retrain": "retrain_request", "--dlq": "replay_dead_letter"}

# Published topics by their default name; a test run's topics add "-<run>" (``run_names``).
# Input topics (predictions, labels) are not here: tests publish bad records there on purpose.
_TOPIC_CONTRACTS = {
    "alerts": "alert",
    "retrain-requests": "retrain_request",
    "predictions-dlq": "dead_letter",
    "labels-dlq": "dead_letter",
}


class ContractViolation(AssertionError):
    """A record Driftline produced does not follow its contract."""


def _reject_constant(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def load_json(data: bytes | Path) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys (Python's json allows both)."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return json.loads(
        raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys
    )


@cache
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_json(SCHEMA_DIR / f"{schema}.json"),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def check_record(schema: str, record: Any, *, where: str = "record") -> None:
    """Raise ``ContractViolation`` listing every way ``record`` breaks ``schemas/<schema>.json``."""
    errors = sorted(_validator(schema).iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        messages = "; ".join(
            f"/{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors[:5]
        )
        raise ContractViolation(f"{where} breaks schemas/{schema}.json: {messages}")


def _parse_json(value: bytes | None, where: str) -> Any:
    try:
        return load_json(value or b"")
    except ValueError as exc:
        raise ContractViolation(f"{where} is not strict UTF-8 JSON: {exc}") from exc


def check_jsonl(schema: str, data: bytes, *, where: str) -> int:
    """Check every line of ``data`` against ``schemas/<schema>.json``; return how many."""
    lines = data.splitlines()
    for number, line in enumerate(lines):
        check_record(schema, _parse_json(line, f"{where} line {number}"), where=f"{where}:{number}")
    return len(lines)


@dataclass(frozen=True, slots=True)
class HeaderRow:
    """One row of the dead-letter header table."""

    name: str
    required: bool
    decimal: bool
    same_as: str | None


_ROW = re.compile(r"^\| `([^`]+)` \| (yes|no) \| (.*) \|$")
_SAME_AS = re.compile(r"^Same as `([^`]+)`\.$")


def dead_letter_table(readme: Path = SCHEMA_DIR / "README.md") -> dict[str, HeaderRow]:
    """The header table of ``readme``, by header name."""
    rows = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        if match := _ROW.match(line):
            name, required, value = match.groups()
            same_as = _SAME_AS.match(value)
            rows[name] = HeaderRow(
                name, required == "yes", "in decimal" in value, same_as and same_as.group(1)
            )
    if not rows:
        raise ContractViolation(f"no dead-letter header table in {readme}")
    return rows


def check_dead_letter_headers(headers: Mapping[str, bytes], *, where: str = "dead letter") -> None:
    """Raise ``ContractViolation`` unless ``headers`` follow the table in schemas/README.md."""
    table = dead_letter_table()
    problems = [f"unknown header {name!r}" for name in headers if name not in table]
    problems += [
        f"missing required header {row.name!r}"
        for row in table.values()
        if row.required and row.name not in headers
    ]
    text: dict[str, str] = {}
    for name, value in headers.items():
        try:
            text[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"header {name!r} is not UTF-8")
    for name, value in text.items():
        row = table.get(name)
        if row is None:
            continue
        if row.decimal and not re.fullmatch(r"-?[0-9]+", value):
            problems.append(f"header {name!r} is not a decimal: {value!r}")
        if row.same_as is not None and text.get(row.same_as) != value:
            problems.append(f"header {name!r} differs from {row.same_as!r}")
    if problems:
        raise ContractViolation(f"{where} breaks the table in schemas/README.md: {problems}")


def topic_contract(topic: str) -> str | None:
    """What ``topic`` carries (``alert``, ``retrain_request``, ``dead_letter``), if published."""
    for base, contract in _TOPIC_CONTRACTS.items():
        if topic == base or topic.startswith(f"{base}-"):
            return contract
    return None


def check_published(topic: str, record: Any) -> None:
    """Check one record read from ``topic`` (a ``ReadRecord``) against the topic's contract."""
    contract = topic_contract(topic)
    where = f"{topic}[{record.partition}]@{record.offset}"
    if contract == "dead_letter":
        check_dead_letter_headers(record.headers, where=where)
    elif contract is not None:
        value = _parse_json(record.value, where)
        check_record(contract, value, where=where)
        # Both topics are keyed by model id, so a model's records stay in order.
        if record.key != value["model_id"].encode():
            raise ContractViolation(f"{where}: key {record.key!r} is not the model id")


def checked_read_from(read_from: Callable) -> Callable:
    """``read_from`` (``streams.adapters.kafka.records``) checking every record it returns."""

    def checked(bootstrap: str, topic: str, start: dict[int, int], **kwargs: Any) -> list:
        records = read_from(bootstrap, topic, start, **kwargs)
        for record in records:
            check_published(topic, record)
        return records

    return checked


def checked_replay(events: Path, *args: str | Path) -> subprocess.CompletedProcess:
    """Run ``driftline replay`` and check every line it wrote.

    Alerts on stdout against ``schemas/alert.json``; the ``--retrain`` and ``--dlq`` files
    against ``schemas/retrain_request.json`` and ``schemas/replay_dead_letter.json``.
    """
    words = [str(arg) for arg in args]
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(events), *words],
        capture_output=True,
        check=True,
    )
    check_jsonl("alert", done.stdout, where="replay stdout")
    for option, schema in _REPLAY_FILES.items():
        if option in words:
            path = Path(words[words.index(option) + 1])
            check_jsonl(schema, path.read_bytes(), where=str(path))
    return done
