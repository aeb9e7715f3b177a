"""The whole learning loop, small enough for every test run: a tiny base of Kiln's own is bootstrapped
from synthetic apps, users' votes are exported as a snapshot, a DPO round trains on it and a GRPO round
trains against Kiln's own scorer, both are registered and served by vLLM's CPU build beside their base
(adapters loaded at run time, no restart), the GRPO round is evaluated against its parent on held-out
prompts through the real turn path (one of them built and smoke-tested in the sandbox), and promotion
follows its rule. Nothing here is a double but the users."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test import override_settings

from generation.models import Generation, ModelVersion
from sandbox.models import Build
from tests.training.factory import make_tiny_base
from training import promotion, serving
from training.base_model import register_base
from training.corpus import held_out_items
from training.evaluation import evaluation_account
from training.loop import run_round
from training.models import EvaluationResult, Promotion
from training.rounds import train_round

pytestmark = pytest.mark.django_db(transaction=True)

HELD_OUT = 3
# The tiny model's context is short, and these runs prove the machinery, not the model.
FAST = {"batch_size": 4, "max_length": 512}
# (sandbox: the real runtime image and a sandbox folder; voted_snapshot: users' votes exported. Both
# fixtures are in tests/training/conftest.py.)
GRPO = {"batch_size": 4, "num_generations": 4, "max_completion_length": 48, "prompts": 4}


def test_a_tiny_round_is_trained_served_evaluated_and_promoted_only_by_its_rule(
        sandbox, voted_snapshot, tmp_path):
    started = time.monotonic()
    base_dir = make_tiny_base(tmp_path, trained=True)
    base = register_base(base_dir, name="kiln-tiny")
    assert (base.backend, base.output_mode, base.is_active, base.weight) == ("kiln", "spec", False, 0)

    # vLLM takes tens of seconds to start: it comes up while the DPO round trains.
    server = serving.ModelServer(base, port=serving.free_port(), log_path=tmp_path / "vllm.log")
    with ThreadPoolExecutor(max_workers=1) as pool:
        starting = pool.submit(server.start, 240)
        try:
            dpo = train_round(base, method="dpo", snapshot=voted_snapshot, out_dir=tmp_path / "dpo", steps=2,
                              lr=1e-3, progress=False, **FAST)
            url = starting.result()
        except BaseException:
            starting.cancel()
            server.stop()
            raise
    try:
        assert dpo.parent_id == base.id and dpo.training["snapshot_sha256"]
        # A new round is served without a restart: its adapter is loaded into the running server.
        serving.load_adapter(url, dpo.name, Path(dpo.artifact_dir))
        assert {base.name, dpo.name} <= set(serving.served_models(url))

        with override_settings(OWN_MODEL_BASE_URL=url):
            outcome = run_round(base=base, method="grpo", out_dir=tmp_path / "grpo", n=HELD_OUT, steps=2,
                                sandbox_sample=1, server_url=url, progress=False, lr=1e-3, **GRPO)
        served = set(serving.served_models(url))
    finally:
        server.stop()

    grpo = outcome.version
    assert grpo.parent_id == base.id and grpo.training["method"] == "grpo" and grpo.name in served
    run = outcome.evaluation
    # Every held-out prompt went through the real turn path for both versions: a generation of the
    # evaluation account, pinned to the version, answered by vLLM; the first prompt built and smoke-tested.
    results = EvaluationResult.objects.filter(run=run)
    assert results.count() == 2 * HELD_OUT
    held_out = {item.prompt for item in held_out_items(HELD_OUT, seed=0)}
    generations = Generation.objects.filter(turn__project__owner=evaluation_account())
    assert {g.turn.prompt for g in generations} == held_out
    assert {g.model_version_id for g in generations} == {base.id, grpo.id}
    assert all(g.status in (Generation.Status.DONE, Generation.Status.FAILED) for g in generations)
    assert all(g.completion_tokens for g in generations if g.status == Generation.Status.DONE)
    assert not Generation.objects.filter(kind=Generation.Kind.REPAIR).exists()  # evaluation measures first answers
    # A tiny model trained for seconds mostly writes no valid spec; whatever it wrote has its outcome:
    # a version of the sampled prompt was built and smoke-tested, and every failure says why.
    for result in results.select_related("generation", "build"):
        if result.sandboxed and result.generation.app_version_id:
            assert result.build.status in Build.FINAL_STATUSES and result.build_passed is not None
        if not result.valid:
            assert result.reason and result.reward < 1.0
    assert results.filter(sandboxed=True).count() == 2  # the first prompt, for each version

    summary = run.summary
    for version in (grpo, base):
        metrics = summary["versions"][version.name]
        for name in ("valid", "entity_right", "field_f1", "build_passed", "reward", "tokens_per_working_app"):
            assert name in metrics and metrics[name]["n"] >= 1
        low, value, high = (metrics["reward"][k] for k in ("low", "value", "high"))
        assert 0.0 <= value <= 1.0 and (low is None or low <= value <= high)
    paired = summary["paired"]
    assert paired["n"] == HELD_OUT

    # Promotion obeyed its rule, whichever way the numbers fell, and the report says which.
    report = outcome.report.read_text()
    assert "| parent | kiln-tiny |" in report and "## Promotion" in report
    if promotion.is_better(paired):
        assert outcome.promotion is not None and not outcome.promotion.forced
        grpo.refresh_from_db()
        assert grpo.is_active and grpo.weight > 0
    else:
        assert outcome.promotion is None and "Not promoted" in outcome.decision
        grpo.refresh_from_db()
        assert grpo.weight == 0
        with pytest.raises(promotion.PromotionRefused):
            promotion.promote(grpo, 0.1)
        forced = promotion.promote(grpo, 0.1, force=True)
        assert forced.forced and Promotion.objects.filter(version=grpo, forced=True).exists()
    assert ModelVersion.objects.get(id=base.id).weight == 0 or promotion.is_better(paired)
    print(f"learning round end to end: {time.monotonic() - started:.0f} s")
