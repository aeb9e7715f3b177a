"""Fixtures of the sandbox tests: the real runtime image, real containers, the real preview proxy.

Containers are labelled kiln.instance=<KILN_INSTANCE> ("test", tests/settings.py), so cleaning up
removes only ours.
"""

import json
import re
import shutil

import pytest
from django.test import Client, override_settings

from builder import fair_use, pipeline
from sandbox import access, docker_driver
from sandbox.image import ensure_runtime_image

APP_JSON = {
    "name": "Chores",
    "entities": {
        "Task": {
            "fields": {
                "title": {"type": "string", "required": True},
                "done": {"type": "boolean", "default": False},
                "points": {"type": "integer"},
                "due": {"type": "date"},
                "size": {"type": "enum", "values": ["small", "large"]},
            }
        }
    },
}

MAIN_JSX = """\
import {useEffect, useState} from "react";
import {createRoot} from "react-dom/client";
import "./style.css";

function App() {
  const [tasks, setTasks] = useState([]);
  const [title, setTitle] = useState("");
  const load = () => fetch("/api/entities/Task?sort=-id").then((r) => r.json()).then(setTasks);
  useEffect(() => { load(); }, []);
  async function add(event) {
    event.preventDefault();
    await fetch("/api/entities/Task", {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify({title})});
    setTitle("");
    load();
  }
  return (
    <main>
      <h1>Chores</h1>
      <form aria-label="Add Task" onSubmit={add}>
        <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Task" />
        <button>Add</button>
      </form>
      <ul>{tasks.map((t) => <li key={t.id}>{t.title}</li>)}</ul>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
"""

INDEX_HTML = """\
<!doctype html>
<html><head><meta charset="utf-8"><title>Chores</title><link rel="stylesheet" href="/bundle.css"></head>
<body><div id="root"></div><script src="/bundle.js"></script></body></html>
"""

TODO_APP = {
    "app.json": json.dumps(APP_JSON, indent=2),
    "index.html": INDEX_HTML,
    "src/main.jsx": MAIN_JSX,
    "src/style.css": "h1 { color: #a33; }\n",
}


@pytest.fixture(scope="session")
def runtime_image():
    """The runtime image, built once per machine (seconds when cached)."""
    return ensure_runtime_image()


@pytest.fixture(scope="session")
def sandbox_path(tmp_path_factory):
    # A short path: a Unix socket path must fit in 108 bytes.
    yield tmp_path_factory.mktemp("sbx")
    docker_driver.remove_all_for_instance()


@pytest.fixture(autouse=True)
def sandbox_dir(sandbox_path):
    # The smoke test and the warm pool are off unless a test turns them on (each costs time per build).
    # Per test, not per session: a session-long override would stay on for every other room's tests
    # that run after these.
    with override_settings(SANDBOX_DIR=sandbox_path, SMOKE_TEST=False, PREVIEW_POOL_SIZE=0):
        yield sandbox_path


@pytest.fixture(autouse=True)
def remove_containers(sandbox_dir):
    yield
    docker_driver.remove_all_for_instance()
    # Test databases reuse project ids: a project's data folder must not outlive its test.
    for folder in ("data", "slots", "pool", "pool-starting", "builds"):
        shutil.rmtree(sandbox_dir / folder, ignore_errors=True)


@pytest.fixture
def make_version(project):
    from builder.models import AppVersion, Blob

    def make(files=None, *, parent=None, on=None):
        manifest = {}
        for path, content in (TODO_APP if files is None else files).items():
            sha = Blob.digest(content)
            Blob.objects.get_or_create(sha256=sha, defaults={"content": content})
            manifest[path] = sha
        return AppVersion.objects.create(
            project=on or project, parent=parent, manifest=manifest, digest=AppVersion.manifest_digest(manifest)
        )

    return make


@pytest.fixture
def build_preview(runtime_image, make_version, django_capture_on_commit_callbacks):
    """Queue a build the way the product does and run the worker's service in this process."""

    def build(files=None, *, version=None, stream_key="test:build"):
        version = version or make_version(files)
        with django_capture_on_commit_callbacks(execute=False):  # the task is run below, in this process
            queued = pipeline.request_build(version, stream_key=stream_key)
            fair_use.take_waiting_builds(owner_id=version.project.owner_id)
        pipeline.build(queued.id)
        queued.refresh_from_db()
        return queued

    return build


class PreviewClient(Client):
    """A browser at the preview's host: every request carries Host: p-<token>.localhost:<port>."""

    def __init__(self, build, **kwargs):
        super().__init__(**kwargs)
        self.host = access.preview_origin(build).split("://", 1)[1]

    def generic(self, method, path, *args, **kwargs):
        kwargs.setdefault("HTTP_HOST", self.host)
        return super().generic(method, path, *args, **kwargs)

    def enter(self, build, user):
        """Follow the builder's entry URL and keep the cookie the preview host sets, as a browser does."""
        url = access.preview_entry_url(build, user)
        response = self.get(url.split(self.host, 1)[1])
        set_cookie = response.headers.get("Set-Cookie", "")
        match = re.match(rf"{access.COOKIE_NAME}=([^;]+)", set_cookie)
        if match:
            self.cookies[access.COOKIE_NAME] = match[1]
        return response


@pytest.fixture
def preview_client():
    return PreviewClient
