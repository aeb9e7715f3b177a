"""The smoke test after each build: scores on the Build, a screenshot, and the build's final frame."""

import pytest

from generation.streaming import read_after
from sandbox import smoke
from sandbox.models import Build

from .conftest import TODO_APP

pytestmark = pytest.mark.django_db

THROWS_JSX = """\
import {createRoot} from "react-dom/client";
function App() { const tasks = undefined; return <ul>{tasks.map((t) => <li>{t}</li>)}</ul>; }
createRoot(document.getElementById("root")).render(<App />);
"""


@pytest.fixture(autouse=True)
def smoke_on(settings):
    settings.SMOKE_TEST = True


def test_a_working_app_passes_with_scores_and_a_screenshot(build_preview, sandbox_dir):
    build = build_preview(stream_key="test:smoke")

    assert build.status == Build.Status.READY
    assert build.smoke_passed is True, build.smoke_message
    scores = build.scores
    assert scores["build_passed"] is True and scores["smoke_passed"] is True
    assert scores["http_status"] == 200 and scores["blank"] is False
    assert (scores["uncaught_errors"], scores["console_errors"]) == (0, 0)
    assert scores["entities_shown"] == scores["entities_expected"] == 1 and scores["has_form"] is True
    assert scores["api_round_trip"] is True and scores["render_ms"] > 0
    png = sandbox_dir / build.screenshot
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"smoke test: {scores['smoke_ms']} ms, render {scores['render_ms']} ms, runtime {build.runtime}")
    frames = read_after("test:smoke")
    ready = [f for f in frames if f["step"] == "ready"]
    assert len(ready) == 1 and ready[0]["final"] is False  # the user sees the preview at once
    assert [f["final"] for f in frames].count(True) == 1
    assert frames[-1]["final"] and frames[-1]["step"] == "smoke test passed"
    assert frames[-1]["status"] == "ready" and frames[-1]["scores"]["smoke_passed"] is True


def test_the_round_trip_leaves_the_users_records_alone(build_preview, preview_client, owner):
    build = build_preview()
    client = preview_client(build)
    client.enter(build, owner)

    assert client.get("/api/entities/Task").json() == []


def test_a_blank_preview_says_why(build_preview):
    build = build_preview({**TODO_APP, "src/main.jsx": THROWS_JSX})

    assert build.status == Build.Status.READY  # it built and serves; the smoke test is what failed
    assert build.smoke_passed is False and build.scores["blank"] is True
    assert build.build_passed is True and build.failed_step == ""
    assert "the preview is blank: the app threw" in build.smoke_message
    assert "Cannot read properties of undefined" in build.smoke_message
    assert build.scores["uncaught_errors"] == 1


def test_an_app_that_renders_nothing_says_so(build_preview):
    app = {**TODO_APP, "src/main.jsx": "console.log('hi');\n"}

    build = build_preview(app)

    assert build.smoke_passed is False and build.scores["blank"] is True
    # The message names the window the app really had: 4 s after a page that loaded at the usual pace,
    # longer after one that loaded slowly on a busy machine.
    budget = build.scores["render_budget_ms"]
    assert budget == smoke.render_budget_ms(build.scores["load_ms"]) and budget >= 4000
    assert f"nothing was rendered into #root within {budget / 1000:g} s" in build.smoke_message


def test_a_page_that_loaded_slowly_gets_a_longer_render_window():
    assert smoke.render_budget_ms(300) == smoke.render_budget_ms(1000) == 4000  # a quiet machine
    assert smoke.render_budget_ms(2500) == 7500  # a starved one: three times its load time
    assert smoke.render_budget_ms(9000) == 10_000  # never past the smoke test's own time limit
