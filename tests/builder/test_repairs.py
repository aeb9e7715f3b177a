"""A version that does not build goes back to the model with its errors, a bounded number of times;
a repair that makes it build is stored as a preference pair (chosen = fixed, rejected = broken)."""

import pytest

from builder.models import Turn
from builder import pipeline
from builder.pipeline import after_build, generate
from builder.repairs import GAVE_UP
from builder.versions import create_version
from feedback.models import PreferencePair
from generation.blueprint.responder import respond
from generation.models import Generation
from generation.prompts import build_messages, is_repair_request
from generation.protocol import parse
from generation.streaming import read_after
from sandbox.models import Build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_containers_left():
    yield
    from sandbox.docker_driver import remove_all_for_instance

    remove_all_for_instance()

PROMPT = "a todo list where I can add, tick and delete tasks"


def broken_todo_app() -> str:
    """The offline model's todo app with a syntax error typed into src/App.jsx."""
    answer = respond([{"role": "user", "content": PROMPT}], seed=1)
    return answer.replace("export default function App", "export default function App(((", 1)


@pytest.fixture
def model_that_breaks_then_repairs(settings):
    """First answer: a broken app. Repair requests: the real offline model, which rewrites it."""
    from generation.blueprint.server import start_in_thread

    server, base_url = start_in_thread(port=0)
    settings.MODEL_BASE_URL = base_url

    def answer(messages, seed=None):
        last = messages[-1]["content"]
        request = last.split("## Request\n")[-1]
        return respond(messages, seed=seed) if is_repair_request(request) else broken_todo_app()

    server.respond = answer
    yield server
    server.shutdown()


def build_of(generation, django_capture_on_commit_callbacks) -> Build:
    """The build that generate queued for the generation's version, run in this process."""
    build = Build.objects.get(app_version=generation.app_version)
    pipeline.build(build.id)
    build.refresh_from_db()
    return build


def test_a_failed_build_is_repaired_and_the_fix_becomes_a_pair(
    project, model_version, model_that_breaks_then_repairs, django_capture_on_commit_callbacks
):
    turn = Turn.objects.create(project=project, prompt=PROMPT, seed=1)
    broken = Generation.objects.create(
        turn=turn, model_version=model_version, seed=1,
        request_messages=build_messages(history=[], files={}, prompt=PROMPT),
    )
    with django_capture_on_commit_callbacks(execute=False):
        generate(broken.id)
    broken.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        failed = build_of(broken, django_capture_on_commit_callbacks)

    assert failed.status == "failed" and failed.failed_step == "bundle"
    assert "src/App.jsx:" in failed.error
    repair = Generation.objects.get(kind="repair")
    assert repair.repair_of == failed
    assert "src/App.jsx:" in repair.request_messages[-1]["content"]
    frames = read_after(broken.stream_key)
    kinds = [(f["type"], f.get("final")) for f in frames]
    assert kinds.index(("repair", None)) < kinds.index(("build", True)) == len(kinds) - 1  # seen first

    with django_capture_on_commit_callbacks(execute=False):
        generate(repair.id)
    repair.refresh_from_db()
    assert repair.status == "done", repair.error
    assert repair.app_version.parent == broken.app_version
    with django_capture_on_commit_callbacks(execute=False):
        fixed = build_of(repair, django_capture_on_commit_callbacks)

    assert fixed.status == "ready" and fixed.smoke_passed, fixed.error or fixed.smoke_message
    pair = PreferencePair.objects.get()
    assert (pair.chosen_generation, pair.rejected_generation, pair.source) == (repair, broken, "repair")
    assert pair.prompt == broken.request_messages
    written = parse(pair.chosen[0]["content"]).files
    assert "function App(((" not in written["src/App.jsx"]
    assert pair.rejected[0]["content"] == broken.raw_output


def failed_build_for(generation, project) -> Build:
    version = create_version(project=project, files={"app.json": "{}"}, parent=None)
    Generation.objects.filter(id=generation.id).update(app_version=version)
    return Build.objects.create(app_version=version, status="failed", failed_step="bundle",
                                error="src/App.jsx:3:7: ERROR: Expected \")\"", stream_key=generation.stream_key)


def test_repairs_stop_after_the_limit_with_a_message(project, make_generation, settings,
                                                     django_capture_on_commit_callbacks):
    settings.REPAIR_ATTEMPTS = 2
    generation = make_generation()
    with django_capture_on_commit_callbacks(execute=False):
        for _ in range(2):
            build = failed_build_for(generation, project)
            generation = after_build(build)
            assert generation.kind == "repair"
        last = failed_build_for(generation, project)
        assert after_build(last) is None

    assert Generation.objects.filter(kind="repair").count() == 2
    gave_up = read_after(generation.stream_key)[-1]
    assert gave_up["type"] == "repair_gave_up"
    assert gave_up["message"] == GAVE_UP.format(problem="failed to build", limit=2)


def test_a_build_that_fails_for_the_engine_is_not_sent_to_the_model(project, make_generation):
    generation = make_generation()
    build = failed_build_for(generation, project)
    Build.objects.filter(id=build.id).update(failed_step="engine", error="Preview engine unavailable")
    build.refresh_from_db()

    assert after_build(build) is None
    assert not Generation.objects.filter(kind="repair").exists()
