"""Promotion: a round gets live traffic only when its latest evaluation against its parent shows it better
(paired reward difference above zero, 95 % interval excluding zero); otherwise it is refused with the
numbers, unless forced, which is recorded."""

import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from generation.blueprint.responder import respond
from generation.blueprint.server import BlueprintServer, Handler
from generation.models import ModelVersion
from generation.protocol import parse
from generation.router import pick_model_versions
from training import evaluation
from training.corpus import spec_answer
from training.loop import run_round
from training.models import EvaluationResult, EvaluationRun, Promotion
from training.promotion import PromotionRefused, promote

pytestmark = pytest.mark.django_db

CLEARLY_BETTER = [(0.9, 0.5), (0.8, 0.6), (1.0, 0.5), (0.7, 0.6), (0.9, 0.4), (0.8, 0.5)]
NOT_CLEARLY = [(0.9, 0.5), (0.4, 0.8), (1.0, 0.5), (0.3, 0.6), (0.9, 0.8), (0.5, 0.6)]


def stored_run(a: ModelVersion, b: ModelVersion, rewards: list[tuple[float, float]]) -> EvaluationRun:
    """A finished run of a against b with these (a, b) rewards per prompt, summarised by the real code
    (no model, no sandbox: for the page and the promotion rule)."""
    run = EvaluationRun.objects.create(version_a=a, version_b=b, prompt_source="held-out", n=len(rewards),
                                       sandbox_sample=0)
    for position, pair in enumerate(rewards):
        for version, reward in zip((a, b), pair):
            EvaluationResult.objects.create(run=run, version=version, position=position, prompt=f"prompt {position}",
                                            valid=True, entity_right=reward > 0.5, field_f1=reward, reward=reward,
                                            working=True, completion_tokens=200, seconds=1.5)
    run.summary = evaluation.summarise(run)
    run.finished_at = timezone.now()
    run.save()
    return run


@pytest.fixture
def base():
    # The live default next to it: the blueprint version the data migration made, weight 1.
    ModelVersion.objects.filter(name="default").update(is_active=True, weight=1)
    return ModelVersion.objects.create(name="kiln-small", backend="kiln", is_active=False, weight=0)


@pytest.fixture
def round_(base):
    return ModelVersion.objects.create(name="kiln-small-grpo-1", backend="kiln", parent=base, is_active=False, weight=0)


def test_a_round_better_than_its_parent_gets_its_share_of_traffic(base, round_, staff):
    paused = ModelVersion.objects.create(name="paused", is_active=True, weight=0)
    run = stored_run(round_, base, CLEARLY_BETTER)

    promotion = promote(round_, 0.1, by=staff)

    round_.refresh_from_db()
    assert round_.is_active and round_.weight == 100
    assert ModelVersion.objects.get(name="default").weight == 900
    paused.refresh_from_db()
    assert paused.weight == 0  # it got no traffic before, and gets none now
    assert (promotion.evaluation, promotion.forced, promotion.by) == (run, False, staff)
    assert promotion.numbers["paired"]["low"] > 0 and promotion.numbers["share_given"] == pytest.approx(0.1)
    picks = [pick_model_versions(seed=seed)[0].name for seed in range(1000)]
    assert 0.07 < picks.count("kiln-small-grpo-1") / len(picks) < 0.13


def test_a_comparison_stored_the_other_way_round_counts_from_the_rounds_side(base, round_):
    stored_run(base, round_, [(b, a) for a, b in CLEARLY_BETTER])  # parent − round: negative

    promotion = promote(round_, 0.2)

    assert promotion.numbers["paired"]["mean_difference"] == pytest.approx(2.0 / 6)
    assert promotion.numbers["paired"]["a"] == "kiln-small-grpo-1"


def test_it_refuses_when_the_interval_includes_zero_and_says_the_numbers(base, round_):
    run = stored_run(round_, base, NOT_CLEARLY)
    low, high = run.summary["paired"]["low"], run.summary["paired"]["high"]
    assert low < 0 < high

    with pytest.raises(PromotionRefused) as refused:
        promote(round_, 0.1)

    message = str(refused.value)
    assert f"evaluation {run.id}" in message and f"[{low:+.3f}, {high:+.3f}]" in message and "on 6 prompts" in message
    round_.refresh_from_db()
    assert (round_.is_active, round_.weight) == (False, 0)
    assert not Promotion.objects.exists()


def test_it_refuses_a_worse_round_and_one_never_evaluated(base, round_):
    with pytest.raises(PromotionRefused, match="no finished evaluation against its parent kiln-small"):
        promote(round_, 0.1)
    stored_run(round_, base, [(b, a) for a, b in CLEARLY_BETTER])
    with pytest.raises(PromotionRefused, match="is not shown better"):
        promote(round_, 0.1)


def test_the_latest_evaluation_decides(base, round_):
    stored_run(round_, base, CLEARLY_BETTER)
    stored_run(round_, base, NOT_CLEARLY)

    with pytest.raises(PromotionRefused):
        promote(round_, 0.1)


def test_force_overrides_the_rule_and_is_recorded(base, round_):
    run = stored_run(round_, base, NOT_CLEARLY)

    with pytest.raises(CommandError, match="use --force"):
        call_command("promote", "kiln-small-grpo-1", "--share", "0.1")
    call_command("promote", "kiln-small-grpo-1", "--share", "0.1", "--force")

    promotion = Promotion.objects.get()
    assert promotion.forced and promotion.evaluation == run
    assert promotion.numbers["paired"]["low"] < 0  # the numbers it was forced past
    round_.refresh_from_db()
    assert round_.is_active and round_.weight == 100


def test_the_command_says_what_traffic_the_version_now_gets(base, round_, capsys):
    stored_run(round_, base, CLEARLY_BETTER)

    call_command("promote", "kiln-small-grpo-1", "--share", "0.25")

    out = capsys.readouterr().out
    assert "Promoted kiln-small-grpo-1: 25.0% of new turns" in out and "default 750" in out


@pytest.mark.parametrize("share", ["0", "1", "1.5"])
def test_a_share_outside_zero_to_one_is_refused(base, round_, share):
    stored_run(round_, base, CLEARLY_BETTER)

    with pytest.raises(CommandError, match="above 0 and below 1"):
        call_command("promote", "kiln-small-grpo-1", "--share", share)


# --- the loop: snapshot → train → register → load → evaluate → promote, with its report -----------------


class OwnModelServer(Handler):
    """A stand-in for the vLLM server (the only double: the model server), on the real wire protocol:
    it accepts adapters at run time (/v1/load_lora_adapter) and answers each served name its own way."""

    def do_POST(self):
        if self.path.rstrip("/") == "/v1/load_lora_adapter":
            self.server.loaded.append(json.loads(self._read_body()))
            return self._send_json(200, {})
        return super().do_POST()

    def _complete(self, body):
        self.server.respond = self.server.answers[body["model"]]  # evaluation asks one request at a time
        super()._complete(body)


def spec_of_blueprint_answer(messages, seed=None) -> str:
    """What a spec-mode model of Kiln's own should answer: the offline model's explanation and app.json."""
    answer = respond(messages, seed=seed)
    return spec_answer(answer.split("<file ", 1)[0].strip(), json.loads(parse(answer).files["app.json"]))


def spec_of_nothing(messages, seed=None) -> str:
    return 'I made an app.\n<file path="app.json">\n{"name": "App", "entities": {"Thing": {"fields": {}}}}\n</file>\n'


@pytest.fixture
def own_model_server(settings):
    server = BlueprintServer(("127.0.0.1", 0), model_name="kiln", delay_ms=0)
    server.RequestHandlerClass = OwnModelServer
    server.loaded, server.answers = [], {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.OWN_MODEL_BASE_URL = server.base_url
    yield server
    server.shutdown()
    server.server_close()


def test_a_round_that_beats_its_parent_is_loaded_evaluated_promoted_and_reported(own_model_server, tmp_path):
    from tests.training.factory import make_tiny_base  # transformers loads for this test only

    base_dir = make_tiny_base(tmp_path / "base", trained=False)
    base = ModelVersion.objects.create(name="tiny-spec", backend="kiln", is_active=False, weight=0,
                                       output_mode="spec", artifact_dir=str(base_dir), training={"kind": "base"})
    round_name = "tiny-spec-grpo-1"
    own_model_server.answers = {"tiny-spec": spec_of_nothing, round_name: spec_of_blueprint_answer}

    outcome = run_round(base=base, method="grpo", out_dir=tmp_path / "round", n=4, steps=1, sandbox_sample=0,
                        name=round_name, progress=False, batch_size=2, num_generations=2,
                        max_completion_length=16, prompts=2)

    version = outcome.version
    assert version.parent == base and version.name == round_name
    assert own_model_server.loaded == [{"lora_name": round_name, "lora_path": version.artifact_dir}]
    run = outcome.evaluation
    assert (run.version_a, run.version_b, run.n) == (version, base, 4)
    assert run.summary["paired"]["low"] > 0
    version.refresh_from_db()
    assert outcome.promotion.version == version and version.is_active and not outcome.promotion.forced
    report = (tmp_path / "round" / "adapter" / "report.md").read_text()
    assert outcome.report == tmp_path / "round" / "adapter" / "report.md"
    assert (tmp_path / "round" / "adapter" / "round.json").exists()
    assert "| mean reward |" in report and "paired reward difference tiny-spec-grpo-1 − tiny-spec" in report
    assert "Promoted tiny-spec-grpo-1 to 10% of traffic" in report
