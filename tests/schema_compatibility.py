"""Is a schema a compatible successor of a released one? (``schemas/README.md``, Compatibility)

Within a major version a schema may only grow: whatever the released schema accepted, the new
one must accept too, so records already on a topic, and producers and consumers written against
the release, keep working. ``breaking_changes(old, new)`` lists what breaks that, walking both
schemas side by side (local ``$ref``s followed):

- a property that existed is gone, or its subschema broke;
- a type was narrowed (``integer`` widening to ``number`` is fine, the reverse is not);
- a field became required that was not;
- an ``enum`` lost a value, a ``const`` changed;
- ``additionalProperties`` was tightened (allowed, then forbidden or constrained);
- a bound moved inwards (``minimum``, ``maxLength``, ``maxItems``, ...), or a ``pattern`` or
  ``format`` changed or appeared;
- a ``oneOf``/``anyOf`` alternative no longer matches any alternative of the new schema.

It is conservative (a change it cannot judge, such as a new pattern, counts as breaking) and
judges the structure, not the set of documents: a rewrite that accepts the same records
differently may be reported and needs a look.
"""

from __future__ import annotations

from typing import Any

__all__ = ["breaking_changes", "breaking_table_changes"]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_ALTERNATIVES = frozenset({"oneOf", "anyOf"})
_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples", "default"})
_ALL_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every way ``new`` fails to accept what ``old`` accepted, as ``path: what`` lines."""
    problems = []
    if old.get("$id") != new.get("$id"):
        problems.append(f"$id: changed from {old.get('$id')!r} to {new.get('$id')!r}")
    return problems + _compare(old, new, old, new, "")


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/"):
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _compare(old: Any, new: Any, old_root: dict, new_root: dict, path: str) -> list[str]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    at = path or "/"
    if _anything(new) or old is False:
        return []
    if _anything(old):
        return [f"{at}: accepted anything, now constrained"]
    if new is False:
        return [f"{at}: now accepts nothing"]
    if _ALTERNATIVES & (old.keys() | new.keys()):
        return _compare_alternatives(old, new, old_root, new_root, path)
    problems = _types(old, new, at) + _values(old, new, at) + _bounds(old, new, at)
    problems += _objects(old, new, old_root, new_root, path)
    for keyword in ("items", "propertyNames", "contains"):
        if keyword in old or keyword in new:
            problems += _compare(old.get(keyword, True), new.get(keyword, True),
                                 old_root, new_root, f"{path}/{keyword}")  # fmt: skip
    return problems


def _anything(schema: Any) -> bool:
    return schema is True or (isinstance(schema, dict) and schema.keys() <= _ANNOTATIONS)


def _branches(schema: dict, root: dict) -> list[dict]:
    # A schema with alternatives is the alternatives, each with the schema's other keywords.
    alternatives = schema.get("oneOf", schema.get("anyOf"))
    if alternatives is None:
        return [schema]
    rest = {k: v for k, v in schema.items() if k not in _ALTERNATIVES}
    return [{**rest, **_resolve(branch, root)} for branch in alternatives]


def _compare_alternatives(
    old: dict, new: dict, old_root: dict, new_root: dict, path: str
) -> list[str]:
    # Every old alternative must fit some new one whole.
    problems = []
    news = _branches(new, new_root)
    for index, branch in enumerate(_branches(old, old_root)):
        fits = [_compare(branch, candidate, old_root, new_root, path) for candidate in news]
        if all(fits):
            problems.append(f"{path or '/'}: alternative {index} fits no new alternative "
                            f"({min(fits, key=len)[0]})")  # fmt: skip
    return problems


def _type_set(schema: dict) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set(_ALL_TYPES)
    return {declared} if isinstance(declared, str) else set(declared)


def _types(old: dict, new: dict, at: str) -> list[str]:
    new_types = _type_set(new)
    if "number" in new_types:
        new_types.add("integer")
    lost = _type_set(old) - new_types
    return [f"{at}: type no longer allows {sorted(lost)}"] if lost else []


def _values(old: dict, new: dict, at: str) -> list[str]:
    problems = []
    if "enum" in new:
        allowed = old["enum"] if "enum" in old else [old["const"]] if "const" in old else None
        lost = [v for v in allowed or [] if v not in new["enum"]]
        if allowed is None or lost:
            problems.append(f"{at}: enum lost {lost or 'values it did not list'}")
    if "const" in new and old.get("const", old.get("enum", [None])) not in (
        new["const"],
        [new["const"]],
    ):
        problems.append(f"{at}: const is now {new['const']!r}")
    for keyword in ("pattern", "format"):
        if keyword in new and new[keyword] != old.get(keyword):
            problems.append(f"{at}: {keyword} changed to {new[keyword]!r}")
    return problems


def _bounds(old: dict, new: dict, at: str) -> list[str]:
    problems = []
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            problems.append(f"{at}: {keyword} raised to {new[keyword]}")
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            problems.append(f"{at}: {keyword} lowered to {new[keyword]}")
    return problems


def _objects(old: dict, new: dict, old_root: dict, new_root: dict, path: str) -> list[str]:
    at = path or "/"
    problems = []
    added = sorted(set(new.get("required", ())) - set(old.get("required", ())))
    if added:
        problems.append(f"{at}: newly required {added}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, subschema in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: removed")
        else:
            problems += _compare(subschema, new_props[name], old_root, new_root, f"{path}.{name}")
    old_extra, new_extra = (
        old.get("additionalProperties", True),
        new.get("additionalProperties", True),
    )
    problems += _compare(old_extra, new_extra, old_root, new_root, f"{path}/additionalProperties")
    for name, subschema in new_props.items():
        # A property the old schema let through as an "additional" one must still pass.
        if name not in old_props:
            problems += _compare(old_extra, subschema, old_root, new_root, f"{path}.{name}")
    return problems


def breaking_table_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Breaking changes between two dead-letter header tables (``contracts.dead_letter_table``)."""
    problems = []
    for name, row in old.items():
        if name not in new:
            problems.append(f"header {name!r}: removed")
        elif new[name].required != row.required:
            problems.append(f"header {name!r}: required changed to {new[name].required}")
        elif (new[name].decimal, new[name].same_as) != (row.decimal, row.same_as):
            problems.append(f"header {name!r}: its value changed meaning")
    problems += [f"header {name!r}: new and required" for name, row in new.items()
                 if name not in old and row.required]  # fmt: skip
    return problems
