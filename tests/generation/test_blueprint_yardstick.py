"""The blueprint model against its yardstick (generation/blueprint/yardstick.json), answers only: every
prompt and follow-up is answered and checked here; building and smoke-testing them all is the
`check_blueprint_apps` command's job (tests/builder/test_check_blueprint_apps.py runs a sample)."""

from collections import Counter

import pytest

from generation.blueprint import writer, yardstick
from generation.blueprint.responder import respond
from generation.prompts import build_messages
from generation.protocol import parse

DATA = yardstick.load()


def answer(case: dict) -> list[str]:
    reply = respond([{"role": "user", "content": case["prompt"]}], seed=1)
    parser = parse(reply, finish_reason="stop")
    plan, _ = writer.read_app(parser.result_files())
    return yardstick.check_prompt(case, plan.app_json(), parser.explanation) + yardstick.check_style(
        case, plan
    )


def follow_up(case: dict) -> list[str]:
    first = respond([{"role": "user", "content": case["base"]}], seed=1)
    files = parse(first).files
    reply = respond(
        build_messages(history=[(case["base"], first)], files=files, prompt=case["request"]), seed=1
    )
    parser = parse(reply, finish_reason="stop", base_files=files)
    assert parser.issues == [], case["request"]
    read = writer.read_app(parser.result_files())
    return yardstick.check_follow_up(case, writer.read_app(files)[0], read[0] if read else None, reply)


def test_the_yardstick_covers_many_styles_languages_and_follow_ups():
    prompt_kinds = Counter(case["kind"] for case in DATA["prompts"])
    follow_kinds = Counter(case["kind"] for case in DATA["follow_ups"])

    assert len(DATA["prompts"]) >= 60 and len(DATA["follow_ups"]) >= 40
    assert {"short", "long", "list", "several", "french", "spanish", "german", "style", "scope"} <= set(
        prompt_kinds
    )
    assert {"add field", "sort", "filter", "group", "stat", "rollup", "highlight", "chart", "cannot"} <= set(
        follow_kinds
    )


def test_the_blueprint_meets_the_yardstick_goals():
    prompts = {case["prompt"]: answer(case) for case in DATA["prompts"]}
    follow_ups = {case["request"]: follow_up(case) for case in DATA["follow_ups"]}

    right = [p for p, problems in prompts.items() if not problems]
    applied = [r for r, problems in follow_ups.items() if not problems]
    junk = [p for problems in follow_ups.values() for p in problems if p.startswith("junk")]
    assert len(right) >= 0.9 * len(prompts), {p: v for p, v in prompts.items() if v}
    assert len(applied) >= 0.85 * len(follow_ups), {r: v for r, v in follow_ups.items() if v}
    assert junk == []


@pytest.mark.parametrize("kind", ["several", "french", "scope"])
def test_every_prompt_of_the_hardest_kinds_builds_a_readable_app(kind):
    for case in (c for c in DATA["prompts"] if c["kind"] == kind):
        reply = respond([{"role": "user", "content": case["prompt"]}], seed=2)
        parser = parse(reply, finish_reason="stop")
        assert parser.issues == [] and writer.read_app(parser.result_files()) is not None, case["prompt"]
