"""Writes a whole app, in Kiln's output protocol, from a plan (planner.py) and a seed.

The app follows docs/app-format.md: app.json, index.html, src/main.jsx (React 18, automatic JSX
runtime), src/App.jsx (a CRUD screen for the plan's entity), src/api.js (fetch helpers for the
runtime's entity API, the only storage: no localStorage) and src/styles.css (no external URLs).

Everything taken from the prompt reaches the JavaScript as JSON string literals or as names already
reduced to [a-z0-9_] / [A-Za-z0-9], so a prompt can never break the generated code.

The seed picks visible, harmless variations (accent colour, density, layout, heading wording, sort
order, delete button style) so that two candidates for one prompt differ.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass

from generation.blueprint import planner
from generation.blueprint.planner import AppPlan, describe_fields

PALETTE = ["#4f46e5", "#0d9488", "#db2777", "#ea580c", "#2563eb", "#16a34a", "#7c3aed", "#0891b2"]
STYLE_MARKER = re.compile(r"/\* kiln-blueprint: accent=(#[0-9a-fA-F]{6}) theme=(\w+) \*/")


@dataclass(frozen=True)
class Style:
    accent: str
    theme: str  # light | dark
    density: str  # comfortable | compact
    layout: str  # stacked | split
    radius: int
    heading: int  # which wording of the list heading
    sort: tuple[str, str]  # (field, asc|desc)
    delete_text: str


def choose_style(plan: AppPlan, seed: int | None) -> Style:
    seed = 0 if seed is None else int(seed)
    rng = random.Random(seed)
    sorts = [("created_at", "desc"), ("created_at", "asc"), (plan.title_field.name, "asc")]
    dates = [f.name for f in plan.fields if f.type in ("date", "datetime")]
    if dates:
        sorts.append((dates[0], "asc"))
    return Style(
        accent=plan.accent or PALETTE[seed % len(PALETTE)],
        theme=plan.theme,
        density=rng.choice(["comfortable", "compact"]),
        layout=rng.choice(["stacked", "split"]),
        radius=rng.choice([6, 10, 14]),
        heading=rng.randrange(4),
        sort=plan.sort or rng.choice(sorts),
        delete_text=rng.choice(["Delete", "×"]),
    )


def read_app(files: dict[str, str]) -> tuple[AppPlan, Style] | None:
    """The plan and style behind an app this writer wrote, read back from its files (app.json, the
    constants at the top of src/App.jsx, the marker and variables of src/styles.css), so that a
    follow-up writes the same files byte for byte except for what the user asked to change. None when
    app.json is missing or not one the writer can rework; anything else unreadable falls back to the
    plan's defaults (the follow-up then rewrites that part)."""
    try:
        data = json.loads(files.get("app.json", ""))
    except ValueError:
        return None
    plan = planner.plan_from_app_json(data) if isinstance(data, dict) else None
    if plan is None:
        return None
    app_jsx = files.get("src/App.jsx", "")
    css = files.get("src/styles.css", "")

    for line in _constant_block(app_jsx, "FIELDS"):
        try:
            spec = json.loads(line.strip().rstrip(","))
        except ValueError:
            continue
        f = plan.field(spec.get("name")) if isinstance(spec, dict) else None
        if f is not None and spec.get("type") == f.type:
            f.label = str(spec.get("label") or f.label)
            f.unit = spec.get("unit") if isinstance(spec.get("unit"), str) else None
            f.input = spec.get("input") if isinstance(spec.get("input"), str) else None
    noun = _constant(app_jsx, r"const NOUN = \{ one: (\"(?:[^\"\\]|\\.)*\"), many:")
    if isinstance(noun, str) and noun.strip():
        plan.noun = noun

    fallback = choose_style(plan, 0)
    marker = STYLE_MARKER.search(css)
    if marker:
        plan.accent, plan.theme = marker.group(1), marker.group(2)
    many = plan.plural
    heading_text = _constant(app_jsx, r"const HEADING = (\"(?:[^\"\\]|\\.)*\");")
    headings = [h.format(many=many, Many=many[:1].upper() + many[1:]) for h in _HEADINGS]
    sort = re.search(r'const SORT = \{ field: "([a-z0-9_]+)", direction: "(asc|desc)" \};', app_jsx)
    radius = re.search(r"--radius: (\d+)px;", css)
    gap = re.search(r"--gap: ([\d.]+rem);", css)
    layout = re.search(r'className="app layout-(\w+)"', app_jsx)
    delete_text = _constant(app_jsx, r"const DELETE_TEXT = (\"(?:[^\"\\]|\\.)*\");")
    if sort and (sort.group(1) == "created_at" or plan.field(sort.group(1))):
        plan.sort = (sort.group(1), sort.group(2))
    style = Style(
        accent=plan.accent or fallback.accent,
        theme=plan.theme,
        density="compact" if gap and gap.group(1) == "0.6rem" else "comfortable" if gap else fallback.density,
        layout=layout.group(1) if layout and layout.group(1) in ("stacked", "split") else fallback.layout,
        radius=int(radius.group(1)) if radius else fallback.radius,
        heading=headings.index(heading_text) if heading_text in headings else fallback.heading,
        sort=plan.sort or fallback.sort,
        delete_text=delete_text if isinstance(delete_text, str) else fallback.delete_text,
    )
    return plan, style


def _constant(source: str, pattern: str):
    match = re.search(pattern, source)
    if not match:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


def _constant_block(source: str, name: str) -> list[str]:
    match = re.search(rf"^const {name} = \[\n(.*?)^\];", source, flags=re.MULTILINE | re.DOTALL)
    return match.group(1).splitlines() if match else []


def write_app(plan: AppPlan, style: Style) -> dict[str, str]:
    """The app's files, path -> content, in the order they are written."""
    return {
        "app.json": json.dumps(plan.app_json(), indent=2) + "\n",
        "index.html": _index_html(plan),
        "src/main.jsx": MAIN_JSX,
        "src/api.js": API_JS,
        "src/App.jsx": _app_jsx(plan, style),
        "src/styles.css": _styles_css(style),
    }


def as_written(files: dict[str, str]) -> dict[str, str]:
    """The files as they are stored after render_response and the parser (no final newline)."""
    return {path: content.rstrip("\n") for path, content in files.items()}


def render_response(plan: AppPlan, files: dict[str, str], intro: str) -> str:
    """The model's whole answer: explanation, the files in <file> blocks, a closing line."""
    parts = [intro.strip(), ""]
    for path, content in files.items():
        parts.append(f'<file path="{path}">\n{content.rstrip(chr(10))}\n</file>')
    parts.append("")
    parts.append(f"Open the preview and add your first {plan.noun} to try it.")
    return "\n".join(parts) + "\n"


def describe_app(plan: AppPlan) -> str:
    booleans = [f for f in plan.fields if f.type == "boolean"]
    actions = [f"add {plan.plural}"]
    if booleans:
        actions.append(f"tick them off as {booleans[0].label.lower()}")
    actions += ["search them", "delete them"]
    return (
        f"I built {plan.name}: a one-page React app that keeps {plan.plural} through Kiln's entity API, "
        f"so they are saved on the server and survive a reload. Each {plan.entity} has "
        f"{describe_fields(plan)}. You can {', '.join(actions[:-1])} and {actions[-1]}."
    )


# --- Files -----------------------------------------------------------------------------------------


def _index_html(plan: AppPlan) -> str:
    title = plan.name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<!doctype html>
<html lang="en">
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

_HEADINGS = ["All {many}", "Your {many}", "{Many}", "My {many}"]
_TAGLINES = [
    "Add {many} below; everything is saved automatically.",
    "Keep track of your {many} in one place.",
    "A simple home for your {many}.",
    "Everything about your {many}, saved as you go.",
]


def _js(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _app_jsx(plan: AppPlan, style: Style) -> str:
    many = plan.plural
    fields_js = []
    for f in plan.fields:
        spec = {"name": f.name, "label": f.label, "type": f.type}
        if f.required:
            spec["required"] = True
        if f.values:
            spec["values"] = f.values
        if f.unit:
            spec["unit"] = f.unit
        if f.input:
            spec["input"] = f.input
        if f.name in ("rating", "stars"):
            spec["min"], spec["max"] = 1, 5
        elif f.type in ("integer", "number"):
            spec["min"] = 0
        fields_js.append("  " + _js(spec) + ",")
    booleans = [f.name for f in plan.fields if f.type == "boolean"]
    searchable = [f.name for f in plan.fields if f.type in ("string", "text", "enum")]
    constants = "\n".join(
        [
            f"const ENTITY = {_js(plan.entity)};",
            f"const APP_NAME = {_js(plan.name)};",
            f"const TAGLINE = {_js(_TAGLINES[style.heading].format(many=many))};",
            f"const HEADING = {_js(_HEADINGS[style.heading].format(many=many, Many=many[:1].upper() + many[1:]))};",
            f"const NOUN = {{ one: {_js(plan.noun)}, many: {_js(many)} }};",
            f"const TITLE_FIELD = {_js(plan.title_field.name)};",
            f"const DONE_FIELD = {_js(booleans[0]) if booleans else 'null'};",
            f"const SEARCH_FIELDS = {_js(searchable)};",
            f"const SORT = {{ field: {_js(style.sort[0])}, direction: {_js(style.sort[1])} }};",
            f"const DELETE_TEXT = {_js(style.delete_text)};",
            "const FIELDS = [",
            *fields_js,
            "];",
        ]
    )
    return APP_JSX.replace("__CONSTANTS__", constants).replace("__LAYOUT__", style.layout)


APP_JSX = """import { useEffect, useMemo, useState } from "react";
import { createRecord, deleteRecord, listRecords, updateRecord } from "./api.js";

__CONSTANTS__

function emptyDraft() {
  const draft = {};
  for (const field of FIELDS) {
    if (field.type === "boolean") draft[field.name] = false;
    else if (field.type === "enum") draft[field.name] = field.values[0];
    else draft[field.name] = "";
  }
  return draft;
}

// The form keeps strings; the API wants typed values and no empty optional fields.
function toRecord(draft) {
  const record = {};
  for (const field of FIELDS) {
    const value = draft[field.name];
    if (field.type === "boolean" || field.type === "enum") {
      record[field.name] = value;
      continue;
    }
    const text = String(value).trim();
    if (text === "") continue;
    if (field.type === "integer") record[field.name] = Number.parseInt(text, 10);
    else if (field.type === "number") record[field.name] = Number(text);
    else record[field.name] = text;
  }
  return record;
}

function formatValue(field, value) {
  if (value === null || value === undefined || value === "") return "";
  if (field.type === "date") return new Date(`${value}T00:00:00`).toLocaleDateString();
  if (field.type === "datetime") return new Date(value).toLocaleString();
  if (field.type === "number") return Number(value).toLocaleString(undefined, { maximumFractionDigits: 2 });
  if (field.unit) return `${value} ${field.unit}`;
  return String(value);
}

// Enums sort by their order in app.json (low < medium < high), everything else by value.
function sortValue(record) {
  const value = record[SORT.field] ?? "";
  const field = FIELDS.find((f) => f.name === SORT.field);
  return field && field.type === "enum" ? field.values.indexOf(value) : value;
}

function compareRecords(a, b) {
  const x = sortValue(a);
  const y = sortValue(b);
  let order =
    typeof x === "number" && typeof y === "number"
      ? x - y
      : String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: "base" });
  if (order === 0) order = String(a.id).localeCompare(String(b.id), undefined, { numeric: true });
  return SORT.direction === "desc" ? -order : order;
}

function inputType(field) {
  if (field.input) return field.input;
  if (field.type === "integer" || field.type === "number") return "number";
  if (field.type === "date") return "date";
  if (field.type === "datetime") return "datetime-local";
  return "text";
}

function FieldInput({ field, value, onChange }) {
  const id = `new-${field.name}`;
  if (field.type === "boolean") {
    return (
      <div className="field field-check">
        <input id={id} name={field.name} type="checkbox" checked={value} onChange={(e) => onChange(e.target.checked)} />
        <label htmlFor={id}>{field.label}</label>
      </div>
    );
  }
  let control;
  if (field.type === "text") {
    control = (
      <textarea id={id} name={field.name} rows={3} value={value} required={field.required}
        onChange={(e) => onChange(e.target.value)} />
    );
  } else if (field.type === "enum") {
    control = (
      <select id={id} name={field.name} value={value} onChange={(e) => onChange(e.target.value)}>
        {field.values.map((option) => (
          <option key={option} value={option}>{option}</option>
        ))}
      </select>
    );
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

function ItemRow({ item, onUpdate, onDelete }) {
  const title = item[TITLE_FIELD] || `Untitled ${NOUN.one}`;
  const done = DONE_FIELD ? Boolean(item[DONE_FIELD]) : false;
  const details = FIELDS.filter((field) => field.name !== TITLE_FIELD && field.name !== DONE_FIELD);
  return (
    <li className={done ? "item is-done" : "item"}>
      {DONE_FIELD ? (
        <input className="item-check" type="checkbox" checked={done}
          aria-label={`${FIELDS.find((field) => field.name === DONE_FIELD).label}: ${title}`}
          onChange={() => onUpdate(item, { [DONE_FIELD]: !done })} />
      ) : null}
      <div className="item-body">
        <span className="item-title">{title}</span>
        <div className="item-meta">
          {details.map((field) => {
            if (field.type === "boolean") {
              return (
                <label key={field.name} className="chip chip-check">
                  <input type="checkbox" checked={Boolean(item[field.name])}
                    onChange={() => onUpdate(item, { [field.name]: !item[field.name] })} />
                  {field.label}
                </label>
              );
            }
            if (field.type === "enum") {
              return (
                <select key={field.name} className="chip chip-select" aria-label={`${field.label} of ${title}`}
                  value={item[field.name] ?? field.values[0]}
                  onChange={(e) => onUpdate(item, { [field.name]: e.target.value })}>
                  {field.values.map((option) => (
                    <option key={option} value={option}>{option}</option>
                  ))}
                </select>
              );
            }
            const shown = formatValue(field, item[field.name]);
            if (!shown || field.type === "text") return null;
            return (
              <span key={field.name} className="chip">
                <span className="chip-label">{field.label.replace(/ \\(.*\\)$/, "")}</span> {shown}
              </span>
            );
          })}
        </div>
        {details
          .filter((field) => field.type === "text" && item[field.name])
          .map((field) => (
            <p key={field.name} className="item-text">
              <span className="chip-label">{field.label}</span> {item[field.name]}
            </p>
          ))}
      </div>
      <button type="button" className="delete" aria-label="Delete" title={`Delete ${title}`}
        onClick={() => onDelete(item)}>
        {DELETE_TEXT}
      </button>
    </li>
  );
}

export default function App() {
  const [items, setItems] = useState([]);
  const [draft, setDraft] = useState(emptyDraft);
  const [query, setQuery] = useState("");
  const [show, setShow] = useState("all");
  const [loading, setLoading] = useState(true);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState("");

  useEffect(() => {
    let cancelled = false;
    listRecords(ENTITY)
      .then((records) => !cancelled && setItems(records))
      .catch((err) => !cancelled && setError(err.message))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, []);

  const visible = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return items
      .filter((item) => show === "all" || (show === "done") === Boolean(item[DONE_FIELD]))
      .filter((item) => !needle || SEARCH_FIELDS.some((name) => String(item[name] ?? "").toLowerCase().includes(needle)))
      .sort(compareRecords);
  }, [items, query, show]);

  async function handleAdd(event) {
    event.preventDefault();
    setSaving(true);
    try {
      const created = await createRecord(ENTITY, toRecord(draft));
      setItems((current) => [...current, created]);
      setDraft(emptyDraft());
      setError("");
    } catch (err) {
      setError(err.message);
    } finally {
      setSaving(false);
    }
  }

  async function handleUpdate(item, changes) {
    setItems((current) => current.map((other) => (other.id === item.id ? { ...other, ...changes } : other)));
    try {
      const updated = await updateRecord(ENTITY, item.id, changes);
      setItems((current) => current.map((other) => (other.id === item.id ? updated : other)));
    } catch (err) {
      setItems((current) => current.map((other) => (other.id === item.id ? item : other)));
      setError(err.message);
    }
  }

  async function handleDelete(item) {
    setItems((current) => current.filter((other) => other.id !== item.id));
    try {
      await deleteRecord(ENTITY, item.id);
    } catch (err) {
      setItems((current) => [...current, item]);
      setError(err.message);
    }
  }

  const doneCount = DONE_FIELD ? items.filter((item) => item[DONE_FIELD]).length : 0;
  const doneLabel = DONE_FIELD ? FIELDS.find((field) => field.name === DONE_FIELD).label : "";

  return (
    <div className="app layout-__LAYOUT__">
      <header className="app-header">
        <h1>{APP_NAME}</h1>
        <p className="tagline">{TAGLINE}</p>
      </header>

      <section className="panel">
        <h2>New {NOUN.one}</h2>
        <form className="add-form" aria-label={`Add ${ENTITY}`} onSubmit={handleAdd}>
          {FIELDS.map((field) => (
            <FieldInput key={field.name} field={field} value={draft[field.name]}
              onChange={(value) => setDraft((current) => ({ ...current, [field.name]: value }))} />
          ))}
          <div className="form-actions">
            <button type="submit" disabled={saving}>Add</button>
          </div>
        </form>
      </section>

      <section className="panel">
        <div className="list-header">
          <h2>{HEADING}</h2>
          <span className="count">
            {items.length} {items.length === 1 ? NOUN.one : NOUN.many}
            {DONE_FIELD ? ` · ${doneCount} ${doneLabel.toLowerCase()}` : ""}
          </span>
        </div>
        <div className="toolbar">
          <input type="search" className="search" placeholder={`Search ${NOUN.many}…`} aria-label={`Search ${NOUN.many}`}
            value={query} onChange={(e) => setQuery(e.target.value)} />
          {DONE_FIELD ? (
            <select aria-label="Show" value={show} onChange={(e) => setShow(e.target.value)}>
              <option value="all">All</option>
              <option value="open">Not {doneLabel.toLowerCase()}</option>
              <option value="done">{doneLabel}</option>
            </select>
          ) : null}
        </div>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        {loading ? (
          <p className="empty">Loading…</p>
        ) : visible.length === 0 ? (
          <p className="empty">
            {items.length === 0 ? `No ${NOUN.many} yet. Add your first one above.` : `No ${NOUN.many} match your search.`}
          </p>
        ) : (
          <ul className="items">
            {visible.map((item) => (
              <ItemRow key={item.id} item={item} onUpdate={handleUpdate} onDelete={handleDelete} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
"""


def _styles_css(style: Style) -> str:
    gap = {"comfortable": ("1rem", "1.5rem"), "compact": ("0.6rem", "1rem")}[style.density]
    if style.theme == "dark":
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
    return f"""/* kiln-blueprint: accent={style.accent} theme={style.theme} */
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

@media (min-width: 900px) {{
  .layout-split {{
    max-width: 1100px;
    grid-template-columns: minmax(280px, 1fr) 2fr;
    align-items: start;
  }}
  .layout-split .app-header {{
    grid-column: 1 / -1;
  }}
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
