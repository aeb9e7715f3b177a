"""The frames contract (docs/frames.md): every kind the server can send is handled by the page, and a
build's finality is the same in the live stream and in the state a connecting browser gets."""

import re
from pathlib import Path

import pytest

from generation import frames

PROJECT_JS = Path(__file__).resolve().parents[2] / "static" / "builder" / "project.js"


def handled_frame_kinds(js: str) -> set[str]:
    body = js[js.index("function applyFrame"):]
    body = body[:body.index("\n  }\n")]
    return set(re.findall(r'case "([a-z_]+)"', body))


def handled_message_types(js: str) -> set[str]:
    body = js[js.index("function onMessage"):]
    body = body[:body.index("\n  }\n")]
    return set(re.findall(r'm\.type === "([a-z_]+)"', body))


def test_the_page_handles_every_frame_kind_the_server_can_send():
    missing = set(frames.STREAM_KINDS) - handled_frame_kinds(PROJECT_JS.read_text())
    assert missing == set(), f"project.js applyFrame() has no case for {sorted(missing)}"


def test_the_page_handles_every_socket_message_the_server_can_send():
    missing = set(frames.SOCKET_TYPES) - {"frame"} - handled_message_types(PROJECT_JS.read_text()) - {"frame"}
    assert missing == set(), f"project.js onMessage() does not handle {sorted(missing)}"


def test_the_checker_notices_a_kind_the_page_forgot():
    js = 'function applyFrame(g, f) {\n    switch (f.kind) {\n      case "text": break;\n    }\n  }\n'
    assert handled_frame_kinds(js) == {"text"}
    assert set(frames.STREAM_KINDS) - handled_frame_kinds(js)


@pytest.mark.parametrize(("status", "smoke_status", "final"), [
    ("queued", "pending", False),
    ("building", "pending", False),
    ("ready", "pending", False),  # the preview is up, its smoke test still to come
    ("ready", "passed", True),
    ("ready", "failed", True),
    ("ready", "not_scored", True),  # Chromium broken, or the preview stopped under the test
    ("ready", "skipped", True),
    ("stopped", "pending", True),  # stopped before its smoke test: over, in the stream and the state
    ("failed", "pending", True),
])
def test_a_build_is_final_by_one_rule_in_the_stream_and_in_the_state(status, smoke_status, final, db, project):
    from builder import selectors
    from builder.models import AppVersion
    from sandbox.models import Build

    version = AppVersion.objects.create(project=project, manifest={}, digest="x")
    build = Build.objects.create(app_version=version, status=status, smoke_status=smoke_status)
    frame = frames.build(build_id=build.id, status=status, smoke_status=smoke_status, step="x")
    assert frame["final"] is final
    assert frames.is_last(frame) is final
    assert selectors.build_state(build, project.owner)["final"] is final
