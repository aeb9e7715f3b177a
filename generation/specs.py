"""Spec mode: a model that writes only an app's spec (the explanation and app.json) still gives the user a
complete, working app. Kiln renders the files the spec implies with the offline blueprint model's
writer (the same screens, API helpers and styles it writes for its own apps) and keeps the model's
app.json as written. About 200 tokens of the model's instead of 5,500 for a working app: the first
target of Kiln's own small models (docs/learning.md).

`expand_spec` is applied where a spec-mode version's answer becomes files (generation.runs), so the
stored version, the UI, the build and the preview all see the whole app.
"""

from __future__ import annotations

import json
import re

from generation.blueprint import planner, writer
from generation.blueprint.planner import AppPlan

FIELD_TYPES = {"string", "text", "number", "integer", "boolean", "date", "datetime", "enum", "reference"}
_ENTITY_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")

SPEC_INVALID = (
    "The model's app.json is not a spec Kiln can turn into an app (each entity needs a name such as "
    '"Book" and fields with a type from docs/app-format.md), so there is nothing to build.'
)
SPEC_MISSING = "The model answered without writing app.json, so Kiln has no spec to build an app from."


def spec_plan(data) -> AppPlan | None:
    """The plan behind a spec (a parsed app.json), or None when it is not one the writer can render:
    every entity named like "Book" with at least one field; every field named like "due_date" with a
    known type; an enum with its values; a reference to an entity of the app."""
    if not isinstance(data, dict) or not isinstance(data.get("entities"), dict) or not data["entities"]:
        return None
    names = set(data["entities"])
    for entity, spec in data["entities"].items():
        if not _ENTITY_NAME.fullmatch(entity) or not isinstance(spec, dict):
            return None
        fields = spec.get("fields")
        if not isinstance(fields, dict) or not fields:
            return None
        for name, field in fields.items():
            if not _FIELD_NAME.fullmatch(name) or not isinstance(field, dict):
                return None
            kind = field.get("type", "string")
            if kind not in FIELD_TYPES:
                return None
            values = field.get("values")
            if kind == "enum" and not (
                isinstance(values, list) and values and all(isinstance(v, str) and v for v in values)
            ):
                return None
            if kind == "reference" and field.get("entity") not in names:
                return None
    return planner.plan_from_app_json(data)


def expand_spec(files: dict[str, str], *, seed: int) -> dict[str, str] | None:
    """The whole app a spec implies: the blueprint writer's files for the plan in `files["app.json"]`
    (its style chosen by `seed`, as for the blueprint's own candidates), with the model's app.json kept
    as written. None when app.json is missing or is not a valid spec."""
    try:
        data = json.loads(files["app.json"])
    except (KeyError, ValueError):
        return None
    plan = spec_plan(data)
    if plan is None:
        return None
    rendered = writer.as_written(writer.write_app(plan, writer.choose_style(plan, seed)))
    rendered["app.json"] = files["app.json"]
    return rendered
