"""What the user sees when an app does not build."""

import pytest

from generation.streaming import read_after
from sandbox import docker_driver
from sandbox.models import Build

from .conftest import TODO_APP

pytestmark = pytest.mark.django_db

BROKEN_JSX = """\
import {createRoot} from "react-dom/client";

function App() {
  return <h1>Hello</h1>;
}}

createRoot(document.getElementById("root")).render(<App />);
"""


def instance_containers():
    return docker_driver.instance_containers()


def test_a_syntax_error_fails_the_build_naming_file_and_line(build_preview):
    build = build_preview({**TODO_APP, "src/main.jsx": BROKEN_JSX}, stream_key="test:broken")

    assert build.status == Build.Status.FAILED
    assert build.error.startswith("Build failed:")
    assert "src/main.jsx:5:" in build.error
    assert "[ERROR]" in build.log
    assert build.container_id == ""
    assert instance_containers() == []
    last = read_after("test:broken")[-1]
    assert (last["status"], last["step"], last["message"], last["final"]) == ("failed", "failed", build.error, True)
    # What the repair loop reads: the build itself failed (not the smoke test), with file:line.
    assert (build.failed_step, build.build_passed, build.smoke_passed) == ("bundle", False, None)


def test_an_import_of_a_package_kiln_does_not_have_names_the_line(build_preview):
    app = {**TODO_APP, "src/main.jsx": 'import _ from "lodash";\nconsole.log(_);\n'}

    build = build_preview(app)

    assert build.status == Build.Status.FAILED
    assert 'src/main.jsx:1:14: Could not resolve "lodash"' in build.error


def test_a_missing_index_html_fails_before_any_container(build_preview):
    app = {path: content for path, content in TODO_APP.items() if path != "index.html"}

    build = build_preview(app)

    assert build.status == Build.Status.FAILED
    assert build.error == "The app is incomplete: index.html is missing"
    assert instance_containers() == []


def test_a_broken_app_json_names_the_line(build_preview):
    build = build_preview({**TODO_APP, "app.json": '{\n  "name": "x",\n  "entities": {,}\n}'})

    assert build.status == Build.Status.FAILED
    assert build.error.startswith("The app is incomplete: app.json:3:")
