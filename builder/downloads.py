"""Taking an app away from Kiln: a version's files as a zip with a README on running it elsewhere, and
the project's entity data (the records its app stored) as JSON."""

import io
import json
import re
import sqlite3
import zipfile
from pathlib import Path

from builder.models import AppVersion, Project
from sandbox import slots
from sandbox.models import Build

README_NAME = "README.md"
DATA_FILE = "app.sqlite3"  # sandbox/runtime/server.py: one table of JSON records in the project's data folder

README = """# {name}

Version {number} of a Kiln project, downloaded {when}.

## Files

- `app.json`: the app's name and its entities (the data it stores) with their fields.
- `index.html`: the page shell; it loads `/bundle.js` and `/bundle.css`.
- `src/main.jsx`: the entry point, bundled with the rest of `src/` by esbuild (React 18, the automatic JSX
  runtime; no other package).

## Run it outside Kiln

    npm install react@18 react-dom@18 esbuild
    npx esbuild src/main.jsx --bundle --jsx=automatic --loader:.js=jsx --outfile=bundle.js

Then serve `index.html`, `bundle.js` and `bundle.css` from one origin, with an entity API (below) on the
same origin. Kiln's own server for it is one stdlib-only Python file, `sandbox/runtime/server.py` in
Kiln's repository (records in SQLite); any backend answering the same requests works.

## The entity API it calls

{api}

A record is a JSON object with `id`, `created_at`, `updated_at` and its fields. Errors answer
`{{"error": "..."}}` with 400 (a missing, unknown or wrongly typed field), 404 (no such record or entity)
or 409 (a record other records still point to).
"""

API_ENTITY = """### {entity}

Fields: {fields}

    GET    /api/entities/{entity}              list (?field=value filters, ?sort=field or ?sort=-field)
    POST   /api/entities/{entity}              create: 201 and the record
    GET    /api/entities/{entity}/<id>         one record
    PUT    /api/entities/{entity}/<id>         replace (PATCH: change the given fields)
    DELETE /api/entities/{entity}/<id>         204
"""
NO_ENTITIES = "This app declares no entities in `app.json`, so it calls no entity API."


def slug(project: Project) -> str:
    """The project's name as a file name."""
    return re.sub(r"[^a-z0-9]+", "-", project.name.lower()).strip("-") or "app"


def zip_name(project: Project, number: int) -> str:
    return f"{slug(project)}-v{number}.zip"


def version_zip(version: AppVersion, *, number: int, when: str) -> bytes:
    """The version's files under their own paths, and a README (unless the app has its own)."""
    files = version.files()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(path, content)
        if README_NAME not in files:
            archive.writestr(README_NAME, readme(files, project=version.project, number=number, when=when))
    return buffer.getvalue()


def readme(files: dict[str, str], *, project: Project, number: int, when: str) -> str:
    entities = _entities(files.get("app.json", ""))
    api = (
        "\n".join(
            API_ENTITY.format(
                entity=entity,
                fields=", ".join(
                    f"`{name}` ({(spec or {}).get('type', 'string')}{', required' if (spec or {}).get('required') else ''})"
                    for name, spec in fields.items()
                )
                or "none",
            )
            for entity, fields in entities.items()
        )
        or NO_ENTITIES
    )
    return README.format(name=project.name, number=number, when=when, api=api)


def _entities(app_json: str) -> dict[str, dict]:
    """{entity: {field: spec}} as the runtime reads app.json; an unreadable app.json declares none."""
    try:
        entities = json.loads(app_json).get("entities") or {}
    except (ValueError, AttributeError):
        return {}
    if not isinstance(entities, dict):
        return {}
    return {
        name: dict((spec or {}).get("fields") or {})
        for name, spec in entities.items()
        if isinstance(spec, dict) or spec is None
    }


def entity_data(project: Project) -> dict:
    """{"project", "entities": {entity: [record, ...]}}: the records the project's app stored, read
    (read-only) from wherever they are now: the project's data folder, or its newest preview's."""
    path = _data_file(project)
    entities: dict[str, list] = {}
    if path is not None:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute(
                "SELECT id, entity, data, created_at, updated_at FROM records ORDER BY entity, id"
            )
            for record_id, entity, data, created_at, updated_at in rows:
                entities.setdefault(entity, []).append(
                    {**json.loads(data), "id": record_id, "created_at": created_at, "updated_at": updated_at}
                )
        finally:
            db.close()
    return {"project": project.name, "entities": entities}


def _data_file(project: Project) -> Path | None:
    held_by = (
        Build.objects.filter(app_version__project=project)
        .exclude(slot="")
        .order_by("-id")
        .values_list("slot", flat=True)
    )
    for folder in [slots.data_dir(project.id), *(slots.slot_dir(slot) / "data" for slot in held_by)]:
        if (folder / DATA_FILE).is_file():
            return folder / DATA_FILE
    return None
