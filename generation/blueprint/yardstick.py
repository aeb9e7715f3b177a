"""The blueprint model's yardstick: prompts written in many styles with the entities, fields, types and
links a person expects, and follow-ups with the change they expect (yardstick.json), and the checks
that score an answer against them.

`manage.py check_blueprint_apps` runs all of it through the real build and smoke test; the test suite
runs a sample. A prompt is right when every expected entity is there with every expected field, of the
expected kind, and every expected link; a follow-up is applied when its expected change is in the app
and it added no field the request did not name (a "junk" field, like "newest first (text)").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from generation.blueprint import planner

DATA = Path(__file__).with_name("yardstick.json")


def load() -> dict:
    return json.loads(DATA.read_text())


def kind_of(spec: dict) -> str:
    """A field's kind as the yardstick names it: its format, else its type; "ref:Entity" for links."""
    if spec.get("type") == "reference":
        return f"ref:{spec.get('entity')}"
    return spec.get("format") or spec.get("type", "string")


def _find_field(fields: dict, name: str) -> str | None:
    """The app's field that is the expected one: the same name, or one that ends or starts with it
    ("quantity_in_stock" for "quantity", "check_in" for "check_in_date")."""
    if name in fields:
        return name
    for actual in fields:
        if (
            actual.startswith(name + "_")
            or actual.endswith("_" + name)
            or name.startswith(actual + "_")
            or name.endswith("_" + actual)
        ):
            return actual
    return None


def check_prompt(case: dict, app_json: dict, explanation: str) -> list[str]:
    """What is wrong with an app for a yardstick prompt ([] = right entities, fields and links)."""
    problems = []
    entities = {
        name: (spec or {}).get("fields") or {} for name, spec in (app_json.get("entities") or {}).items()
    }
    for names, fields in case["entities"].items():
        entity = next((n for n in names.split("|") if n in entities), None)  # "Feedback|CustomerFeedback"
        if entity is None:
            problems.append(f"no entity {names} (has {', '.join(entities) or 'none'})")
            continue
        for name, kind in fields.items():
            actual = _find_field(entities[entity], name)
            if actual is None:
                problems.append(f"{entity} has no field {name} (has {', '.join(entities[entity])})")
            elif kind_of(entities[entity][actual]) != kind:
                problems.append(f"{entity}.{actual} is {kind_of(entities[entity][actual])}, expected {kind}")
    for child, name, parent in case.get("relations", []):
        fields = entities.get(child, {})
        if not any(kind_of(spec) == f"ref:{parent}" for spec in fields.values()):
            problems.append(f"{child} does not link to {parent}")
    if case.get("scope") and not re.search(r"MODEL_BASE_URL", explanation):
        problems.append("a prompt it cannot write is not answered plainly (no pointer to a full model)")
    return problems


def _signature(plan: planner.AppPlan) -> str:
    return json.dumps([planner.plan_to_spec(plan), plan.theme, plan.accent, plan.background, plan.layout])


def check_style(case: dict, plan: planner.AppPlan) -> list[str]:
    problems = []
    for key in ("accent", "background", "theme"):
        if key in case and getattr(plan, key) != case[key]:
            problems.append(f"{key} is {getattr(plan, key)}, expected {case[key]}")
    if case.get("lang") and plan.lang != case["lang"]:
        problems.append(f"language {plan.lang}, expected {case['lang']}")
    return problems


def check_follow_up(
    case: dict, before: planner.AppPlan, after: planner.AppPlan | None, reply: str
) -> list[str]:
    """What is wrong with a follow-up's result ([] = the expected change is in the app, nothing junk)."""
    expect = case["expect"]
    if expect.get("refused"):
        changed = after is not None and _signature(after) != _signature(before)
        problems = ["changed the app instead of saying it cannot"] if changed else []
        if not re.search(r"can(?:not|'t)|could not", reply):
            problems.append("did not say plainly what it cannot do")
        return problems
    if after is None:
        return ["the app was not changed (no plan could be read back)"]
    problems = []
    app = after.app_json()["entities"]

    def field_check(entity, name, kind):
        fields = app.get(entity, {}).get("fields", {})
        actual = _find_field(fields, name)
        if actual is None:
            return f"{entity} has no field {name}"
        if kind and kind_of(fields[actual]) != kind:
            return f"{entity}.{actual} is {kind_of(fields[actual])}, expected {kind}"
        return None

    for key, value in expect.items():
        if key.startswith("field"):
            problems.append(field_check(*value))
        elif key == "no_field":
            entity, name = value
            if entity in app and name in app[entity]["fields"]:
                problems.append(f"{entity}.{name} is still there")
        elif key == "entity" and value not in app:
            problems.append(f"no entity {value}")
        elif key == "no_entity" and value in app:
            problems.append(f"entity {value} is still there")
        elif key in ("sort", "filter", "group", "stat", "rollup", "highlight", "chart", "required"):
            entity = after.main if value[0] == "*" else after.get(value[0])
            if entity is None:
                problems.append(f"no entity {value[0]}")
                continue
            ok = {
                "sort": lambda e, v: e.sort == (v[1], v[2]),
                "filter": lambda e, v: any(
                    f["field"] == v[1] and (len(v) < 3 or f.get("value") == v[2]) for f in e.filters
                ),
                "group": lambda e, v: e.group == v[1],
                "stat": lambda e, v: any(s["op"] == v[1] and s.get("field") == v[2] for s in e.stats),
                "rollup": lambda e, v: any(
                    r["op"] == v[1] and r["entity"] == v[2] and r.get("field") == v[3] for r in e.rollups
                ),
                "highlight": lambda e, v: any(h["field"] == v[1] for h in e.highlights),
                "chart": lambda e, v: e.chart == {"field": v[1], "by": v[2]},
                "required": lambda e, v: bool(e.field(v[1]) and e.field(v[1]).required),
            }[key](entity, value)
            if not ok:
                problems.append(f"{key} {value} not applied")
        elif key in ("theme", "accent", "background", "layout") and getattr(after, key) != value:
            problems.append(f"{key} is {getattr(after, key)}, expected {value}")
    problems = [p for p in problems if p]
    problems += junk_fields(case, before, after)
    return problems


def junk_fields(case: dict, before: planner.AppPlan, after: planner.AppPlan) -> list[str]:
    """New fields the follow-up's expectation does not name: a request turned into a field."""
    expected = {(v[0], v[1]) for k, v in case["expect"].items() if k.startswith("field")}
    expected_entities = {case["expect"].get("entity")}
    out = []
    for entity in after.entities:
        old = before.get(entity.name)
        if old is None:
            if entity.name not in expected_entities:
                out.append(f"junk entity {entity.name}")
            continue
        for f in entity.fields:
            if (
                old.field(f.name) is None
                and (entity.name, f.name) not in expected
                and not any(
                    e == entity.name and (f.name.startswith(n) or n.startswith(f.name)) for e, n in expected
                )
            ):
                out.append(f"junk field {entity.name}.{f.name}")
    return out
