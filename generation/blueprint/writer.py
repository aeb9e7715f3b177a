"""Writes a whole app, in Kiln's output protocol, from a plan (planner.py) and a seed.

The app follows docs/app-format.md: app.json, index.html, src/main.jsx (React 18, automatic JSX
runtime), src/App.jsx, src/api.js (fetch helpers for the runtime's entity API, the only storage: no
localStorage) and src/styles.css (no external URLs).

src/App.jsx is one generic screen driven by the constants at its top: `SPEC` (the plan: every entity,
its fields, links and list options, as JSON), `TEXT` (the interface words in the prompt's language),
the tagline and the delete button's text. A follow-up reads these back (`read_app`) and changes only
what was asked, so its edits are a few lines. Each entity gets a section (a form, a search box, its
filters, a list or a board grouped by an enum, figures at the top, a chart); a reference field is a
select of the other entity's records, and each record lists the records that link to it.

Everything taken from the prompt reaches the JavaScript as JSON literals, so a prompt can never break
the generated code. The seed picks visible, harmless variations (accent colour, density, layout,
corner radius, wording of the tagline, the delete button) so that two candidates for one prompt differ.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass

from generation.blueprint import languages, planner
from generation.blueprint.planner import AppPlan

PALETTE = ["#4f46e5", "#0d9488", "#db2777", "#ea580c", "#2563eb", "#16a34a", "#7c3aed", "#0891b2"]
STYLE_MARKER = re.compile(r"/\* kiln-blueprint: (\{.*?\}) \*/")
_SPEC_BLOCK = re.compile(r"^const SPEC = (\{.*?^\});$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Style:
    accent: str
    theme: str  # light | dark
    density: str  # comfortable | compact
    layout: str  # stacked | split
    radius: int
    heading: int  # which wording of the tagline
    delete_text: str
    background: str | None = None


def choose_style(plan: AppPlan, seed: int | None) -> Style:
    seed = 0 if seed is None else int(seed)
    rng = random.Random(seed)
    return Style(
        accent=plan.accent or PALETTE[seed % len(PALETTE)],
        theme=plan.theme,
        density=rng.choice(["comfortable", "compact"]),
        layout=plan.layout or rng.choice(["stacked", "split"]),
        radius=rng.choice([6, 10, 14]),
        heading=rng.randrange(4),
        delete_text=rng.choice(["Delete", "×"]),
        background=plan.background,
    )


def read_app(files: dict[str, str]) -> tuple[AppPlan, Style] | None:
    """The plan and style behind an app this writer wrote, read back from its files (the SPEC at the
    top of src/App.jsx, the marker of src/styles.css), so that a follow-up writes the same files byte
    for byte except for what the user asked to change. An app whose App.jsx has no SPEC (another
    model's, or one written before SPEC existed) is read from app.json alone. None when app.json is
    missing or not one the writer can rework."""
    try:
        data = json.loads(files.get("app.json", ""))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    app_jsx = files.get("src/App.jsx", "")
    css = files.get("src/styles.css", "")
    plan = None
    block = _SPEC_BLOCK.search(app_jsx)
    if block:
        try:
            plan = planner.plan_from_spec(json.loads(block.group(1)))
        except ValueError:
            plan = None
        if plan is not None and plan.app_json()["entities"] != (data.get("entities") or {}):
            plan = None  # app.json was edited by hand: it is the truth
    if plan is None:
        plan = planner.plan_from_app_json(data)
        if plan is None:
            return None
        plan.from_spec = False
    plan.name = str(data.get("name") or plan.name)
    fallback = choose_style(plan, 0)
    marker = STYLE_MARKER.search(css)
    try:
        saved = json.loads(marker.group(1)) if marker else {}
    except ValueError:
        saved = {}
    plan.accent = saved.get("accent") or None
    plan.theme = saved.get("theme") if saved.get("theme") in ("light", "dark") else "light"
    plan.background = saved.get("background") or None
    layout = re.search(r'^const LAYOUT = "(stacked|split)";$', app_jsx, re.MULTILINE)
    plan.layout = layout.group(1) if layout else None
    tagline = _constant(app_jsx, r'^const TAGLINE = ("(?:[^"\\]|\\.)*");$')
    taglines = [_tagline(plan, i) for i in range(len(_TAGLINES["en"]))]
    delete_text = _constant(app_jsx, r'^const DELETE_TEXT = ("(?:[^"\\]|\\.)*");$')
    style = Style(
        accent=plan.accent or fallback.accent,
        theme=plan.theme,
        density=saved.get("density")
        if saved.get("density") in ("comfortable", "compact")
        else fallback.density,
        layout=plan.layout or fallback.layout,
        radius=saved.get("radius") if isinstance(saved.get("radius"), int) else fallback.radius,
        heading=taglines.index(tagline) if tagline in taglines else fallback.heading,
        delete_text=delete_text if isinstance(delete_text, str) else fallback.delete_text,
        background=plan.background,
    )
    return plan, style


def _constant(source: str, pattern: str):
    match = re.search(pattern, source, re.MULTILINE)
    if not match:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


def write_app(plan: AppPlan, style: Style) -> dict[str, str]:
    """The app's files, path -> content, in the order they are written."""
    used = features(plan)
    return {
        "app.json": json.dumps(plan.app_json(), indent=2, ensure_ascii=False) + "\n",
        "index.html": _index_html(plan),
        "src/main.jsx": MAIN_JSX,
        "src/api.js": API_JS,
        "src/App.jsx": _app_jsx(plan, style),
        "src/styles.css": _prune_css(_styles_css(style), used),
    }


# CSS rules that only an app using the feature needs (selectors as they start).
_FEATURE_CSS = {
    "nav": (".sections",),
    "figures": (".figure",),
    "chart": (".chart",),
    "board": (".board", ".column"),
    "stars": (".stars", ".star"),
    "refs": (".related",),
    "filters": (".range",),
    "highlights": (".is-lit",),
}


def _prune_css(css: str, used: set[str]) -> str:
    dropped = tuple(
        s for feature, selectors in _FEATURE_CSS.items() if feature not in used for s in selectors
    )
    blocks = css.split("\n\n")
    kept = [b for b in blocks if not (dropped and b.lstrip().startswith(dropped) and "{" in b)]
    return "\n\n".join(kept)


def as_written(files: dict[str, str]) -> dict[str, str]:
    """The files as they are stored after render_response and the parser (no final newline)."""
    return {path: content.rstrip("\n") for path, content in files.items()}


def render_response(plan: AppPlan, files: dict[str, str], intro: str) -> str:
    """The model's whole answer: explanation, the files in <file> blocks, a closing line."""
    parts = [intro.strip(), ""]
    for path, content in files.items():
        parts.append(f'<file path="{path}">\n{content.rstrip(chr(10))}\n</file>')
    parts.append("")
    parts.append(languages.EXPLAIN[plan.lang]["open"].format(one=plan.noun))
    return "\n".join(parts) + "\n"


SCOPE_NOTES = {
    "game": "a playable game (moves, rules, animation)",
    "chess": "a playable chess game (a board, moves, two players online)",
    "poker": "a playable card game (dealing, betting, other players online)",
    "chat": "real-time chat (messages pushed between people as they type)",
    "email": "sending and receiving real email (apps here have no network)",
    "simulation": "a simulation (physics, animation, a model that runs by itself)",
    "calculator": "a calculator or converter (it writes apps that keep records, not tools that compute)",
    "timer": "a live timer (something that ticks, rings and runs in the background)",
    "drawing": "a drawing or image-editing tool (a canvas, brushes, layers)",
    "editor": "an editor with a live preview (it writes forms and lists, not editors)",
    "player": "a media player (playing music or video needs files and streaming)",
    "weather": "live data from the internet (apps here have no network)",
    "map": "maps or navigation (apps here have no network and no map tiles)",
    "quiz": "an interactive quiz that asks questions and scores the answers",
    "website": "a designed website (pages, navigation, hero images and copy)",
}


def describe_app(plan: AppPlan) -> str:
    """The explanation, in the prompt's language: what was built, each thing's fields, the links; for a
    prompt it cannot write, a plain account of what it wrote instead."""
    words = languages.EXPLAIN[plan.lang]
    things = _join([e.many for e in plan.entities], plan.lang)
    lines = []
    if plan.scope_note:
        lines.append(
            f"The offline blueprint model cannot write {SCOPE_NOTES[plan.scope_note]}: it writes data apps "
            "(forms, lists, records that are saved). For the app you described, connect a full model "
            "(set MODEL_BASE_URL to an OpenAI-compatible server such as vLLM). What I can do instead is the "
            "data part of the idea, so that is what I built:"
        )
    lines.append(words["built"].format(name=plan.name, things=things))
    for e in plan.entities:
        lines.append(words["each"].format(entity=e.noun, fields=planner.describe_fields(e, plan.lang)))
    for child in plan.entities:
        for f in child.fields:
            parent = plan.get(f.ref) if f.ref else None
            if parent is not None:
                lines.append(
                    words["links"].format(
                        child=child.many[:1].upper() + child.many[1:],
                        parent=parent.many,
                        parent_one=parent.noun,
                        child_many=child.many,
                    )
                )
    return " ".join(lines)


def _join(items: list[str], lang: str) -> str:
    joiner = {"en": " and ", "fr": " et ", "es": " y ", "de": " und "}[lang]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + joiner + items[-1]


# --- Files -----------------------------------------------------------------------------------------


def _index_html(plan: AppPlan) -> str:
    title = plan.name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<!doctype html>
<html lang="{plan.lang}">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{title}</title>
    <link rel="stylesheet" href="/bundle.css" />
  </head>
  <body>
    <div id="root"></div>
    <script src="/bundle.js"></script>
  </body>
</html>
"""


MAIN_JSX = """import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App.jsx";
import "./styles.css";

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>
);
"""

API_JS = """// Tiny helpers for the entity API the runtime serves on this origin (see app.json).

async function request(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
  });
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && body.error) || `Request failed with status ${response.status}`);
  }
  return body;
}

const collection = (entity) => `/api/entities/${encodeURIComponent(entity)}`;

export function listRecords(entity) {
  return request(collection(entity));
}

export function createRecord(entity, data) {
  return request(collection(entity), { method: "POST", body: JSON.stringify(data) });
}

export function updateRecord(entity, id, changes) {
  return request(`${collection(entity)}/${id}`, { method: "PATCH", body: JSON.stringify(changes) });
}

export function deleteRecord(entity, id) {
  return request(`${collection(entity)}/${id}`, { method: "DELETE" });
}
"""

_TAGLINES = {
    "en": [
        "Add {many} below; everything is saved automatically.",
        "Keep track of your {many} in one place.",
        "A simple home for your {many}.",
        "Everything about your {many}, saved as you go.",
    ],
    "fr": [
        "Ajoutez vos {many} ci-dessous ; tout est enregistré.",
        "Tous vos {many} au même endroit.",
        "Un endroit simple pour vos {many}.",
        "Vos {many}, enregistrés au fur et à mesure.",
    ],
    "es": [
        "Añade tus {many} abajo; todo se guarda solo.",
        "Todos tus {many} en un solo sitio.",
        "Un lugar sencillo para tus {many}.",
        "Tus {many}, guardados sobre la marcha.",
    ],
    "de": [
        "Füge unten {many} hinzu; alles wird gespeichert.",
        "Alle {many} an einem Ort.",
        "Ein einfacher Ort für {many}.",
        "{many}, gespeichert während du arbeitest.",
    ],
}


def _js(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _tagline(plan: AppPlan, heading: int) -> str:
    many = _join([e.many for e in plan.entities[:3]], plan.lang)
    return _TAGLINES[plan.lang][heading].format(many=many)


def spec_js(spec: dict) -> str:
    """The SPEC constant: valid JSON, one field (and one list option) a line, so edits stay small."""
    lines = [
        "const SPEC = {",
        f'  "name": {_js(spec["name"])},',
        f'  "lang": {_js(spec["lang"])},',
        '  "entities": [',
    ]
    for i, e in enumerate(spec["entities"]):
        lines.append("    {")
        lines.append(f'      "name": {_js(e["name"])}, "one": {_js(e["one"])}, "many": {_js(e["many"])},')
        lines.append('      "fields": [')
        for j, f in enumerate(e["fields"]):
            lines.append("        " + _js(f) + ("," if j < len(e["fields"]) - 1 else ""))
        lines.append("      ],")
        keys = ["sort", "filters", "group", "stats", "rollups", "highlights", "chart"]
        for k, key in enumerate(keys):
            lines.append(f'      "{key}": {_js(e[key])}' + ("," if k < len(keys) - 1 else ""))
        lines.append("    }" + ("," if i < len(spec["entities"]) - 1 else ""))
    lines += ["  ]", "};"]
    return "\n".join(lines)


def _app_jsx(plan: AppPlan, style: Style) -> str:
    constants = "\n".join(
        [
            spec_js(planner.plan_to_spec(plan)),
            f"const TEXT = {_js(languages.UI[plan.lang])};",
            f"const TAGLINE = {_js(_tagline(plan, style.heading))};",
            f"const DELETE_TEXT = {_js(languages.UI[plan.lang]['delete'] if style.delete_text != '×' else '×')};",
        ]
    )
    template = _select(APP_JSX, features(plan))
    return template.replace("__CONSTANTS__", constants).replace("__LAYOUT__", _js(style.layout))


def features(plan: AppPlan) -> set[str]:
    """What the app uses: the code (and CSS) for anything else is left out, so a small app stays small
    and a follow-up that adds a chart adds the chart's code."""
    fields = [f for e in plan.entities for f in e.fields]
    found = {
        "refs": any(f.type == "reference" for f in fields),
        "stars": any(f.format == "rating" for f in fields),
        "chart": any(e.chart for e in plan.entities),
        "board": any(e.group for e in plan.entities),
        "filters": any(e.filters for e in plan.entities),
        "stats": any(e.stats for e in plan.entities),
        "rollups": any(e.rollups for e in plan.entities),
        "highlights": any(e.highlights for e in plan.entities),
        "nav": len(plan.entities) > 1,
    }
    found["figures"] = found["stats"] or found["rollups"]
    return {name for name, used in found.items() if used}


def _select(template: str, on: set[str]) -> str:
    """The template's lines with "#if feature" / "#else" / "#endif" blocks kept or dropped."""
    out, stack = [], [True]
    for line in template.split("\n"):
        marker = line.strip()
        if marker.startswith("#if "):
            stack.append(stack[-1] and marker[4:].strip() in on)
        elif marker == "#else":
            stack[-1] = not stack[-1] and stack[-2]
        elif marker == "#endif":
            stack.pop()
        elif stack[-1]:
            out.append(line)
    return "\n".join(out)


APP_JSX = """import { useEffect, useMemo, useState } from "react";
import { createRecord, deleteRecord, listRecords, updateRecord } from "./api.js";

__CONSTANTS__

const LAYOUT = __LAYOUT__;
const ENTITY = SPEC.entities[0].name; // the main thing: the first section, and the one a smoke test creates
const BY_NAME = Object.fromEntries(SPEC.entities.map((entity) => [entity.name, entity]));
const fill = (text, entity) => text.replace("{one}", entity.one).replace("{many}", entity.many);
const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const today = () => new Date().toISOString().slice(0, 10);

// What a record is called on the page: its first field (but `skip`), or the record it links to.
function titleOf(entity, record, all, skip) {
  if (!record) return "";
  const first = entity.fields.find((f) => f.name !== skip) || entity.fields[0];
  const value = record[first.name];
#if refs
  if (first.type === "reference") {
    const target = BY_NAME[first.ref];
    const linked = (all[first.ref] || []).find((other) => other.id === value);
    return linked ? titleOf(target, linked, all) : `${capital(entity.one)} ${record.id}`;
  }
#endif
  return value === null || value === undefined || value === "" ? `${capital(entity.one)} ${record.id}` : String(value);
}

function emptyDraft(entity) {
  const draft = {};
  for (const field of entity.fields) {
    if (field.type === "boolean") draft[field.name] = field.default ?? false;
    else if (field.type === "enum") draft[field.name] = field.default ?? field.values[0];
    else draft[field.name] = field.default ?? "";
  }
  return draft;
}

// The form keeps strings; the API wants typed values and no empty optional fields.
function toRecord(entity, draft) {
  const record = {};
  for (const field of entity.fields) {
    const value = draft[field.name];
    if (field.type === "boolean" || field.type === "enum") {
      record[field.name] = value;
      continue;
    }
    const text = String(value ?? "").trim();
    if (text === "") continue;
    if (field.type === "integer" || field.type === "reference") record[field.name] = Number.parseInt(text, 10);
    else if (field.type === "number") record[field.name] = Number(text);
    else if (field.type === "datetime") record[field.name] = new Date(text).toISOString();
    else record[field.name] = text;
  }
  return record;
}

function formatValue(field, value, all) {
  if (value === null || value === undefined || value === "") return "";
#if refs
  if (field.type === "reference") {
    const target = BY_NAME[field.ref];
    const linked = (all[field.ref] || []).find((other) => other.id === value);
    return linked ? titleOf(target, linked, all) : "";
  }
#endif
  if (field.type === "date") return new Date(`${value}T00:00:00`).toLocaleDateString(SPEC.lang);
  if (field.type === "datetime") return new Date(value).toLocaleString(SPEC.lang);
  if (field.format === "money") {
    return Number(value).toLocaleString(SPEC.lang, { style: "currency", currency: field.currency || "USD" });
  }
  if (field.format === "percent") return `${Number(value).toLocaleString(SPEC.lang)} %`;
  if (field.format === "rating") return "★".repeat(Number(value)) + "☆".repeat(Math.max(0, 5 - Number(value)));
  if (field.format === "duration") {
    const minutes = Number(value);
    return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
  }
  if (field.type === "number") return Number(value).toLocaleString(SPEC.lang, { maximumFractionDigits: 2 });
  if (field.unit) return `${value} ${field.unit}`;
  return String(value);
}

function sortValue(entity, record, name) {
  const value = record[name] ?? "";
  const field = entity.fields.find((f) => f.name === name);
  return field && field.type === "enum" ? field.values.indexOf(value) : value;
}

function compareBy(entity) {
  const [name, direction] = entity.sort || ["created_at", "desc"];
  return (a, b) => {
    const x = sortValue(entity, a, name);
    const y = sortValue(entity, b, name);
    let order =
      typeof x === "number" && typeof y === "number"
        ? x - y
        : String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: "base" });
    if (order === 0) order = a.id - b.id;
    return direction === "desc" ? -order : order;
  };
}

#if figures
// The figures of a list ("total", "average"...) over some records.
function figure(op, field, records) {
  if (op === "count") return records.length;
  const values = records.map((record) => Number(record[field])).filter((value) => !Number.isNaN(value) && value !== null);
  if (values.length === 0) return null;
  if (op === "sum") return values.reduce((a, b) => a + b, 0);
  if (op === "avg") return values.reduce((a, b) => a + b, 0) / values.length;
  if (op === "min") return Math.min(...values);
  if (op === "max") return Math.max(...values);
  return null;
}

function showFigure(entity, stat, value) {
  if (value === null || value === undefined) return TEXT.none;
  const field = entity.fields.find((f) => f.name === stat.field);
  if (stat.op === "count" || !field) return String(value);
  if (stat.op === "avg" && field.format === "rating") return `${value.toFixed(1)} ★`;
  if (field.format === "money" || field.format === "percent" || field.format === "duration") {
    return formatValue(field, field.format === "duration" ? Math.round(value) : value, {});
  }
  return Number(value).toLocaleString(SPEC.lang, { maximumFractionDigits: 2 });
}
#endif


#if highlights
function matchesHighlight(rule, record) {
  const value = record[rule.field];
  if (value === null || value === undefined || value === "") return false;
  if (rule.when === "overdue") return String(value).slice(0, 10) < today() && !record[rule.unless || "__none"];
  if (rule.when === "eq") return String(value) === String(rule.value);
  if (rule.when === "gte") return Number(value) >= Number(rule.value);
  if (rule.when === "lte") return Number(value) <= Number(rule.value);
  return false;
}
#endif


#if stars
function Stars({ value, onChange, label }) {
  return (
    <span className="stars" role="radiogroup" aria-label={label}>
      {[1, 2, 3, 4, 5].map((n) => (
        <button key={n} type="button" className={n <= (value || 0) ? "star on" : "star"} aria-label={`${n}`}
          onClick={() => onChange(n === value ? "" : n)}>
          ★
        </button>
      ))}
    </span>
  );
}
#endif


function inputType(field) {
  if (field.input) return field.input;
  if (field.format === "email") return "email";
  if (field.format === "phone") return "tel";
  if (field.format === "url" || field.format === "image") return "url";
  if (field.type === "integer" || field.type === "number") return "number";
  if (field.type === "date") return "date";
  if (field.type === "datetime") return "datetime-local";
  return "text";
}

function FieldInput({ entity, field, value, onChange, all }) {
  const id = `new-${entity.name}-${field.name}`;
  if (field.type === "boolean") {
    return (
      <div className="field field-check">
        <input id={id} name={field.name} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />
        <label htmlFor={id}>{field.label}</label>
      </div>
    );
  }
  let control;
  if (field.type === "text") {
    control = <textarea id={id} name={field.name} rows={3} value={value} required={field.required} onChange={(e) => onChange(e.target.value)} />;
  } else if (field.type === "enum") {
    control = (
      <select id={id} name={field.name} value={value} onChange={(e) => onChange(e.target.value)}>
        {field.values.map((option) => <option key={option} value={option}>{option}</option>)}
      </select>
    );
#if refs
  } else if (field.type === "reference") {
    const target = BY_NAME[field.ref];
    control = (
      <select id={id} name={field.name} value={value} required={field.required} onChange={(e) => onChange(e.target.value)}>
        <option value="">{TEXT.none}</option>
        {(all[field.ref] || []).map((record) => (
          <option key={record.id} value={record.id}>{titleOf(target, record, all)}</option>
        ))}
      </select>
    );
#endif
#if stars
  } else if (field.format === "rating") {
    control = <Stars value={value === "" ? 0 : Number(value)} onChange={onChange} label={field.label} />;
#endif
  } else {
    control = (
      <input id={id} name={field.name} type={inputType(field)} value={value} required={field.required}
        min={field.min} max={field.max} step={field.type === "integer" ? 1 : field.type === "number" ? "any" : undefined}
        onChange={(e) => onChange(e.target.value)} />
    );
  }
  return (
    <div className={field.type === "text" ? "field field-wide" : "field"}>
      <label htmlFor={id}>
        {field.label}
        {field.required ? <span className="required" aria-hidden="true"> *</span> : null}
      </label>
      {control}
    </div>
  );
}

function Chip({ entity, field, record, all, onUpdate }) {
  const title = titleOf(entity, record, all);
  if (field.type === "boolean") {
    return (
      <label className="chip chip-check">
        <input type="checkbox" checked={Boolean(record[field.name])} onChange={() => onUpdate(record, { [field.name]: !record[field.name] })} />
        {field.label}
      </label>
    );
  }
  if (field.type === "enum") {
    return (
      <select className="chip chip-select" aria-label={`${field.label}: ${title}`} value={record[field.name] ?? field.values[0]}
        onChange={(e) => onUpdate(record, { [field.name]: e.target.value })}>
        {field.values.map((option) => <option key={option} value={option}>{option}</option>)}
      </select>
    );
  }
  const shown = formatValue(field, record[field.name], all);
  if (!shown || field.type === "text") return null;
  if (field.format === "image") return <img className="thumb" src={record[field.name]} alt={`${field.label}: ${title}`} />;
  if (field.format === "url") return <a className="chip" href={record[field.name]} target="_blank" rel="noreferrer">{field.label}</a>;
  if (field.format === "email") return <a className="chip" href={`mailto:${record[field.name]}`}>{shown}</a>;
  return (
    <span className={field.format === "rating" ? "chip chip-stars" : "chip"}>
      <span className="chip-label">{field.label.replace(/ \\(.*\\)$/, "")}</span> {shown}
    </span>
  );
}

function Row({ entity, record, all, onUpdate, onDelete }) {
  const title = titleOf(entity, record, all);
  const first = entity.fields[0];
  const done = entity.fields.find((f) => f.type === "boolean");
#if highlights
  const lit = (entity.highlights || []).find((rule) => matchesHighlight(rule, record));
#else
  const lit = null;
#endif
#if refs
  const children = SPEC.entities.flatMap((child) =>
    child.fields.filter((f) => f.type === "reference" && f.ref === entity.name).map((f) => [child, f]));
#endif
  return (
    <li className={`item${done && record[done.name] ? " is-done" : ""}${lit ? " is-lit" : ""}`}
      style={lit ? { "--lit": lit.colour } : undefined}>
      <div className="item-body">
        <span className="item-title">{title}</span>
        <div className="item-meta">
          {entity.fields.filter((f) => f !== first || f.type === "reference").slice(first.type === "reference" ? 1 : 0).map((field) => (
            <Chip key={field.name} entity={entity} field={field} record={record} all={all} onUpdate={onUpdate} />
          ))}
#if rollups
          {(entity.rollups || []).map((rollup) => {
            const child = BY_NAME[rollup.entity];
            const link = child && child.fields.find((f) => f.type === "reference" && f.ref === entity.name);
            if (!link) return null;
            const related = (all[child.name] || []).filter((other) => other[link.name] === record.id);
            const value = rollup.op === "remaining"
              ? Number(record[rollup.field] || 0) - related.length
              : figure(rollup.op, rollup.field, related);
            const shown = rollup.op === "remaining" ? String(value) : showFigure(child, rollup, value);
            return (
              <span key={`${rollup.op}-${rollup.entity}-${rollup.field}`} className="chip chip-figure">
                <span className="chip-label">{rollup.label}</span> {shown}
              </span>
            );
          })}
#endif
        </div>
        {entity.fields.filter((f) => f.type === "text" && record[f.name]).map((field) => (
          <p key={field.name} className="item-text"><span className="chip-label">{field.label}</span> {record[field.name]}</p>
        ))}
#if refs
        {children.map(([child, link]) => {
          const related = (all[child.name] || []).filter((other) => other[link.name] === record.id);
          if (related.length === 0) return null;
          return (
            <p key={`${child.name}-${link.name}`} className="related">
              <span className="chip-label">{capital(child.many)} ({related.length})</span>{" "}
              {related.slice(0, 6).map((other) => titleOf(child, other, all, link.name)).join(", ")}
            </p>
          );
        })}
#endif
      </div>
      <button type="button" className="delete" aria-label="Delete" title={`${TEXT.delete}: ${title}`} onClick={() => onDelete(entity, record)}>
        {DELETE_TEXT}
      </button>
    </li>
  );
}

#if chart
function Chart({ entity, records }) {
  const field = entity.fields.find((f) => f.name === entity.chart.field);
  const by = entity.fields.find((f) => f.name === entity.chart.by) ||
    (entity.chart.by === "created_at" ? { name: "created_at", label: "Added", type: "datetime" } : null);
  if (!field || !by) return null;
  const points = records
    .filter((record) => record[by.name] && record[field.name] !== null && record[field.name] !== undefined)
    .sort((a, b) => String(a[by.name]).localeCompare(String(b[by.name])))
    .slice(-24);
  const top = Math.max(1, ...points.map((record) => Number(record[field.name])));
  return (
    <figure className="chart" aria-label={`${field.label} / ${by.label}`}>
      <figcaption>{field.label} · {by.label}</figcaption>
      <svg viewBox={`0 0 ${Math.max(1, points.length) * 24} 100`} preserveAspectRatio="none" role="img">
        {points.map((record, i) => {
          const h = (Number(record[field.name]) / top) * 92;
          return <rect key={record.id} x={i * 24 + 4} y={100 - h} width={16} height={h} rx={2}><title>{`${formatValue(by, record[by.name], {})}: ${formatValue(field, record[field.name], {})}`}</title></rect>;
        })}
      </svg>
    </figure>
  );
}
#endif


function Section({ entity, all, onCreate, onUpdate, onDelete }) {
  const records = all[entity.name] || [];
  const [draft, setDraft] = useState(() => emptyDraft(entity));
  const [query, setQuery] = useState("");
#if filters
  const [picked, setPicked] = useState(() =>
    Object.fromEntries((entity.filters || []).map((f) => [f.field, { value: f.value ?? "", min: f.min ?? "", max: f.max ?? "" }])));
#else
  const picked = {};
#endif
  const [saving, setSaving] = useState(false);
  const searchable = entity.fields.filter((f) => ["string", "text", "enum"].includes(f.type)).map((f) => f.name);

  const visible = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return records
      .filter((record) => !needle || searchable.some((name) => String(record[name] ?? "").toLowerCase().includes(needle)))
#if filters
      .filter((record) => (entity.filters || []).every((filter) => {
        const choice = picked[filter.field] || {};
        const value = record[filter.field];
        if (choice.value !== "" && choice.value !== undefined && String(value) !== String(choice.value)) return false;
        if (choice.min !== "" && choice.min !== undefined && !(value !== null && value !== undefined && String(value) >= String(choice.min) && (typeof value !== "number" || value >= Number(choice.min)))) return false;
        if (choice.max !== "" && choice.max !== undefined && !(value !== null && value !== undefined && (typeof value === "number" ? value <= Number(choice.max) : String(value).slice(0, 10) <= String(choice.max)))) return false;
        return true;
      }))
#endif
      .sort(compareBy(entity));
  }, [records, query, picked]);

  async function submit(event) {
    event.preventDefault();
    setSaving(true);
    if (await onCreate(entity, toRecord(entity, draft))) setDraft(emptyDraft(entity));
    setSaving(false);
  }

#if board
  const group = entity.group && entity.fields.find((f) => f.name === entity.group);
#endif
  const rows = (list) => (
    <ul className="items">
      {list.map((record) => <Row key={record.id} entity={entity} record={record} all={all} onUpdate={onUpdate} onDelete={onDelete} />)}
    </ul>
  );
  return (
    <section className="entity" id={`section-${entity.name}`} aria-label={capital(entity.many)}>
      <h2>{capital(entity.many)} <span className="count">{records.length}</span></h2>
#if stats
      {(entity.stats || []).length ? (
        <div className="figures">
          {entity.stats.map((stat) => (
            <div key={`${stat.op}-${stat.field}`} className="figure">
              <span className="figure-value">{showFigure(entity, stat, figure(stat.op, stat.field, visible))}</span>
              <span className="figure-label">{stat.label}</span>
            </div>
          ))}
        </div>
      ) : null}
#endif
#if chart
      {entity.chart ? <Chart entity={entity} records={visible} /> : null}
#endif
      <div className="panels">
        <form className="panel add-form" aria-label={`Add ${entity.name}`} onSubmit={submit}>
          <h3>{fill(TEXT.new, entity)}</h3>
          {entity.fields.map((field) => (
            <FieldInput key={field.name} entity={entity} field={field} value={draft[field.name]} all={all}
              onChange={(value) => setDraft((current) => ({ ...current, [field.name]: value }))} />
          ))}
          <div className="form-actions"><button type="submit" disabled={saving}>{TEXT.add}</button></div>
        </form>
        <div className="panel list">
          <div className="toolbar">
            <input type="search" className="search" placeholder={fill(TEXT.search, entity)} aria-label={`${TEXT.search.replace("{many}", entity.many)}`}
              value={query} onChange={(e) => setQuery(e.target.value)} />
#if filters
            {(entity.filters || []).map((filter) => {
              const field = entity.fields.find((f) => f.name === filter.field);
              if (!field) return null;
              const choice = picked[filter.field] || {};
              const set = (key, value) => setPicked((current) => ({ ...current, [filter.field]: { ...choice, [key]: value } }));
              if (["enum", "boolean", "reference"].includes(field.type)) {
                const options = field.type === "enum" ? field.values.map((v) => [v, v])
                  : field.type === "boolean" ? [["true", field.label], ["false", TEXT.not.replace("{label}", field.label.toLowerCase())]]
                  : (all[field.ref] || []).map((record) => [String(record.id), titleOf(BY_NAME[field.ref], record, all)]);
                return (
                  <select key={field.name} aria-label={field.label} value={choice.value ?? ""} onChange={(e) => set("value", e.target.value)}>
                    <option value="">{field.label}: {TEXT.all}</option>
                    {options.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
                  </select>
                );
              }
              const type = field.type === "date" || field.type === "datetime" ? "date" : "number";
              return (
                <span key={field.name} className="range">
                  <span className="chip-label">{field.label}</span>
                  <input type={type} aria-label={`${field.label} ${TEXT.min}`} value={choice.min ?? ""} onChange={(e) => set("min", e.target.value)} />
                  <input type={type} aria-label={`${field.label} ${TEXT.max}`} value={choice.max ?? ""} onChange={(e) => set("max", e.target.value)} />
                </span>
              );
            })}
#endif
          </div>
          {records.length === 0 ? (
            <p className="empty">{fill(TEXT.empty, entity)}</p>
          ) : visible.length === 0 ? (
            <p className="empty">{fill(TEXT.no_match, entity)}</p>
#if board
          ) : group && group.type === "enum" ? (
            <div className="board">
              {group.values.map((value) => {
                const column = visible.filter((record) => (record[group.name] ?? group.values[0]) === value);
                return (
                  <div key={value} className="column">
                    <h4>{value} <span className="count">{column.length}</span></h4>
#if stats
                    {(entity.stats || []).filter((stat) => stat.op !== "count").map((stat) => (
                      <p key={`${stat.op}-${stat.field}`} className="column-figure">{stat.label}: {showFigure(entity, stat, figure(stat.op, stat.field, column))}</p>
                    ))}
#endif
                    {rows(column)}
                  </div>
                );
              })}
            </div>
#endif
          ) : (
            rows(visible)
          )}
        </div>
      </div>
    </section>
  );
}

export default function App() {
  const [all, setAll] = useState({});
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  async function reload() {
    const lists = await Promise.all(SPEC.entities.map((entity) => listRecords(entity.name)));
    setAll(Object.fromEntries(SPEC.entities.map((entity, i) => [entity.name, lists[i]])));
  }

  useEffect(() => {
    reload().catch((err) => setError(err.message)).finally(() => setLoading(false));
  }, []);

  async function onCreate(entity, values) {
    try {
      const created = await createRecord(entity.name, values);
      setAll((current) => ({ ...current, [entity.name]: [...(current[entity.name] || []), created] }));
      setError("");
      return true;
    } catch (err) {
      setError(err.message);
      return false;
    }
  }

  async function onUpdate(record, changes) {
    const entity = SPEC.entities.find((e) => (all[e.name] || []).includes(record));
    if (!entity) return;
    try {
      const updated = await updateRecord(entity.name, record.id, changes);
      setAll((current) => ({ ...current, [entity.name]: current[entity.name].map((other) => (other.id === record.id ? updated : other)) }));
    } catch (err) {
      setError(err.message);
    }
  }

  async function onDelete(entity, record) {
    try {
      await deleteRecord(entity.name, record.id);
      await reload(); // a delete may take linked records with it (app.json says "cascade")
      setError("");
    } catch (err) {
      setError(err.message);
    }
  }

  return (
    <div className={`app layout-${LAYOUT}`} data-entity={ENTITY}>
      <header className="app-header">
        <h1>{SPEC.name}</h1>
        <p className="tagline">{TAGLINE}</p>
#if nav
        {SPEC.entities.length > 1 ? (
          <nav className="sections" aria-label={TEXT.sections}>
            {SPEC.entities.map((entity) => <a key={entity.name} href={`#section-${entity.name}`}>{capital(entity.many)}</a>)}
          </nav>
        ) : null}
#endif
      </header>
      {error ? <p className="error" role="alert">{error}</p> : null}
      {loading ? <p className="empty">{TEXT.loading}</p> : SPEC.entities.map((entity) => (
        <Section key={entity.name} entity={entity} all={all} onCreate={onCreate} onUpdate={onUpdate} onDelete={onDelete} />
      ))}
    </div>
  );
}
"""


def _styles_css(style: Style) -> str:
    gap = {"comfortable": ("1rem", "1.5rem"), "compact": ("0.6rem", "1rem")}[style.density]
    if style.background is not None:
        dark = planner._luminance(style.background) < 0.45
        surface = (
            "color-mix(in srgb, var(--bg) 88%, white)" if dark else "color-mix(in srgb, var(--bg) 35%, white)"
        )
        colours = f"""  color-scheme: {"dark" if dark else "light"};
  --bg: {style.background};
  --surface: {surface};
  --text: {"#f1f5f9" if dark else "#1f2937"};
  --muted: {"#cbd5e1" if dark else "#4b5563"};
  --border: color-mix(in srgb, var(--text) 18%, transparent);
  --input: {surface};"""
    elif style.theme == "dark":
        colours = """  color-scheme: dark;
  --bg: #0f172a;
  --surface: #1e293b;
  --text: #e2e8f0;
  --muted: #94a3b8;
  --border: #334155;
  --input: #0f172a;"""
    else:
        colours = """  color-scheme: light;
  --bg: #f6f7fb;
  --surface: #ffffff;
  --text: #1f2937;
  --muted: #6b7280;
  --border: #e5e7eb;
  --input: #ffffff;"""
    marker = json.dumps(
        {
            "accent": style.accent,
            "theme": style.theme,
            "background": style.background,
            "radius": style.radius,
            "density": style.density,
        }
    )
    return f"""/* kiln-blueprint: {marker} */
:root {{
{colours}
  --accent: {style.accent};
  --danger: #dc2626;
  --radius: {style.radius}px;
  --gap: {gap[0]};
  --pad: {gap[1]};
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5;
}}

* {{
  box-sizing: border-box;
}}

body {{
  margin: 0;
  background: var(--bg);
  color: var(--text);
}}

.app {{
  max-width: 880px;
  margin: 0 auto;
  padding: var(--pad);
  display: grid;
  gap: var(--pad);
}}

.panels {{
  display: grid;
  gap: var(--gap);
}}

@media (min-width: 900px) {{
  .layout-split {{
    max-width: 1180px;
  }}
  .layout-split .panels {{
    grid-template-columns: minmax(260px, 1fr) 2fr;
    align-items: start;
  }}
}}

.sections {{
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
  margin-top: 0.75rem;
}}

.sections a {{
  color: var(--accent);
  font-weight: 600;
  text-decoration: none;
  padding: 0.2rem 0.7rem;
  border: 1px solid var(--accent);
  border-radius: 999px;
}}

.entity {{
  display: grid;
  gap: var(--gap);
}}

.entity h2 {{
  margin: 0;
  font-size: 1.35rem;
}}

.panel h3 {{
  grid-column: 1 / -1;
  margin: 0;
  font-size: 1rem;
}}

.figures {{
  display: flex;
  flex-wrap: wrap;
  gap: var(--gap);
}}

.figure {{
  display: grid;
  min-width: 9rem;
  padding: 0.6rem 0.9rem;
  border-radius: var(--radius);
  background: var(--surface);
  border: 1px solid var(--border);
  border-top: 3px solid var(--accent);
}}

.figure-value {{
  font-size: 1.4rem;
  font-weight: 700;
}}

.figure-label,
.column-figure {{
  color: var(--muted);
  font-size: 0.85rem;
  margin: 0;
}}

.chart {{
  margin: 0;
  padding: 0.6rem;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
}}

.chart svg {{
  width: 100%;
  height: 140px;
  fill: var(--accent);
}}

.chart figcaption {{
  color: var(--muted);
  font-size: 0.85rem;
}}

.board {{
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: var(--gap);
}}

.column {{
  background: var(--bg);
  border-radius: var(--radius);
  padding: 0.5rem;
}}

.column h4 {{
  margin: 0 0 0.5rem;
  text-transform: capitalize;
}}

.stars {{
  display: inline-flex;
}}

.star {{
  font-size: 1.3rem;
  line-height: 1;
  background: none;
  border: none;
  padding: 0 0.1rem;
  color: var(--border);
  cursor: pointer;
}}

.star.on,
.chip-stars {{
  color: #d97706;
}}

.thumb {{
  width: 3rem;
  height: 3rem;
  object-fit: cover;
  border-radius: calc(var(--radius) * 0.6);
  border: 1px solid var(--border);
}}

.related {{
  margin: 0.35rem 0 0;
  font-size: 0.85rem;
}}

.range {{
  display: inline-flex;
  align-items: center;
  gap: 0.3rem;
}}

.range input {{
  width: 8.5rem;
}}

.is-lit {{
  border-left-color: var(--lit);
  background: color-mix(in srgb, var(--lit) 9%, var(--surface));
}}

.is-lit .item-title {{
  color: var(--lit);
}}

.app-header h1 {{
  margin: 0;
  font-size: 1.9rem;
  letter-spacing: -0.02em;
}}

.tagline {{
  margin: 0.25rem 0 0;
  color: var(--muted);
}}

.panel {{
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  padding: var(--pad);
  box-shadow: 0 1px 2px rgb(0 0 0 / 0.04);
}}

.panel h2 {{
  margin: 0 0 var(--gap);
  font-size: 1.1rem;
}}

.add-form {{
  display: grid;
  grid-template-columns: repeat(auto-fill, minmax(180px, 1fr));
  gap: var(--gap);
}}

.field {{
  display: flex;
  flex-direction: column;
  gap: 0.3rem;
}}

.field-wide {{
  grid-column: 1 / -1;
}}

.field label {{
  font-size: 0.85rem;
  font-weight: 600;
  color: var(--muted);
}}

.field-check {{
  flex-direction: row;
  align-items: center;
  align-self: end;
  min-height: 2.4rem;
}}

.field-check label {{
  color: var(--text);
}}

.required {{
  color: var(--danger);
}}

input,
select,
textarea {{
  font: inherit;
  color: var(--text);
  background: var(--input);
  border: 1px solid var(--border);
  border-radius: calc(var(--radius) * 0.6);
  padding: 0.5rem 0.65rem;
}}

input:focus,
select:focus,
textarea:focus,
button:focus-visible {{
  outline: 2px solid var(--accent);
  outline-offset: 1px;
}}

input[type="checkbox"] {{
  width: 1.1rem;
  height: 1.1rem;
  accent-color: var(--accent);
}}

.form-actions {{
  grid-column: 1 / -1;
  display: flex;
  justify-content: flex-end;
}}

button[type="submit"] {{
  font: inherit;
  font-weight: 600;
  color: #fff;
  background: var(--accent);
  border: none;
  border-radius: calc(var(--radius) * 0.6);
  padding: 0.55rem 1.4rem;
  cursor: pointer;
}}

button[type="submit"]:disabled {{
  opacity: 0.6;
  cursor: progress;
}}

.list-header {{
  display: flex;
  align-items: baseline;
  justify-content: space-between;
  gap: var(--gap);
}}

.count {{
  color: var(--muted);
  font-size: 0.9rem;
}}

.toolbar {{
  display: flex;
  gap: 0.5rem;
  margin-bottom: var(--gap);
}}

.search {{
  flex: 1;
}}

.items {{
  list-style: none;
  margin: 0;
  padding: 0;
  display: grid;
  gap: 0.5rem;
}}

.item {{
  display: flex;
  align-items: flex-start;
  gap: 0.75rem;
  padding: calc(var(--gap) * 0.75) var(--gap);
  border: 1px solid var(--border);
  border-left: 4px solid var(--accent);
  border-radius: calc(var(--radius) * 0.8);
  background: var(--surface);
}}

.item-check {{
  margin-top: 0.2rem;
}}

.item-body {{
  flex: 1;
  min-width: 0;
}}

.item-title {{
  font-weight: 600;
  overflow-wrap: anywhere;
}}

.is-done .item-title {{
  text-decoration: line-through;
  color: var(--muted);
}}

.item-meta {{
  display: flex;
  flex-wrap: wrap;
  gap: 0.35rem;
  margin-top: 0.3rem;
}}

.chip {{
  font-size: 0.8rem;
  padding: 0.1rem 0.5rem;
  border-radius: 999px;
  border: 1px solid var(--border);
  color: var(--text);
  background: var(--bg);
}}

.chip-check {{
  display: inline-flex;
  align-items: center;
  gap: 0.3rem;
}}

.chip-check input {{
  width: 0.9rem;
  height: 0.9rem;
}}

.chip-label {{
  color: var(--muted);
}}

.item-text {{
  margin: 0.4rem 0 0;
  font-size: 0.9rem;
  white-space: pre-wrap;
}}

.delete {{
  font: inherit;
  font-size: 0.85rem;
  color: var(--danger);
  background: transparent;
  border: 1px solid transparent;
  border-radius: calc(var(--radius) * 0.6);
  padding: 0.25rem 0.6rem;
  cursor: pointer;
}}

.delete:hover {{
  border-color: var(--danger);
}}

.empty {{
  color: var(--muted);
  text-align: center;
  padding: var(--pad) 0;
  margin: 0;
}}

.error {{
  color: var(--danger);
  background: color-mix(in srgb, var(--danger) 10%, transparent);
  border-radius: calc(var(--radius) * 0.6);
  padding: 0.5rem 0.75rem;
}}
"""
