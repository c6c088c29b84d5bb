"""The event contracts in ``schemas/`` are valid JSON Schemas and agree with their examples.

Every file under ``schemas/examples/<schema>/valid/`` must validate against
``schemas/<schema>.json`` and every file under ``.../invalid/`` must fail, at one place only (its
file name says what is wrong there), so an example broken by accident elsewhere is noticed.

Note: jsonschema checks ``"format": "date-time"`` only when the optional ``rfc3339-validator``
package is installed; without it the ``pattern`` next to each ``format`` is what is enforced.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from tests.contracts import SCHEMA_DIR, load_json

EXAMPLE_DIR = SCHEMA_DIR / "examples"
SCHEMA_NAMES = (
    "alert", "label_event", "model_spec", "prediction_event", "replay_dead_letter",
    "retrain_request",
)  # fmt: skip
KINDS = ("valid", "invalid")


def load_schema(name: str) -> dict[str, Any]:
    return load_json(SCHEMA_DIR / f"{name}.json")


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def example_files(name: str, kind: str) -> list[Path]:
    return sorted((EXAMPLE_DIR / name / kind).glob("*.json"))


EXAMPLES = [
    pytest.param(name, kind, path, id=f"{name}/{kind}/{path.stem}")
    for name in SCHEMA_NAMES
    for kind in KINDS
    for path in example_files(name, kind)
]


def test_every_schema_file_is_listed() -> None:
    # A new schema without an entry here would have no examples checked.
    assert sorted(path.stem for path in SCHEMA_DIR.glob("*.json")) == sorted(SCHEMA_NAMES)


def test_example_folders_are_the_expected_ones() -> None:
    # Catches a misspelt folder whose examples would silently never run.
    assert sorted(path.name for path in EXAMPLE_DIR.iterdir()) == sorted(SCHEMA_NAMES)
    for name in SCHEMA_NAMES:
        assert sorted(path.name for path in (EXAMPLE_DIR / name).iterdir()) == sorted(KINDS)
        for kind in KINDS:
            stray = [p.name for p in (EXAMPLE_DIR / name / kind).iterdir() if p.suffix != ".json"]
            assert stray == [], f"{name}/{kind} has files that are not .json: {stray}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_example_folder_is_not_empty(name: str, kind: str) -> None:
    assert example_files(name, kind), f"no examples in {EXAMPLE_DIR / name / kind}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://driftline.dev/schemas/{name}.json"
    assert schema["title"]
    assert schema["description"]


def _properties(schema: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (path, subschema) found under a ``properties`` keyword, at any depth."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "if":
                continue  # a condition matches properties, it does not declare them
            if key == "properties" and isinstance(value, dict):
                for prop, subschema in value.items():
                    yield f"{path}.{prop}", subschema
                    yield from _properties(subschema, f"{path}.{prop}")
            else:
                yield from _properties(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _properties(item, f"{path}[{index}]")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_has_a_description(name: str) -> None:
    undocumented = [
        path
        for path, subschema in _properties(load_schema(name), name)
        # ``"min": false`` in an ``else`` forbids a key; it is not a property to document.
        if subschema is not False and not subschema.get("description")
    ]
    assert undocumented == []


@pytest.mark.parametrize(("name", "kind", "path"), EXAMPLES)
def test_example(name: str, kind: str, path: Path) -> None:
    errors = list(validator(name).iter_errors(load_json(path)))
    messages = [f"{_location(error)}: {error.message}" for error in errors]
    if kind == "valid":
        assert messages == []
    else:
        assert messages, "the example is valid"
        places = {_location(error) for error in errors}
        assert len(places) == 1, f"expected errors at one place only, got {messages}"


def _location(error: ValidationError) -> str:
    return "/" + "/".join(map(str, error.absolute_path))
