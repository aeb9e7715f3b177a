"""Spec mode: a model of Kiln's own that writes only the explanation and app.json still gives the user a
whole app that builds and runs, first turn and follow-up. The model is the offline blueprint server
answering over the real streaming wire protocol, cut to a spec answer (what Kiln's own model learns)."""

import json

import pytest

from builder import pipeline
from builder.models import Turn
from builder.pipeline import generate
from generation.blueprint.responder import respond
from generation.models import Generation, ModelVersion, OutputDefect
from generation.prompts import SPEC_SYSTEM_PROMPT, build_messages, spec_messages
from generation.protocol import parse
from generation.specs import SPEC_INVALID, expand_spec
from sandbox.models import Build
from training.corpus import spec_answer

pytestmark = pytest.mark.django_db

PROMPT = "Track my zorblats with a colour, a weight and a purchase date"


@pytest.fixture(autouse=True)
def no_containers_left():
    yield
    from sandbox.docker_driver import remove_all_for_instance

    remove_all_for_instance()


def spec_of(messages, seed=None) -> str:
    """The offline model's answer to the messages, cut to the explanation and the app.json it leaves."""
    answer = respond(messages, seed=seed)
    last = messages[-1]["content"]
    base = parse(last).files if 'path="app.json"' in last else {}
    parsed = parse(answer, "stop", base_files=base)
    return spec_answer(answer.split("<", 1)[0].strip(), json.loads(parsed.result_files()["app.json"]))


@pytest.fixture
def spec_model(settings):
    """A spec-mode model server: it records what it was sent and answers a spec."""
    from generation.blueprint.server import start_in_thread

    server, base_url = start_in_thread(port=0, model_name="kiln-spec-test")
    server.received = []

    def answer(messages, seed=None):
        server.received.append(messages)
        return server.answer(messages, seed)

    server.answer = spec_of
    server.respond = answer
    version = ModelVersion.objects.create(
        name="kiln-spec-test", backend=ModelVersion.Backend.KILN, endpoint=base_url,
        output_mode=ModelVersion.OutputMode.SPEC,
    )
    yield server, version
    server.shutdown()


def turn_for(project, version, prompt, base_version=None) -> Generation:
    """A turn and its generation as builder.services stores them (with the full prompt's messages)."""
    turn = Turn.objects.create(project=project, prompt=prompt, seed=3, base_version=base_version)
    files = base_version.files() if base_version else {}
    return Generation.objects.create(
        turn=turn, model_version=version, seed=3,
        request_messages=build_messages(history=[], files=files, prompt=prompt),
    )


def run_turn(generation, django_capture_on_commit_callbacks) -> Generation:
    with django_capture_on_commit_callbacks(execute=False):
        generate(generation.id)
    generation.refresh_from_db()
    return generation


def build(generation, django_capture_on_commit_callbacks) -> Build:
    build = Build.objects.get(app_version=generation.app_version)
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.build(build.id)
    build.refresh_from_db()
    return build


def test_a_spec_answer_becomes_a_whole_app_that_builds_and_runs(
    project, spec_model, django_capture_on_commit_callbacks
):
    server, version = spec_model

    first = run_turn(turn_for(project, version, PROMPT), django_capture_on_commit_callbacks)

    assert first.status == "done", first.error
    # The model was sent the short spec prompt, and that is what is kept for datasets.
    assert server.received == [spec_messages(PROMPT)]
    assert first.request_messages == spec_messages(PROMPT)
    assert first.request_messages[0]["content"] == SPEC_SYSTEM_PROMPT
    # It wrote only the explanation and app.json; the version holds the whole app, its app.json as written.
    written = parse(first.raw_output).files
    assert list(written) == ["app.json"]
    assert "Zorblat" in first.explanation
    files = first.app_version.files()
    whole_app = {"app.json", "index.html", "src/main.jsx", "src/App.jsx", "src/api.js", "src/styles.css"}
    assert whole_app <= set(files)
    assert files["app.json"] == written["app.json"]
    assert list(json.loads(files["app.json"])["entities"]) == ["Zorblat"]
    assert first.completion_tokens < 400  # a spec, not 5,500 tokens of code

    built = build(first, django_capture_on_commit_callbacks)
    assert built.status == "ready" and built.smoke_passed, built.error or built.smoke_message

    # A follow-up sends the current app.json and the request; the answer's new app.json is rendered.
    second = run_turn(turn_for(project, version, "add a price field", base_version=first.app_version),
                      django_capture_on_commit_callbacks)

    assert second.status == "done", second.error
    assert server.received[-1] == spec_messages("add a price field", app_json=files["app.json"])
    after = second.app_version.files()
    fields = json.loads(after["app.json"])["entities"]["Zorblat"]["fields"]
    assert "price" in fields and "colour" in fields
    assert '"price"' in after["src/App.jsx"]  # the screen shows the new field
    assert second.app_version.parent == first.app_version
    rebuilt = build(second, django_capture_on_commit_callbacks)
    assert rebuilt.status == "ready" and rebuilt.smoke_passed, rebuilt.error or rebuilt.smoke_message


def test_a_spec_kiln_cannot_render_fails_with_a_message_and_keeps_nothing(
    project, spec_model, django_capture_on_commit_callbacks
):
    server, version = spec_model
    server.answer = lambda messages, seed=None: (
        'Here it is.\n<file path="app.json">\n'
        '{"name": "Zorblats", "entities": {"zorblat": {"fields": {}}}}\n</file>\n'
    )

    generation = run_turn(turn_for(project, version, PROMPT), django_capture_on_commit_callbacks)

    assert generation.status == "failed"
    assert generation.error == SPEC_INVALID
    assert generation.app_version is None
    assert OutputDefect.objects.filter(generation=generation, message=SPEC_INVALID).exists()


def test_expand_spec_renders_the_writer_app_and_refuses_what_is_not_a_spec():
    app_json = json.dumps({"name": "Quimbles", "entities": {"Quimble": {"fields": {
        "title": {"type": "string", "required": True},
        "size": {"type": "enum", "values": ["S", "M", "L"]}}}}})

    files = expand_spec({"app.json": app_json}, seed=1)

    assert files["app.json"] == app_json
    assert '"Quimble"' in files["src/App.jsx"] and '"size"' in files["src/App.jsx"]
    another_candidate = expand_spec({"app.json": app_json}, seed=2)
    assert another_candidate["src/styles.css"] != files["src/styles.css"]
    for broken in ["", "[]", '{"entities": {}}',
                   '{"entities": {"Quimble": {"fields": {"x": {"type": "enum"}}}}}',
                   '{"entities": {"Quimble": {"fields": {"owner": {"type": "reference", "entity": "Person"}}}}}']:
        assert expand_spec({"app.json": broken}, seed=1) is None, broken
    assert expand_spec({"src/App.jsx": "x"}, seed=1) is None
