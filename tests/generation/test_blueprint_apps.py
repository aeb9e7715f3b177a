"""What the blueprint model plans and writes for prompts it has never seen, and that the apps compile."""

import json
import re

import pytest

from generation.blueprint import relevance, writer
from generation.blueprint.responder import respond
from generation.blueprint.yardstick import kind_of
from generation.prompts import build_messages
from generation.protocol import parse


def app_for(prompt: str, seed: int = 1) -> tuple[dict, dict[str, str]]:
    parser = parse(respond([{"role": "user", "content": prompt}], seed=seed))
    assert parser.issues == []
    return json.loads(parser.files["app.json"]), parser.files


def fields_of(app: dict) -> tuple[str, dict]:
    [(entity, spec)] = app["entities"].items()
    return entity, {name: kind_of(f) for name, f in spec["fields"].items()}


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
            {"name": "string", "ingredients": "text", "cooking_time": "duration", "rating": "rating"},
        ),
        (
            "track my workouts with date, exercise, sets and reps",
            "Workout",
            {"exercise": "string", "date": "date", "sets": "integer", "reps": "integer"},
        ),
        (
            "a contact manager with name, email and phone",
            "Contact",
            {"name": "string", "email": "email", "phone": "phone"},
        ),
        (
            "An expense tracker with amount, date, category (food, rent, fun) and whether it's paid",
            "Expense",
            {
                "description": "string",
                "amount": "money",
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
            {"title": "string", "rating": "rating", "watched": "boolean"},
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


def test_several_things_become_linked_entities():
    app, files = app_for(
        "A lending tracker: books with title, author and ISBN, members with name and email, and loans with "
        "a book, a member and a due date"
    )

    entities = {
        name: {f: kind_of(spec) for f, spec in e["fields"].items()} for name, e in app["entities"].items()
    }
    assert entities == {
        "Book": {"title": "string", "author": "string", "isbn": "string"},
        "Member": {"name": "string", "email": "email"},
        "Loan": {"book": "ref:Book", "member": "ref:Member", "due_date": "date"},
    }
    assert app["entities"]["Loan"]["fields"]["book"]["on_delete"] in ("refuse", "cascade")
    app_jsx = files["src/App.jsx"]
    assert 'field.type === "reference"' in app_jsx  # a select of the other entity's records
    assert "related.slice(0, 6)" in app_jsx  # a member's loans under the member
    assert "Books with title" not in json.dumps(app)


@pytest.mark.parametrize(
    "prompt, entities",
    [
        ("a wedding planner with guests and vendors, guests with name and rsvp status", ["Guest", "Vendor"]),
        (
            (
                "A CRM with companies, contacts and deals. Contacts work at a company; deals have a value, a stage "
                "and a contact."
            ),
            ["Company", "Contact", "Deal"],
        ),
        (
            (
                "Gradebook for my class. Students: name, email. Assignments: title, due date, max points. Grades: "
                "student, assignment, score."
            ),
            ["Student", "Assignment", "Grade"],
        ),
    ],
)
def test_things_named_in_other_ways_are_entities_too(prompt, entities):
    app, _ = app_for(prompt)

    assert list(app["entities"]) == entities
    assert all(" " not in name for e in app["entities"].values() for name in e["fields"])


def test_names_that_only_describe_become_entities_with_their_usual_fields():
    app, _ = app_for("a health blog for publishing articles with commenting and categorizing")

    assert set(app["entities"]) == {"Article", "Comment", "Category"}
    assert app["entities"]["Comment"]["fields"]["article"]["entity"] == "Article"
    assert app["entities"]["Article"]["fields"]["category"]["entity"] == "Category"


def test_types_people_mean():
    app, _ = app_for(
        "a shop with product name, price in euros, photo URL, rating 1-5, discount percentage, website, "
        "launch date and time, duration and whether it is in stock"
    )
    [spec] = app["entities"].values()
    kinds = {name: kind_of(f) for name, f in spec["fields"].items()}

    assert kinds["price"] == "money" and spec["fields"]["price"]["currency"] == "EUR"
    assert kinds["photo_url"] == "image" and kinds["rating"] == "rating" and kinds["website"] == "url"
    assert kinds["discount_percentage"] == "percent" and kinds["duration"] == "duration"
    assert (
        kinds["launch_date_and_time"] == "datetime" and kinds.get("in_stock", kinds.get("stock")) == "boolean"
    )
    assert spec["fields"]["rating"]["min"] == 1 and spec["fields"]["rating"]["max"] == 5


@pytest.mark.parametrize(
    "prompt, entity, labels, said",
    [
        (
            "je veux une application pour gérer mes plantes: nom, fréquence d'arrosage, dernière date d'arrosage",
            "Plante",
            ["Fréquence d'arrosage", "Dernière date d'arrosage"],
            "J'ai créé",
        ),
        (
            "quiero una aplicación para mis recetas con nombre, ingredientes, tiempo de preparación y dificultad",
            "Receta",
            ["Tiempo de preparación", "Dificultad"],
            "He creado",
        ),
        (
            "Eine Aufgabenliste mit Titel, Fälligkeitsdatum, Priorität und erledigt",
            "Aufgabe",
            ["Fälligkeitsdatum", "Priorität"],
            "Ich habe",
        ),
    ],
)
def test_other_languages_keep_their_words_and_accents(prompt, entity, labels, said):
    app, files = app_for(prompt)
    parser = parse(respond([{"role": "user", "content": prompt}], seed=1))

    assert list(app["entities"]) == [entity]
    for label in labels:
        assert json.dumps(label, ensure_ascii=False) in files["src/App.jsx"]
    assert parser.explanation.startswith(said)
    assert "Je veux une" not in json.dumps(app, ensure_ascii=False)


def test_a_follow_up_on_a_french_app_answers_in_french():
    _, parser, _, plan = follow(
        "je veux une application pour gérer mes plantes: nom, arrosage", "ajoute une URL de photo"
    )

    assert parser.explanation.startswith("J'ai modifié l'application comme demandé. Chaque plante a :")
    assert "URL de photo" in parser.explanation and plan.main.field("url_de_photo").label == "URL de photo"


def test_colours_come_from_the_prompt():
    _, files = app_for(
        "Customer feedback board with customer, message and rating. Choose linen for the background; set all "
        "component colors to maroon."
    )
    marker = json.loads(re.search(r"kiln-blueprint: (\{.*?\}) \*/", files["src/styles.css"]).group(1))

    assert marker["background"] == "#faf0e6" and marker["accent"] == "#800000"
    assert "maroon" not in files["app.json"] and "linen" not in files["app.json"]


@pytest.mark.parametrize(
    "prompt, junk",
    [
        ("Create a 2048 game with moving tiles, merging tiles and a score", "tiles"),
        ("Build a chess app where two people can play against each other online", "against"),
        ("a real-time chat app with rooms and direct messages", "direct"),
        ("Build a markdown editor with live preview.", "preview"),
        ("Make a pomodoro timer with start/pause and a session log.", "pause"),
    ],
)
def test_what_it_cannot_write_gets_a_plain_answer_and_the_data_part(prompt, junk):
    answer = respond([{"role": "user", "content": prompt}], seed=1)
    parser = parse(answer)
    app = json.loads(parser.files["app.json"])

    assert "cannot write" in parser.explanation and "MODEL_BASE_URL" in parser.explanation
    assert 1 <= len(app["entities"]) <= 2
    assert junk not in json.dumps(app["entities"]).lower()
    assert "Functionalities" not in answer


def test_a_data_app_about_a_tool_is_still_a_data_app():
    app, _ = app_for("track my pomodoro sessions with task, minutes and date")

    assert fields_of(app) == ("PomodoroSession", {"task": "string", "minutes": "integer", "date": "date"})


def test_the_relevance_check_names_what_the_prompt_asked_for():
    terms = relevance.expected_terms(
        "A lending tracker: books with title, author and ISBN, members with name and email, and loans with a due date"
    )

    assert {"books", "title", "author", "isbn", "members", "email", "loans", "due date"} <= set(terms)
    assert (
        relevance.shown(terms, "Books Title Author ISBN Members Email Loans Due date") == len(terms) - 1
    )  # name
    assert "moving tiles" in relevance.expected_terms("Create a 2048 game with moving tiles and a score")


def test_required_fields_and_defaults_come_from_the_prompt():
    app, _ = app_for(
        "a todo list with title, priority (low, medium, high, default medium), a required due date, "
        "estimate (default 30) and email is required"
    )
    fields = app["entities"]["Task"]["fields"]

    assert fields["priority"]["default"] == "medium" and fields["due_date"] == {
        "type": "date",
        "required": True,
    }
    assert fields["estimate"]["default"] == 30 and fields["email"]["required"] is True


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
    assert "aria-label={`Add ${entity.name}`}" in app_jsx and '"name": "Task"' in app_jsx
    assert 'aria-label="Delete"' in app_jsx and "{TEXT.add}</button>" in app_jsx and "<ul" in app_jsx
    assert "/api/entities/" in files["src/api.js"] and 'method: "PATCH"' in files["src/api.js"]
    assert "function Chart" not in app_jsx and ".chart" not in files["src/styles.css"]  # only what it uses
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


def follow(prompt: str, request: str, seed: int = 3):
    first = respond([{"role": "user", "content": prompt}], seed=seed)
    files = parse(first).files
    answer = respond(build_messages(history=[(prompt, first)], files=files, prompt=request), seed=seed)
    parser = parse(answer, base_files=files)
    assert parser.issues == []
    read = writer.read_app(parser.result_files())
    return answer, parser, writer.read_app(files)[0], read[0] if read else None


def test_a_follow_up_changes_the_earlier_app_with_edits():
    answer, parser, _, plan = follow(
        "a todo list where I can add, tick and delete tasks", "add a due date and dark mode"
    )

    assert "<file " not in answer and answer.count("<edit ") == 3
    result = parser.result_files()
    fields = json.loads(result["app.json"])["entities"]["Task"]["fields"]
    assert fields["due_date"] == {"type": "date"} and "done" in fields
    assert '{"name": "due_date", "label": "Due date", "type": "date"}' in result["src/App.jsx"]
    assert plan.theme == "dark"
    assert "due date" in parser.explanation and "dark" in parser.explanation
    assert sorted(parser.changed_paths) == ["app.json", "src/App.jsx", "src/styles.css"]


@pytest.mark.parametrize(
    "prompt, request_text, check",
    [
        (
            "a todo list with title, due date and priority",
            "sort by due date ascending",
            lambda p: p.main.sort == ("due_date", "asc"),
        ),
        (
            "a reading list with title, author and rating",
            "filter by rating",
            lambda p: p.main.filters == [{"field": "rating"}],
        ),
        (
            "a todo list with title, status and priority",
            "kanban view by status",
            lambda p: p.main.group == "status",
        ),
        (
            "an expense tracker with description, amount and date",
            "add a total cost at the top",
            lambda p: p.main.stats[0]["op"] == "sum" and p.main.stats[0]["field"] == "amount",
        ),
        (
            "A gradebook: students with name, assignments with title, and grades linking students and assignments with a score",
            "show each student's average",
            lambda p: (
                p.get("Student").rollups[0]
                == {"op": "avg", "entity": "Grade", "field": "score", "label": "Average score"}
            ),
        ),
        (
            "events with title and seats, and registrations with an event and a name",
            "show how many seats are left",
            lambda p: p.get("Event").rollups[0]["op"] == "remaining",
        ),
        (
            "a todo list with title and due date",
            "show overdue tasks in red",
            lambda p: (
                p.main.highlights[0]["when"] == "overdue" and p.main.highlights[0]["colour"] == "#dc2626"
            ),
        ),
        (
            "an expense tracker with amount and date",
            "add a chart of amount over time",
            lambda p: p.main.chart == {"field": "amount", "by": "date"},
        ),
        ("a reading list with title and author", "rename Book to Novel", lambda p: p.main.name == "Novel"),
        (
            "a list of movies with title and year",
            "make it a todo list",
            lambda p: p.main.name == "Task" and p.main.field("done") is not None,
        ),
        (
            "je veux une application pour gérer mes plantes: nom, arrosage",
            "ajoute une URL de photo",
            lambda p: p.main.field("url_de_photo").format == "image",
        ),
        (
            "a todo list with title and done",
            "hide completed tasks",
            lambda p: p.main.filters == [{"field": "done", "value": "false"}],
        ),
        (
            "a todo list with title and notes",
            "add a status field with todo, doing and done",
            lambda p: p.main.field("status").values == ["todo", "doing", "done"],
        ),
        (
            "an expense tracker with description, amount and date",
            "show expenses over 100 in red",
            lambda p: p.main.highlights[0]["field"] == "amount" and p.main.highlights[0]["value"] == 100,
        ),
        (
            "A lending tracker: books with title, members with name, and loans with a book, a member and a due date",
            "filter loans by member",
            lambda p: p.get("Loan").filters == [{"field": "member"}],
        ),
        (
            "a contact list with name and email",
            "sort alphabetically",
            lambda p: p.main.sort == ("name", "asc"),
        ),
        (
            "an expense tracker with amount and category (food, rent, fun)",
            "show the total per category",
            lambda p: p.main.group == "category" and p.main.stats[0]["op"] == "sum",
        ),
    ],
)
def test_follow_ups_people_ask_for_are_applied(prompt, request_text, check):
    answer, parser, _, plan = follow(prompt, request_text)

    assert parser.changed_paths, answer
    assert check(plan), answer


@pytest.mark.parametrize(
    "prompt, request_text",
    [
        ("a todo list with title and due date", "newest first"),
        ("a todo list with title and status (todo, doing, done)", "kanban view by status"),
        ("loans with a book title and a due date", "overdue loans in red"),
    ],
)
def test_a_follow_up_never_becomes_a_junk_field(prompt, request_text):
    _, _, before, after = follow(prompt, request_text)

    assert [f.name for f in after.main.fields] == [f.name for f in before.main.fields]


def test_a_follow_up_it_cannot_do_changes_nothing_and_says_so():
    first = respond([{"role": "user", "content": "a contact manager with name, email and phone"}])
    messages = build_messages(
        history=[("contacts", first)],
        files=parse(first).files,
        prompt="send me an email reminder every Monday",
    )

    parser = parse(respond(messages), base_files=parse(first).files)

    assert parser.changed_paths == [] and parser.issues == []
    assert "cannot do that" in parser.explanation and "kanban view by status" in parser.explanation


COMPILE_PROMPTS = [
    "a todo list where I can add, tick and delete tasks",
    (
        "A lending tracker: books with title, author and ISBN, members with name and email, and loans with a book, "
        "a member and a due date"
    ),
    "je veux une application pour gérer mes plantes: nom, fréquence d'arrosage, dernière date d'arrosage",
    'an app called "Weird <b>{name}</b>" with `code`, price, photo URL, rating 1-5 and a "quoted" field',
]


@pytest.mark.parametrize("prompt", COMPILE_PROMPTS)
def test_generated_apps_build_in_the_runtime_image(prompt, bundle):
    _, files = app_for(prompt, seed=len(prompt))
    bundle(files)


def test_an_app_with_every_view_builds(bundle):
    prompt = "A gradebook: students with name, assignments with title and due date, and grades linking students and assignments with a score"
    answer = respond([{"role": "user", "content": prompt}], seed=2)
    files, history = parse(answer).files, [(prompt, answer)]
    for request in [
        "show each student's average",
        "filter by score",
        "kanban view by status",
        "add a total score at the top",
        "overdue assignments in red",
        "add a chart of score over time",
        "sort by due date",
        "make it dark",
    ]:
        reply = respond(build_messages(history=history, files=files, prompt=request), seed=2)
        parser = parse(reply, finish_reason="stop", base_files=files)
        assert parser.issues == [] and parser.changed_paths, request
        files, history = parser.result_files(), history + [(request, reply)]
    assert writer.features(writer.read_app(files)[0]) >= {
        "refs",
        "rollups",
        "filters",
        "board",
        "stats",
        "chart",
    }
    bundle(files)
