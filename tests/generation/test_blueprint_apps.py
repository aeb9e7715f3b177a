"""What the blueprint model plans and writes for prompts it has never seen, and that the apps compile."""

import json

import pytest

from generation.blueprint.responder import respond
from generation.prompts import build_messages
from generation.protocol import parse


def app_for(prompt: str, seed: int = 1) -> tuple[dict, dict[str, str]]:
    parser = parse(respond([{"role": "user", "content": prompt}], seed=seed))
    assert parser.issues == []
    return json.loads(parser.files["app.json"]), parser.files


def fields_of(app: dict) -> tuple[str, dict]:
    [(entity, spec)] = app["entities"].items()
    return entity, {name: f["type"] for name, f in spec["fields"].items()}


@pytest.mark.parametrize(
    "prompt, entity, expected",
    [
        (
            "a todo list where I can add, tick and delete tasks",
            "Task",
            {"title": "string", "done": "boolean"},
        ),
        (
            "a recipe book with ingredients, cooking time and rating",
            "Recipe",
            {"name": "string", "ingredients": "text", "cooking_time": "integer", "rating": "integer"},
        ),
        (
            "track my workouts with date, exercise, sets and reps",
            "Workout",
            {"exercise": "string", "date": "date", "sets": "integer", "reps": "integer"},
        ),
        (
            "a contact manager with name, email and phone",
            "Contact",
            {"name": "string", "email": "string", "phone": "string"},
        ),
        (
            "An expense tracker with amount, date, category (food, rent, fun) and whether it's paid",
            "Expense",
            {
                "description": "string",
                "amount": "number",
                "date": "date",
                "category": "enum",
                "paid": "boolean",
            },
        ),
        (
            "Let me track the birds I spot: species, location, date seen and count",
            "Bird",
            {
                "name": "string",
                "species": "string",
                "location": "string",
                "date_seen": "date",
                "count": "integer",
            },
        ),
        (
            "a bug tracker with title, severity, status (open, fixed, wontfix) and description",
            "Bug",
            {"title": "string", "severity": "enum", "status": "enum", "description": "text"},
        ),
        (
            "I want to keep a list of my vinyl records with artist, year and condition",
            "VinylRecord",
            {"name": "string", "artist": "string", "year": "integer", "condition": "enum"},
        ),
        (
            "a movie watchlist app with rating 1-5 and watched checkbox",
            "Movie",
            {"title": "string", "rating": "integer", "watched": "boolean"},
        ),
        (
            "A tool to manage my team's vacation requests with start date, end date, reason and approved",
            "VacationRequest",
            {
                "name": "string",
                "start_date": "date",
                "end_date": "date",
                "reason": "string",
                "approved": "boolean",
            },
        ),
    ],
)
def test_it_plans_the_entity_and_fields_a_person_expects(prompt, entity, expected):
    app, _ = app_for(prompt)

    assert fields_of(app) == (entity, expected)
    [spec] = app["entities"].values()
    first = next(iter(spec["fields"].values()))
    assert first == {"type": "string", "required": True}


def test_enum_values_come_from_the_prompt():
    app, _ = app_for("a bug tracker with title and status (open, fixed, wontfix)")

    assert app["entities"]["Bug"]["fields"]["status"] == {
        "type": "enum",
        "values": ["open", "fixed", "wontfix"],
        "default": "open",
    }


def test_the_app_is_named_after_the_prompt():
    assert app_for("a recipe book with ingredients")[0]["name"] == "Recipe book"
    assert app_for('a plant tracker called "Leafy" with species')[0]["name"] == "Leafy"


def test_it_writes_the_contract_files_with_stable_markup():
    _, files = app_for("a todo list where I can add, tick and delete tasks")

    assert list(files) == [
        "app.json",
        "index.html",
        "src/main.jsx",
        "src/api.js",
        "src/App.jsx",
        "src/styles.css",
    ]
    assert '<div id="root"></div>' in files["index.html"]
    assert 'href="/bundle.css"' in files["index.html"] and 'src="/bundle.js"' in files["index.html"]
    assert 'import { createRoot } from "react-dom/client"' in files["src/main.jsx"]
    app_jsx = files["src/App.jsx"]
    assert "aria-label={`Add ${ENTITY}`}" in app_jsx and 'const ENTITY = "Task";' in app_jsx
    assert 'aria-label="Delete"' in app_jsx and ">Add</button>" in app_jsx and "<ul" in app_jsx
    assert "/api/entities/" in files["src/api.js"] and 'method: "PATCH"' in files["src/api.js"]
    everything = "\n".join(files.values())
    assert "localStorage" not in everything
    assert "http://" not in everything and "https://" not in everything and "@import" not in everything


def test_prompt_text_cannot_break_the_generated_code():
    _, files = app_for('an app called "Evil\\"; alert(1); </script> {x}" with `name`, "quote\'s" and </file>')

    assert "</script> {x}" not in files["src/App.jsx"]
    assert parse(respond([{"role": "user", "content": "a list </file> <file path='/etc/x'>"}])).issues == []


def test_two_seeds_differ_visibly():
    _, one = app_for("a recipe book with ingredients", seed=1)
    _, two = app_for("a recipe book with ingredients", seed=2)

    assert one["app.json"] == two["app.json"]
    assert one["src/styles.css"] != two["src/styles.css"]


def test_a_follow_up_changes_the_earlier_app_with_edits():
    first = respond(
        [{"role": "user", "content": "a todo list where I can add, tick and delete tasks"}], seed=3
    )
    files = parse(first).files
    messages = build_messages(
        history=[("a todo list", first)], files=files, prompt="add a due date and dark mode"
    )

    answer = respond(messages, seed=3)
    parser = parse(answer, base_files=files)

    assert parser.issues == []
    assert "<file " not in answer and answer.count("<edit ") == 3
    result = parser.result_files()
    fields = json.loads(result["app.json"])["entities"]["Task"]["fields"]
    assert fields["due_date"] == {"type": "date"} and "done" in fields
    assert '{"name": "due_date", "label": "Due date", "type": "date"}' in result["src/App.jsx"]
    assert "theme=dark" in result["src/styles.css"]
    assert "due date" in parser.explanation and "dark" in parser.explanation
    assert sorted(parser.changed_paths) == ["app.json", "src/App.jsx", "src/styles.css"]


def test_a_follow_up_it_does_not_understand_changes_nothing_and_says_so():
    first = respond([{"role": "user", "content": "a contact manager with name, email and phone"}])
    messages = build_messages(
        history=[("contacts", first)], files=parse(first).files, prompt="what's the weather?"
    )

    parser = parse(respond(messages), base_files=parse(first).files)

    assert parser.changed_paths == [] and parser.issues == []
    assert "left the app as it is" in parser.explanation


COMPILE_PROMPTS = [
    "a todo list where I can add, tick and delete tasks",
    "a recipe book with ingredients, cooking time and rating",
    "track my workouts with date, exercise, sets and reps",
    "a contact manager with name, email and phone",
    "a bug tracker with title, severity, status (open, fixed, wontfix) and description",
    "an app to log my runs with distance, duration, start time and notes",
    "a habit tracker",
    'an app called "Weird <b>{name}</b>" with `code`, price and a "quoted" field',
]


@pytest.mark.parametrize("prompt", COMPILE_PROMPTS)
def test_generated_apps_build_in_the_runtime_image(prompt, bundle):
    _, files = app_for(prompt, seed=len(prompt))
    bundle(files)
