"""The context of a turn (generation/prompts.py, docs/context.md): system prompt, conversation and the
app's current files within a token budget; too-large projects summarised, never silently cut."""

import pytest

from generation.blueprint.responder import respond
from generation.prompts import (
    DEFAULT_BUDGET_TOKENS,
    REQUEST_HEADING,
    SYSTEM_PROMPT,
    build_context,
    build_messages,
    compact_answer,
    estimate_tokens,
    summarise_file,
)
from generation.protocol import parse


@pytest.fixture(scope="module")
def todo():
    answer = respond(
        [{"role": "user", "content": "a todo list where I can add, tick and delete tasks"}], seed=1
    )
    return answer, parse(answer).files


def total(messages):
    return sum(estimate_tokens(m["content"]) for m in messages)


def test_a_first_turn_is_the_system_prompt_and_the_prompt():
    assert build_messages(history=[], files={}, prompt="a todo list") == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "a todo list"},
    ]


def test_a_follow_up_that_fits_has_every_file_in_full_and_the_request_last(todo):
    answer, files = todo
    context = build_context(history=[("a todo list", answer)], files=files, prompt="make it dark")

    assert context.fits and context.summarised == [] and context.omitted_turns == 0
    assert context.tokens == total(context.messages) <= DEFAULT_BUDGET_TOKENS
    last = context.messages[-1]["content"]
    for path, content in files.items():
        assert f'<file path="{path}">\n{content}\n</file>' in last
    assert last.endswith(f"{REQUEST_HEADING}\nmake it dark")
    assert "summary" not in last and "Context note" not in last
    assert [m["role"] for m in context.messages] == ["system", "user", "assistant", "user"]


def test_earlier_answers_keep_their_words_but_not_their_files(todo):
    answer, _ = todo
    compact = compact_answer(answer + '<edit path="a.js">\nx\n</edit>\n<delete path="b.js"/>')

    assert "[wrote app.json]" in compact and "[wrote src/App.jsx]" in compact
    assert "[edited a.js]" in compact and "[deleted b.js]" in compact
    assert "useState" not in compact and compact.startswith("I built Todo list")


def test_over_budget_the_largest_files_are_summarised_and_listed(todo):
    answer, files = todo
    context = build_context(
        history=[("a todo list", answer)], files=files, prompt="make it dark", budget_tokens=3500
    )

    assert context.fits
    assert context.summarised == ["src/App.jsx"]  # the largest file, and enough
    last = context.messages[-1]["content"]
    assert '<file path="src/App.jsx">' not in last and '<file path="src/styles.css">' in last
    assert "only a summary of each is shown" in last and "src/App.jsx" in last
    assert '<summary path="src/App.jsx" bytes=' in last
    assert "component App" in last and "function toRecord" in last and "const ENTITY" in last
    assert last.endswith(f"{REQUEST_HEADING}\nmake it dark")


def test_earliest_turns_go_first_and_the_message_says_so(todo):
    answer, files = todo
    history = [(f"request {i}: " + "please change the layout a little " * 30, answer) for i in range(12)]
    context = build_context(history=history, files=files, prompt="add a due date", budget_tokens=7000)

    assert context.fits and context.summarised == [] and context.omitted_turns > 0
    shown = [m["content"] for m in context.messages if m["role"] == "user"][:-1]
    assert shown[-1].startswith("request 11:") and not any(text.startswith("request 0:") for text in shown)
    assert (
        f"the {context.omitted_turns} earliest turns of this conversation are not shown"
        in context.messages[-1]["content"]
    )


def test_a_huge_project_is_summarised_until_it_fits():
    files = {
        f"src/part{i}.js": f"export function part{i}() {{\n" + "  return 1;\n" * 2000 + "}\n"
        for i in range(6)
    }
    files["app.json"] = '{"name": "Big", "entities": {}}'
    context = build_context(history=[("build it", "ok")], files=files, prompt="fix it")

    assert context.fits and len(context.summarised) >= 4
    last = context.messages[-1]["content"]
    assert '<file path="app.json">' in last
    for i in range(6):  # every part is either there in full or summarised and named
        path = f"src/part{i}.js"
        if path in context.summarised:
            assert (
                f'<summary path="{path}"' in last
                and f"function part{i}" in last
                and f'<file path="{path}">' not in last
            )
        else:
            assert f'<file path="{path}">' in last


def test_the_blueprint_still_follows_up_on_a_summarised_app(todo):
    answer, files = todo
    messages = build_messages(
        history=[("a todo list", answer)], files=files, prompt="add a due date", budget_tokens=3500
    )

    parser = parse(respond(messages, seed=1), base_files=files)

    assert parser.issues == []
    assert '"due_date"' in parser.result_files()["src/App.jsx"]  # written whole: it was only summarised


def test_summaries_describe_css_and_json():
    css = summarise_file("src/styles.css", ":root {\n  --a: 1;\n}\n.app .item {\n  color: red;\n}\n")
    assert "rules: :root, .app .item" in css and 'bytes="' in css
    assert "keys: name, entities" in summarise_file("app.json", '{"name": "x", "entities": {}}')
