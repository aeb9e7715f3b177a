"""Kiln's preview app server: the built app and its entity API, on a Unix socket, stdlib only.

Runs inside the preview container (no network at all). Kiln's preview proxy reaches it through the
socket in the per-preview folder mounted at /run/preview. See docs/app-format.md for the contract.

The one mount, /run/preview, holds the socket, the built app (app/, read-only for this user) and the
project's data (data/). A container can start before its app is there (a warm-pool slot): it binds the
socket, answers /healthz with 503 "idle", and loads the app when Kiln calls POST /__kiln/load.

    GET  /                 index.html           GET /bundle.js, /bundle.css    GET /healthz
    POST /__kiln/load      (re)read app/app.json and open data/app.sqlite3
    GET  /api/entities/<E>[?field=value&sort=-field]     POST /api/entities/<E>
    GET|PUT|PATCH|DELETE /api/entities/<E>/<id>

A field {"type": "reference", "entity": "Book"} holds the id of a Book: a record that names an id no
Book has is refused (400), and deleting a Book that records still point to is refused (409) or takes
them with it, as the field's "on_delete" ("refuse", the default, or "cascade") says.
"""

import contextlib
import datetime
import json
import os
import re
import socketserver
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

APP_DIR = Path(os.environ.get("KILN_APP_DIR", "/run/preview/app"))
DATA_DIR = Path(os.environ.get("KILN_DATA_DIR", "/run/preview/data"))
SOCKET_PATH = os.environ.get("KILN_SOCKET", "/run/preview/app.sock")
MAX_BODY = 1024 * 1024
SYSTEM_FIELDS = ("id", "created_at", "updated_at")
ENTITY_PATH = re.compile(r"^/api/entities/(?P<entity>[^/]+)(?:/(?P<id>[^/]+))?/?$")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- app.json and validation -------------------------------------------------------------------------


def load_schema(app_dir: Path) -> dict:
    """{entity: {field: spec}} from app.json; an app without entities simply has no API."""
    try:
        app = json.loads((app_dir / "app.json").read_text())
    except (OSError, ValueError) as error:
        print(f"app.json unreadable, entity API disabled: {error}", file=sys.stderr)
        return {}
    entities = app.get("entities") or {}
    return {
        name: dict((spec or {}).get("fields") or {})
        for name, spec in entities.items()
        if isinstance(spec, dict) or spec is None
    }


def _is_date(value) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and bool(datetime.date.fromisoformat(value))
    except ValueError:
        return False


def _is_datetime(value) -> bool:
    try:
        return isinstance(value, str) and bool(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return False


def _type_ok(spec: dict, value) -> bool:
    kind = spec.get("type", "string")
    if kind in ("string", "text"):
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return _is_date(value)
    if kind == "datetime":
        return _is_datetime(value)
    if kind == "enum":
        return value in (spec.get("values") or [])
    if kind == "reference":
        return isinstance(value, int) and not isinstance(value, bool)
    return True  # a type this server does not know: accept rather than lock the app out


def _type_name(spec: dict) -> str:
    if spec.get("type") == "enum":
        return "one of " + ", ".join(json.dumps(v) for v in spec.get("values") or [])
    return {
        "string": "a string", "text": "a string", "number": "a number", "integer": "an integer",
        "boolean": "true or false", "date": "a date (YYYY-MM-DD)", "datetime": "an ISO 8601 datetime",
        "reference": f"the id of a {spec.get('entity')} record",
    }.get(spec.get("type", "string"), f"of type {spec.get('type')}")


def validate(fields: dict, body, *, partial: bool) -> dict:
    """The record's field values after checking body against app.json; ApiError(400) otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    values = {k: v for k, v in body.items() if k not in SYSTEM_FIELDS}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ApiError(400, f"unknown field: {', '.join(unknown)}")
    for name, value in values.items():
        spec = fields[name] or {}
        if value is None:
            if spec.get("required"):
                raise ApiError(400, f"field '{name}' is required")
            continue
        if not _type_ok(spec, value):
            raise ApiError(400, f"field '{name}' must be {_type_name(spec)}")
        low, high = spec.get("min"), spec.get("max")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(low, (int, float)) and value < low:
                raise ApiError(400, f"field '{name}' must be at least {low}")
            if isinstance(high, (int, float)) and value > high:
                raise ApiError(400, f"field '{name}' must be at most {high}")
    if not partial:
        for name, spec in fields.items():
            spec = spec or {}
            if name not in values and "default" in spec:
                values[name] = spec["default"]
            if spec.get("required") and values.get(name) is None:
                raise ApiError(400, f"field '{name}' is required")
    return values


def parse_query_value(spec: dict, raw: str):
    """A query-string filter value as the JSON value it is compared with."""
    kind = (spec or {}).get("type", "string")
    try:
        if kind == "number":
            return float(raw)
        if kind in ("integer", "reference"):
            return int(raw)
    except ValueError:
        raise ApiError(400, f"filter on '{kind}' field needs a number, got {raw!r}") from None
    if kind == "boolean":
        if raw.lower() in ("true", "1"):
            return 1
        if raw.lower() in ("false", "0"):
            return 0
        raise ApiError(400, f"filter on boolean field needs true or false, got {raw!r}")
    return raw


# --- storage: one table, one JSON document per record --------------------------------------------------


class Store:
    def __init__(self, path: Path):
        self.path = path
        with self.connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS records ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL, data TEXT NOT NULL,"
                " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS records_entity ON records (entity, id)")

    @contextlib.contextmanager
    def connect(self):
        # One connection per request: the server is threaded and sqlite3 connections are not shared.
        # Autocommit (isolation_level=None): each statement commits unless BEGIN says otherwise.
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @staticmethod
    def now() -> str:
        return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        )

    @staticmethod
    def record(fields: dict, row) -> dict:
        data = json.loads(row["data"])
        out = {"id": row["id"], "created_at": row["created_at"], "updated_at": row["updated_at"]}
        out.update({name: data.get(name) for name in fields})
        return out

    def list(self, entity: str, fields: dict, query: list[tuple[str, str]]) -> list[dict]:
        where, params, order = ["entity = ?"], [entity], "id"
        for key, raw in query:
            if key == "sort":
                name = raw.removeprefix("-")
                if name not in fields and name not in SYSTEM_FIELDS:
                    raise ApiError(400, f"cannot sort by unknown field '{name}'")
                column = name if name in SYSTEM_FIELDS else f"json_extract(data, '$.\"{name}\"')"
                order = f"{column} {'DESC' if raw.startswith('-') else 'ASC'}, id"
            elif key in fields:
                where.append(f"json_extract(data, '$.\"{key}\"') = ?")
                params.append(parse_query_value(fields[key], raw))
            elif key == "id":
                where.append("id = ?")
                params.append(raw)
            else:
                raise ApiError(400, f"cannot filter by unknown field '{key}'")
        with self.connect() as db:
            rows = db.execute(f"SELECT * FROM records WHERE {' AND '.join(where)} ORDER BY {order}", params)
            return [self.record(fields, row) for row in rows]

    def get(self, entity: str, fields: dict, record_id: int) -> dict:
        with self.connect() as db:
            row = db.execute("SELECT * FROM records WHERE entity = ? AND id = ?", (entity, record_id)).fetchone()
        if row is None:
            raise ApiError(404, "not found")
        return self.record(fields, row)

    def create(self, entity: str, fields: dict, values: dict) -> dict:
        stamp = self.now()
        with self.connect() as db:
            cursor = db.execute(
                "INSERT INTO records (entity, data, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (entity, json.dumps(values), stamp, stamp),
            )
            record_id = cursor.lastrowid
        return self.get(entity, fields, record_id)

    def update(self, entity: str, fields: dict, record_id: int, values: dict, *, partial: bool) -> dict:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")  # read-merge-write of one record must not interleave
            row = db.execute("SELECT data FROM records WHERE entity = ? AND id = ?", (entity, record_id)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise ApiError(404, "not found")
            data = {**json.loads(row["data"]), **values} if partial else values
            db.execute(
                "UPDATE records SET data = ?, updated_at = ? WHERE id = ?", (json.dumps(data), self.now(), record_id)
            )
            db.execute("COMMIT")
        return self.get(entity, fields, record_id)

    def check_references(self, schema: dict, fields: dict, values: dict) -> None:
        """400 when a reference names a record its entity does not have."""
        with self.connect() as db:
            for name, value in values.items():
                spec = fields.get(name) or {}
                if spec.get("type") != "reference" or value is None:
                    continue
                target = spec.get("entity")
                if target not in schema:
                    raise ApiError(400, f"field '{name}' links to '{target}', which app.json does not define")
                found = db.execute("SELECT 1 FROM records WHERE entity = ? AND id = ?", (target, value)).fetchone()
                if found is None:
                    raise ApiError(400, f"field '{name}': there is no {target} with id {value}")

    def delete(self, schema: dict, entity: str, record_id: int) -> None:
        """Delete a record. Records that link to it stop the delete (409) or go with it, per their
        field's on_delete; everything happens in one transaction."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM records WHERE entity = ? AND id = ?", (entity, record_id)).fetchone() is None:
                    raise ApiError(404, "not found")
                self._delete_linked(db, schema, entity, record_id, seen=set())
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _delete_linked(self, db, schema: dict, entity: str, record_id: int, seen: set) -> None:
        if (entity, record_id) in seen:
            return
        seen.add((entity, record_id))
        for child, fields in schema.items():
            for name, spec in fields.items():
                spec = spec or {}
                if spec.get("type") != "reference" or spec.get("entity") != entity:
                    continue
                rows = db.execute(
                    f"SELECT id FROM records WHERE entity = ? AND json_extract(data, '$.\"{name}\"') = ?",
                    (child, record_id),
                ).fetchall()
                if not rows:
                    continue
                if spec.get("on_delete") != "cascade":
                    raise ApiError(
                        409,
                        f"this {entity} cannot be deleted: {len(rows)} {child} record(s) link to it "
                        f"(field '{name}'); delete or change them first",
                    )
                for row in rows:
                    self._delete_linked(db, schema, child, row["id"], seen)
        db.execute("DELETE FROM records WHERE entity = ? AND id = ?", (entity, record_id))


# --- HTTP ------------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiln-preview"
    sys_version = ""

    # --- plumbing
    def log_message(self, format, *args):
        # The base implementation reads client_address[0], which a Unix socket peer does not have.
        sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    def send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload) -> None:
        self.send(status, json.dumps(payload).encode(), "application/json", {"Cache-Control": "no-store"})

    def send_file(self, name: str, content_type: str, *, missing_ok: bool = False) -> None:
        try:
            body = (APP_DIR / name).read_bytes()
        except FileNotFoundError:
            if not missing_ok:
                return self.send_json(404, {"error": "not found"})
            body = b""
        self.send(200, body, content_type, {"Cache-Control": "no-cache"})

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, "body too large")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "the body is not valid JSON") from None

    # --- routing
    def do_GET(self):
        self.route("GET")

    def do_HEAD(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        try:
            if path == "/__kiln/load" and method == "POST":
                entities = self.server.load()
                return self.send_json(200, {"entities": entities})
            if not self.server.loaded:
                if path == "/healthz":
                    return self.send(503, b"idle\n", "text/plain; charset=utf-8")
                raise ApiError(503, "no app loaded yet")
            match = ENTITY_PATH.match(path)
            if match:
                return self.entity_api(method, match["entity"], match["id"], url.query)
            if path.startswith("/api/"):
                raise ApiError(404, "not found")
            if method != "GET":
                raise ApiError(405, "method not allowed")
            if path == "/healthz":
                return self.send(200, b"ok\n", "text/plain; charset=utf-8")
            if path == "/bundle.js":
                return self.send_file("bundle.js", "text/javascript; charset=utf-8")
            if path == "/bundle.css":
                return self.send_file("bundle.css", "text/css; charset=utf-8", missing_ok=True)
            if path in ("/", "/index.html") or "text/html" in self.headers.get("Accept", ""):
                return self.send_file("index.html", "text/html; charset=utf-8")
            raise ApiError(404, "not found")
        except ApiError as error:
            self.send_json(error.status, {"error": str(error)})

    def entity_api(self, method: str, entity: str, raw_id: str | None, query: str) -> None:
        schema = self.server.schema
        if entity not in schema:
            raise ApiError(404, "unknown entity")
        fields, store = schema[entity], self.server.store
        if raw_id is None:
            if method == "GET":
                return self.send_json(200, store.list(entity, fields, parse_qsl(query, keep_blank_values=True)))
            if method == "POST":
                values = validate(fields, self.read_json(), partial=False)
                store.check_references(schema, fields, values)
                return self.send_json(201, store.create(entity, fields, values))
            raise ApiError(405, "method not allowed")
        if not raw_id.isdigit():
            raise ApiError(404, "not found")
        record_id = int(raw_id)
        if method == "GET":
            return self.send_json(200, store.get(entity, fields, record_id))
        if method in ("PUT", "PATCH"):
            partial = method == "PATCH"
            values = validate(fields, self.read_json(), partial=partial)
            store.check_references(schema, fields, values)
            return self.send_json(200, store.update(entity, fields, record_id, values, partial=partial))
        if method == "DELETE":
            store.delete(schema, entity, record_id)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        raise ApiError(405, "method not allowed")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, socket_path: str):
        self.schema, self.store, self.loaded = {}, None, False
        # A socket left by an earlier run of this container (a restart): Kiln reopens the folder first.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        super().__init__(socket_path, Handler)
        # The proxy runs as another user on the host: it must be able to connect.
        os.chmod(socket_path, 0o666)

    def load(self) -> int:
        """Read the app's schema and open its store; return the number of entities."""
        self.schema, self.store = load_schema(APP_DIR), Store(DATA_DIR / "app.sqlite3")
        self.loaded = True
        print(f"kiln preview serving {APP_DIR} ({len(self.schema)} entities)", file=sys.stderr)
        return len(self.schema)


def main() -> None:
    server = Server(SOCKET_PATH)
    if (APP_DIR / "app.json").exists():  # started for one app (a restart): serve it at once
        server.load()
    else:
        print(f"kiln preview idle on {SOCKET_PATH}: waiting for POST /__kiln/load", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
