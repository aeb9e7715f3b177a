"""Evaluation: two model versions answer the same held-out prompts through Kiln's real turn path (the
offline blueprint model, and a worse one that answers every prompt with the same broken app); the run
stores rates with intervals and the paired difference, prints a table, and shows on a staff page."""

import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from builder.models import Project
from generation.blueprint.responder import respond
from generation.blueprint.server import start_in_thread
from generation.models import Generation, ModelVersion
from generation.prompts import spec_messages
from generation.protocol import parse
from sandbox import docker_driver
from sandbox.image import ensure_runtime_image
from sandbox.models import Build
from tests.training.test_promotion import spec_of_blueprint_answer, stored_run
from training import evaluation
from training.corpus import held_out_items
from training.models import EvaluationResult, EvaluationRun

pytestmark = pytest.mark.django_db

UNRELATED = "a recipe box where I keep recipes with ingredients and cooking time"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The real runtime image and a sandbox folder of this module's own; smoke test on, no warm pool."""
    ensure_runtime_image()
    path = tmp_path_factory.mktemp("sbx")  # short: a Unix socket path must fit in 108 bytes
    with override_settings(SANDBOX_DIR=path, SMOKE_TEST=True, PREVIEW_POOL_SIZE=0):
        yield path
    docker_driver.remove_all_for_instance()
    shutil.rmtree(path, ignore_errors=True)


def broken_unrelated_app(messages, seed=None) -> str:
    """Whatever it is asked: the offline model's recipe app with a syntax error typed into it."""
    answer = respond([{"role": "user", "content": UNRELATED}], seed=1)
    return answer.replace("export default function App", "export default function App(((", 1)


@pytest.fixture
def versions():
    """Two versions of the offline model behind two servers speaking the real streaming protocol: the
    blueprint itself, and a worse one (the only test double: the model server)."""
    good_server, good_url = start_in_thread(port=0)
    worse_server, worse_url = start_in_thread(port=0)
    worse_server.respond = broken_unrelated_app
    good = ModelVersion.objects.create(name="blueprint-good", backend="blueprint", endpoint=good_url)
    worse = ModelVersion.objects.create(name="blueprint-worse", backend="blueprint", endpoint=worse_url, parent=good)
    yield good, worse
    for server in (good_server, worse_server):
        server.shutdown()
        server.server_close()


def test_two_versions_are_measured_through_the_real_path_and_compared_on_the_same_prompts(sandbox, versions):
    good, worse = versions
    items = held_out_items(3)

    run = evaluation.evaluate([good, worse], items, sandbox_sample=1, progress=False)

    results = list(EvaluationResult.objects.filter(run=run).order_by("position", "version_id"))
    assert len(results) == 6
    # Each answer is a generation pinned to its version, in a project of the evaluation account.
    for result in results:
        assert result.generation.model_version == result.version
        assert result.generation.turn.project.owner.username == "kiln-eval"
        assert result.generation.turn.prompt == items[result.position].prompt
    # The first prompt went through build, preview and smoke test in Chromium; the others were not built.
    first = {r.version: r for r in results if r.position == 0}
    assert first[good].build_passed and first[good].smoke_passed, first[good].reason
    assert first[good].terms_expected and first[good].terms_shown == first[good].terms_expected
    assert first[worse].build_passed is False and "src/App.jsx" in first[worse].reason
    assert all(not r.sandboxed and r.build_id is None and r.build_passed is None for r in results if r.position)
    assert Build.objects.filter(app_version__generations__in=[r.generation for r in results if r.position]).count() == 0
    # The broken build was not sent back to the model: an evaluation scores the version's own answer.
    assert not Generation.objects.filter(kind=Generation.Kind.REPAIR).exists()
    # Scored with Kiln's scorer: the blueprint names what each prompt asks for, the worse one never does.
    assert all(r.valid and r.entity_right and r.working for r in results if r.version == good)
    assert not any(r.entity_right or r.working and r.sandboxed for r in results if r.version == worse)

    summary = EvaluationRun.objects.get(id=run.id).summary
    assert summary["order"] == ["blueprint-good", "blueprint-worse"]
    good_figures, worse_figures = summary["versions"]["blueprint-good"], summary["versions"]["blueprint-worse"]
    assert good_figures["entity_right"] == {"value": 1.0, "low": 1.0, "high": 1.0, "n": 3}
    assert good_figures["build_passed"]["value"] == 1.0 and good_figures["build_passed"]["n"] == 1
    assert worse_figures["build_passed"]["value"] == 0.0
    reward = good_figures["reward"]
    assert reward["low"] <= reward["value"] <= reward["high"] and reward["n"] == 3
    assert good_figures["tokens_per_working_app"]["value"] > 1000  # a whole app is thousands of tokens
    paired = summary["paired"]
    assert (paired["a"], paired["b"], paired["n"]) == ("blueprint-good", "blueprint-worse", 3)
    assert paired["mean_difference"] > 0 and paired["low"] > 0  # the interval excludes zero, on the right side
    expected = sum(r.reward if r.version == good else -r.reward for r in results) / 3
    assert paired["mean_difference"] == pytest.approx(expected)

    out = io.StringIO()
    evaluation.print_table(run, file=out)
    table = out.getvalue()
    assert "mean reward" in table and "blueprint-good" in table and "blueprint-worse" in table
    assert "paired reward difference blueprint-good − blueprint-worse" in table


def test_a_spec_mode_version_is_scored_on_the_app_kiln_renders_from_its_spec(sandbox, settings):
    server, url = start_in_thread(port=0)
    server.respond = spec_of_blueprint_answer
    spec = ModelVersion.objects.create(name="spec-writer", backend="blueprint", endpoint=url, output_mode="spec")
    item = held_out_items(1, seed=3)[0]

    run = evaluation.evaluate([spec], [item], progress=False)
    server.shutdown()
    server.server_close()

    result = run.results.get()
    assert result.generation.request_messages == spec_messages(item.prompt)  # the short prompt, as Kiln sends it
    assert "src/main.jsx" in result.generation.app_version.manifest  # the whole app, rendered from app.json
    assert result.build_passed and result.smoke_passed and result.working, result.reason
    assert result.terms_shown == result.terms_expected > 0
    assert result.reward == 1.0
    assert run.summary["versions"]["spec-writer"]["tokens_per_working_app"]["value"] < 1000  # a spec, not an app
    assert run.summary["paired"] is None


def test_build_and_smoke_scores_files_through_the_sandbox_and_leaves_nothing(sandbox):
    working = parse(respond([{"role": "user", "content": UNRELATED}], seed=1)).result_files()
    broken = parse(broken_unrelated_app([])).result_files()

    assert evaluation.build_and_smoke(working, UNRELATED) == (True, True)
    assert evaluation.build_and_smoke(broken, UNRELATED) == (False, False)
    assert not Project.objects.exists() and not Build.objects.exists()
    assert list(docker_driver.instance_containers()) == []


def test_the_evaluation_account_cannot_sign_in_and_is_not_staff():
    account = evaluation.evaluation_account()
    assert not account.has_usable_password() and not account.is_staff
    assert evaluation.evaluation_account() == account


@pytest.fixture
def two_versions():
    base = ModelVersion.objects.create(name="kiln-small", backend="kiln")
    return base, ModelVersion.objects.create(name="kiln-small-grpo-1", backend="kiln", parent=base)


def test_staff_see_each_run_with_its_table_and_paired_difference(client, staff, two_versions):
    base, round_ = two_versions
    run = stored_run(round_, base, [(0.9, 0.5), (0.8, 0.6), (1.0, 0.5), (0.7, 0.6)])
    client.force_login(staff)

    page = client.get("/review/evaluations/").content.decode()
    detail = client.get(f"/review/evaluations/{run.id}/").content.decode()

    assert f"Evaluation {run.id}" in page and "kiln-small-grpo-1 vs kiln-small" in page
    assert "mean reward" in page and "protocol-valid rate" in page
    assert "paired reward difference kiln-small-grpo-1 − kiln-small: 0.300" in page
    assert detail.count("<tr>") >= 9  # the metrics and the eight answers
    assert "prompt 3" in detail


def test_a_normal_user_gets_404(client, owner, two_versions):
    run = stored_run(*two_versions, [(1.0, 0.0), (1.0, 0.0)])
    client.force_login(owner)

    assert client.get("/review/evaluations/").status_code == 404
    assert client.get(f"/review/evaluations/{run.id}/").status_code == 404


def test_the_command_evaluates_prompts_from_a_file_and_prints_the_table(versions, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"prompt": item.prompt, "entity": item.entity, "fields": list(item.fields)} for item in held_out_items(2)]
    prompts.write_text("\n".join(json.dumps(row) for row in rows) + "\n")

    call_command("evaluate", "--versions", "blueprint-good,blueprint-worse", "--prompts", str(prompts),
                 "--sandbox-sample", "0")

    run = EvaluationRun.objects.get()
    assert (run.prompt_source, run.n, run.sandbox_sample) == (str(prompts), 2, 0)
    assert [r.prompt for r in run.results.filter(version__name="blueprint-good")] == [r["prompt"] for r in rows]
    out = capsys.readouterr().out
    assert "protocol-valid rate" in out and "paired reward difference blueprint-good − blueprint-worse" in out
    assert f"Stored as evaluation run {run.id}" in out


def test_a_bad_prompt_file_or_version_is_refused_with_what_to_fix(versions, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "Track my zorblats", "entity": "Zorblat", "fields": ["name"]}\n{"prompt": 3}\n')

    with pytest.raises(CommandError, match=r"prompts.jsonl:2: each line must be a JSON object"):
        call_command("evaluate", "--versions", "blueprint-good", "--prompts", str(prompts))
    with pytest.raises(CommandError, match="No model version is named 'nope'"):
        call_command("evaluate", "--versions", "blueprint-good,nope")
    with pytest.raises(CommandError, match="two different model versions"):
        call_command("evaluate", "--versions", "blueprint-good,blueprint-good")
    assert not EvaluationRun.objects.exists()
