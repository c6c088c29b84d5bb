"""The schemas stay compatible with the last release of their major version.

``schemas/released/<major>/`` holds the schemas and the README (its dead-letter header table) as
released; the current ones may only add to them (``schemas/README.md``, Compatibility). The
checker itself is tested on deliberate breaking and additive changes, so a check that passes
everything would be noticed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.contracts import SCHEMA_DIR, HeaderRow, dead_letter_table, load_json
from tests.schema_compatibility import breaking_changes, breaking_table_changes

RELEASED_DIR = SCHEMA_DIR / "released"
RELEASED = sorted(RELEASED_DIR.glob("*/*.json"))


def major_of(schema: dict[str, Any]) -> int:
    """The major version a schema's records carry; input schemas have none and are at 1."""
    return schema.get("properties", {}).get("schema_version", {}).get("const", 1)


def current(name: str) -> dict[str, Any]:
    return load_json(SCHEMA_DIR / f"{name}.json")


def test_there_is_a_release_with_every_published_schema():
    assert {p.stem for p in RELEASED_DIR.glob("1/*.json")} >= {
        "alert", "retrain_request", "replay_dead_letter", "prediction_event", "label_event",
        "model_spec",
    }  # fmt: skip


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_schema_is_compatible_with_its_release(released: Path):
    path = SCHEMA_DIR / released.name
    assert path.exists(), f"{released.name} was released and is gone"
    schema, major = load_json(path), int(released.parent.name)
    if major_of(schema) != major:
        # A new major version: the old one's topic and records stay as they were.
        assert major_of(schema) > major, "the major version went down"
        return
    assert breaking_changes(load_json(released), schema) == []


def test_dead_letter_headers_are_compatible_with_their_release():
    released = dead_letter_table(RELEASED_DIR / "1" / "README.md")
    assert breaking_table_changes(released, dead_letter_table()) == []


# The checker on deliberate changes: each must be caught (or, if additive, let through).


def changed(name: str, change) -> list[str]:
    old = current(name)
    new = copy.deepcopy(old)
    change(new)
    return breaking_changes(old, new)


def _set(path: str, value: Any):
    def apply(schema: dict) -> None:
        *parents, last = path.split("/")
        target = schema
        for part in parents:
            target = target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return apply


_DELETE = object()

BREAKING = {
    "property removed": ("alert", _set("properties/message", _DELETE)),
    "type narrowed": ("alert", _set("properties/feature/type", "string")),
    "number to integer": ("alert", _set("$defs/timestamp/type", "integer")),
    "new required field": ("alert", lambda s: s["required"].append("episode_id")),
    "enum shrunk": ("alert", lambda s: s["properties"]["type"]["enum"].remove("anomaly")),
    "const changed": ("alert", _set("properties/schema_version/const", 2)),
    "additionalProperties tightened": ("retrain_request",
                                       _set("$defs/metrics/additionalProperties", False)),
    "maxItems lowered": ("alert", _set("properties/sample/maxItems", 5)),
    "minimum raised": ("alert", _set("properties/window/properties/count/minimum", 1)),
    "pattern changed": ("alert", _set("properties/alert_id/pattern", "^[0-9a-f]{16}$")),
    "label sample loses score": ("alert", _set("$defs/label_sample/properties/score/type",
                                               "number")),
    "sample alternative removed": ("alert",
                                   lambda s: s["properties"]["sample"]["items"]["oneOf"].pop()),
    "$id changed": ("alert", _set("$id", "https://driftline.dev/schemas/alert-v2.json")),
    "feature map closed": ("alert", _set("$defs/prediction_sample/properties/features/"
                                         "additionalProperties", False)),
}  # fmt: skip

ADDITIVE = {
    "enum grows": ("alert", lambda s: s["properties"]["type"]["enum"].append("internal")),
    "optional property": ("alert", _set("properties/note",
                                        {"description": "x", "type": "string"})),
    "requirement dropped": ("alert", lambda s: s["required"].remove("created_at")),
    "type widened": ("alert", _set("properties/message/type", ["string", "null"])),
    "bound relaxed": ("alert", _set("properties/sample/maxItems", 50)),
    "description edited": ("alert", _set("properties/message/description", "Summary.")),
    "integer to number": ("alert", _set("properties/window/properties/count/type", "number")),
    "sample alternative added": ("alert", lambda s: s["properties"]["sample"]["items"]["oneOf"]
                                 .append({"type": "object"})),
}  # fmt: skip


@pytest.mark.parametrize("case", BREAKING)
def test_checker_reports_a_breaking_change(case: str):
    name, change = BREAKING[case]
    assert changed(name, change), f"{case} was not reported"


@pytest.mark.parametrize("case", ADDITIVE)
def test_checker_lets_an_additive_change_through(case: str):
    name, change = ADDITIVE[case]
    assert changed(name, change) == []


def test_checker_reports_where_the_break_is():
    problems = changed("alert", lambda s: s["properties"]["type"]["enum"].remove("anomaly"))
    assert problems == [".type: enum lost ['anomaly']"]


def test_header_table_checker_reports_removed_and_newly_required_headers():
    table = dead_letter_table()
    fewer = {k: v for k, v in table.items() if k != "driftline.dlq.reason"}
    assert breaking_table_changes(table, fewer) == ["header 'driftline.dlq.reason': removed"]
    # Records already on the topic lack a header that has just become required.
    assert breaking_table_changes(fewer, table) == [
        "header 'driftline.dlq.reason': new and required"
    ]
    stricter = {**table, "driftline.dlq.field": HeaderRow("driftline.dlq.field", True, False, None)}
    assert breaking_table_changes(table, stricter) == [
        "header 'driftline.dlq.field': required changed to True"
    ]
    extra = {
        **table,
        "driftline.dlq.retries": HeaderRow("driftline.dlq.retries", False, True, None),
    }
    assert breaking_table_changes(table, extra) == []
