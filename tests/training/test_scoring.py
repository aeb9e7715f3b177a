"""Kiln's scorer as a reward: real answers of the offline blueprint model (training.corpus.target_text)
and the ways a model's answer goes wrong, each scored lower than a right one, for the reason a user
would see (generation.protocol's issues, the spec Kiln cannot render, the wrong thing built)."""

import json

import pytest

from generation import protocol
from generation.specs import expand_spec
from sandbox import docker_driver
from training import scoring
from training.corpus import target_text, training_items
from training.scoring import NOT_A_SPEC, WEIGHTS, Score, field_f1, score_answer

ITEMS = training_items(12, seed=3)


def other_entity_item(item):
    return next(other for other in ITEMS if other.entity != item.entity)


def app_json_of(answer: str) -> dict:
    return json.loads(protocol.parse(answer).result_files()["app.json"])


def with_app_json(answer: str, data: dict) -> str:
    """The answer with its app.json block replaced (the explanation around it kept)."""
    before, rest = answer.split('<file path="app.json">', 1)
    after = rest.split("</file>", 1)[1]
    return f'{before}<file path="app.json">\n{json.dumps(data, indent=2)}\n</file>{after}'


@pytest.mark.parametrize("item", ITEMS[:6], ids=lambda item: item.noun)
def test_the_offline_models_spec_for_its_own_prompt_earns_the_full_reward(item):
    score = score_answer(item, target_text(item, target="spec"))
    assert score == Score(valid=True, entity_right=True, field_f1=1.0, build_passed=None, smoke_passed=None,
                          reward=1.0, files=score.files)
    # The app Kiln renders from the spec is a whole app: the files the sandbox needs to build it.
    assert {"app.json", "index.html", "src/main.jsx"} <= set(score.files)


def test_a_full_answer_scored_in_full_mode_is_valid_and_right():
    item = ITEMS[0]
    score = score_answer(item, target_text(item, target="full"), mode="full")
    assert (score.valid, score.entity_right, score.field_f1, score.reward) == (True, True, 1.0, 1.0)


def test_a_spec_for_another_thing_loses_the_entity_part():
    item = ITEMS[0]
    wrong = other_entity_item(item)
    score = score_answer(item, target_text(wrong, target="spec"))
    assert score.valid and not score.entity_right
    assert score.reward < 1.0
    expected_f1 = field_f1(wrong.fields, item.fields)
    assert score.field_f1 == pytest.approx(expected_f1)
    assert score.reward == pytest.approx((WEIGHTS["valid"] + WEIGHTS["field_f1"] * expected_f1) / 0.8)


def test_right_entity_with_missing_fields_scores_between_wrong_and_right():
    item = ITEMS[0]
    answer = target_text(item, target="spec")
    data = app_json_of(answer)
    fields = data["entities"][item.entity]["fields"]
    kept = dict(list(fields.items())[:1])  # only the first field (its title) survives
    data["entities"][item.entity]["fields"] = kept
    score = score_answer(item, with_app_json(answer, data))
    assert score.valid and score.entity_right
    assert 0 < score.field_f1 < 1
    wrong = score_answer(item, target_text(other_entity_item(item), target="spec"))
    assert wrong.reward < score.reward < 1.0


def test_a_broken_protocol_scores_zero_and_says_why():
    item = ITEMS[0]
    answer = target_text(item, target="spec")
    # The model opened a second block before closing app.json: Kiln refuses the whole answer.
    broken = answer.replace("</file>", '<file path="notes.txt">\nmore\n</file>', 1)
    score = score_answer(item, broken)
    assert (score.kept, score.valid, score.reward) == (False, False, 0.0)
    assert protocol.NESTED in score.defects
    assert "not closed" in score.reason


def test_an_answer_cut_off_by_the_length_limit_scores_zero():
    item = ITEMS[0]
    answer = target_text(item, target="spec")
    cut = answer[: answer.index("</file>") - 20]
    score = score_answer(item, cut, finish_reason="length")
    assert (score.kept, score.reward) == (False, 0.0)
    assert protocol.CUT_OFF in score.defects
    # Ended mid-file with no reason given: the file was never closed, and the answer is refused alike.
    unclosed = score_answer(item, cut)
    assert (unclosed.kept, unclosed.reward, unclosed.defects) == (False, 0.0, (protocol.UNCLOSED,))
    # The same answer whole but stopped by the token limit (the model never finished) is refused too.
    assert score_answer(item, answer, finish_reason="length").reward == 0.0


def test_a_lazy_placeholder_in_app_json_scores_zero():
    item = ITEMS[0]
    answer = target_text(item, target="spec")
    lazy = answer.replace('"fields": {', '"fields": {\n        // rest of the fields unchanged', 1)
    score = score_answer(item, lazy)
    assert (score.kept, score.reward) == (False, 0.0)
    assert score.defects == (protocol.LAZY_PLACEHOLDER,)


def test_no_file_at_all_scores_zero():
    item = ITEMS[0]
    score = score_answer(item, f"I would build a {item.noun} tracker for you.")
    assert (score.kept, score.reward) == (False, 0.0)


def test_an_app_json_kiln_cannot_render_is_not_valid_but_keeps_the_entity_credit():
    item = ITEMS[0]
    answer = target_text(item, target="spec")
    data = app_json_of(answer)
    data["entities"]["lowercase thing"] = {"fields": {}}  # not an entity name Kiln's writer can render
    score = score_answer(item, with_app_json(answer, data))
    assert score.kept and not score.valid and score.entity_right
    assert score.reason == NOT_A_SPEC
    assert score.reward == pytest.approx((WEIGHTS["entity_right"] + WEIGHTS["field_f1"]) / 0.8)


def test_a_spec_mode_answer_is_judged_by_the_app_kiln_renders_from_its_app_json():
    item = ITEMS[0]
    answer = target_text(item, target="full")  # wrote every file, though only app.json is used in spec mode
    score = score_answer(item, answer, mode="spec")
    app_json = protocol.parse(answer).result_files()["app.json"]
    assert score.valid and score.files == expand_spec({"app.json": app_json}, seed=0)


def test_a_refused_answer_counts_as_a_failed_build_when_the_sandbox_is_in_the_loop():
    item = ITEMS[0]
    score = score_answer(item, "no files here", sandbox=True)
    assert (score.build_passed, score.smoke_passed, score.reward) == (False, False, 0.0)


@pytest.mark.django_db
def test_with_the_sandbox_the_app_rendered_from_a_spec_is_built_and_smoke_tested(sandbox):
    item = ITEMS[2]
    answer = target_text(item, target="spec")
    score = score_answer(item, answer, sandbox=True)
    assert (score.valid, score.entity_right, score.build_passed, score.smoke_passed) == (True, True, True, True)
    assert score.reward == 1.0
    # GRPO samples the same spec many times: the same app is built once.
    builds_before = scoring._build_and_smoke.cache_info().misses
    assert score_answer(item, answer, sandbox=True) == score
    assert scoring._build_and_smoke.cache_info().misses == builds_before
    # The scoring build leaves nothing behind: no container of this instance is left running.
    assert list(docker_driver.instance_containers()) == []


def test_every_reward_lies_between_zero_and_one_and_orders_the_answers():
    item = ITEMS[1]
    right = target_text(item, target="spec")
    answers = {
        "right": right,
        "wrong entity": target_text(other_entity_item(item), target="spec"),
        "cut off": right[: len(right) // 2],
        "broken": right.replace('<file path="app.json">', '<file path="/app.json">'),
    }
    rewards = {name: score_answer(item, text).reward for name, text in answers.items()}
    assert all(0.0 <= r <= 1.0 for r in rewards.values())
    assert rewards["right"] > rewards["wrong entity"] > rewards["cut off"] == rewards["broken"] == 0.0


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="Unknown scoring mode"):
        score_answer(ITEMS[0], "x", mode="diff")
