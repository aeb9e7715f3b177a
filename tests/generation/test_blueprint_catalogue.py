"""The offline blueprint model's catalogue: 12+ kinds of app from prompts it has never seen, each
planned as a person expects and bundled in the real runtime image, and follow-up requests answered
with <edit> blocks that apply cleanly to the files written before and still bundle."""

import json

import pytest

from generation.blueprint import writer
from generation.blueprint.catalogue import CATALOGUE, FOLLOW_UPS, TODO_CHAIN
from generation.blueprint.responder import respond
from generation.blueprint.yardstick import kind_of
from generation.prompts import build_messages
from generation.protocol import parse

KINDS = [entry[0] for entry in CATALOGUE]


def first_answer(prompt: str, seed: int = 7) -> tuple[str, dict[str, str]]:
    answer = respond([{"role": "user", "content": prompt}], seed=seed)
    parser = parse(answer)
    assert parser.issues == []
    return answer, parser.files


def follow_up(prompt: str, answer: str, files: dict[str, str], request: str, seed: int = 7):
    messages = build_messages(history=[(prompt, answer)], files=files, prompt=request)
    reply = respond(messages, seed=seed)
    return reply, parse(reply, finish_reason="stop", base_files=files)


def test_the_catalogue_has_at_least_twelve_kinds():
    assert len(set(KINDS)) == len(KINDS) >= 12


@pytest.mark.parametrize("kind, prompt, entity, fields", CATALOGUE, ids=KINDS)
def test_each_catalogue_prompt_plans_the_expected_app(kind, prompt, entity, fields):
    _, files = first_answer(prompt)
    app = json.loads(files["app.json"])

    [(planned_entity, spec)] = app["entities"].items()
    assert planned_entity == entity
    assert {name: kind_of(f) for name, f in spec["fields"].items()} == fields
    assert next(iter(spec["fields"].values())) == {"type": "string", "required": True}
    assert f'"name": "{entity}"' in files["src/App.jsx"]


@pytest.mark.parametrize("kind, prompt", [(k, p) for k, p, _, _ in CATALOGUE[::3]], ids=KINDS[::3])
def test_catalogue_apps_bundle_in_the_runtime_image(kind, prompt, bundle):
    _, files = first_answer(prompt, seed=len(prompt))
    bundle(files)


@pytest.mark.parametrize("request_text", FOLLOW_UPS)
@pytest.mark.parametrize("kind, prompt", [(k, p) for k, p, _, _ in CATALOGUE], ids=KINDS)
def test_follow_ups_are_edits_that_apply_to_every_catalogue_app(kind, prompt, request_text):
    answer, files = first_answer(prompt)
    reply, parser = follow_up(prompt, answer, files, request_text)

    assert parser.issues == []
    assert "<file " not in reply  # every change is an edit of the files written before
    result = parser.result_files()
    assert set(result) == set(files)
    plan, _ = writer.read_app(result)
    main = plan.main
    if request_text == "add a due date":
        assert (
            main.field("due_date").type == "date"
            or main.field("due_date") is None
            and "due" in files["app.json"]
        )
    elif request_text == "sort by priority":
        ranked = main.field("priority") or main.field("severity")
        assert ranked.type == "enum" and main.sort == (ranked.name, "desc")
    elif request_text == "make it dark":
        assert '"theme": "dark"' in result["src/styles.css"] and result["app.json"] == files["app.json"]
        assert parser.changed_paths == ["src/styles.css"]
    else:
        assert main.name == "Entry" and list(json.loads(result["app.json"])["entities"]) == ["Entry"]


def test_the_todo_chain_edits_each_result_and_every_step_bundles(tmp_path, bundle):
    prompt = "a todo list where I can add, tick and delete tasks"
    answer, files = first_answer(prompt)
    history = [(prompt, answer)]
    for step, request in enumerate(TODO_CHAIN):
        messages = build_messages(history=history, files=files, prompt=request)
        reply = respond(messages, seed=7)
        parser = parse(reply, finish_reason="stop", base_files=files)
        assert parser.issues == [] and parser.changed_paths and "<file " not in reply, request
        files = parser.result_files()
        history.append((request, reply))
    bundle(files, tmp_path)

    app = json.loads(files["app.json"])
    assert list(app["entities"]) == ["Chore"]
    fields = app["entities"]["Chore"]["fields"]
    assert fields["due_date"] == {"type": "date"} and fields["priority"]["values"] == [
        "low",
        "medium",
        "high",
    ]
    assert '"theme": "dark"' in files["src/styles.css"]
    plan, _ = writer.read_app(files)
    assert plan.main.sort == ("priority", "desc")


def test_an_edited_app_is_read_back_exactly_so_edits_stay_small():
    answer, files = first_answer(
        "a reading list with title, author, number of pages, rating and whether I finished it"
    )
    reply, parser = follow_up("books", answer, files, "make it dark")

    assert parser.changed_paths == ["src/styles.css"]
    assert len(reply) < 1500  # a few lines of CSS, not the app again


def test_regenerating_a_follow_up_gives_a_different_candidate():
    answer, files = first_answer("a movie watchlist with title, year, genre, rating and watched")
    _, one = follow_up("movies", answer, files, "add a due date", seed=2)
    _, two = follow_up("movies", answer, files, "add a due date", seed=3)

    assert one.result_files()["src/App.jsx"] != two.result_files()["src/App.jsx"]
    assert one.result_files()["app.json"] != two.result_files()["app.json"]
