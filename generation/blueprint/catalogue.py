"""Sample prompts, one per kind of app, that the offline blueprint model must turn into working apps.

Each entry is (kind, prompt, entity, fields): the entity and the kind of each field a person reading
the prompt expects (the format where there is one: "money", "email", "rating", "duration"...). tests/generation/test_blueprint_catalogue.py checks the plans and bundles every app (and the
follow-up edits below) in the real runtime image; an integration command can run the same prompts
through the whole build and smoke test. None of these prompts appears in the planner's word lists.
"""

CATALOGUE: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "todo",
        "I need a simple to-do app for my weekend errands with a priority and a due date",
        "Task",
        {"title": "string", "priority": "enum", "due_date": "date", "done": "boolean"},
    ),
    (
        "recipes",
        "A place to save family recipes: dish name, ingredients, steps, prep time and servings",
        "Recipe",
        {
            "dish_name": "string",
            "ingredients": "text",
            "steps": "text",
            "prep_time": "duration",
            "servings": "integer",
        },
    ),
    (
        "workouts",
        "Log my gym sessions with exercise, weight, sets, reps and the date",
        "GymSession",
        {"exercise": "string", "weight": "number", "sets": "integer", "reps": "integer", "date": "date"},
    ),
    (
        "contacts",
        "an address book for my neighbours with name, phone, email and birthday",
        "Contact",
        {"name": "string", "phone": "phone", "email": "email", "birthday": "date"},
    ),
    (
        "expenses",
        "Help me track what I spend: amount, date, category and a note",
        "Expense",
        {"description": "string", "amount": "money", "date": "date", "category": "enum", "note": "text"},
    ),
    (
        "inventory",
        "an inventory for my bike shop with product name, SKU, quantity, price and supplier",
        "Product",
        {
            "product_name": "string",
            "sku": "string",
            "quantity": "integer",
            "price": "money",
            "supplier": "string",
        },
    ),
    (
        "reading list",
        "a reading list with title, author, number of pages, rating and whether I finished it",
        "Book",
        {
            "title": "string",
            "author": "string",
            "pages": "integer",
            "rating": "rating",
            "finished": "boolean",
        },
    ),
    (
        "habit tracker",
        "a habit tracker with habit name, frequency, current streak and done today",
        "Habit",
        {"habit_name": "string", "frequency": "enum", "current_streak": "integer", "done_today": "boolean"},
    ),
    (
        "events",
        "an events calendar for our club with title, date, start time, location and description",
        "Event",
        {
            "title": "string",
            "date": "date",
            "start_time": "datetime",
            "location": "string",
            "description": "text",
        },
    ),
    (
        "bug tracker",
        "a bug tracker for our team with title, severity, status, assignee and steps to reproduce",
        "Bug",
        {"title": "string", "severity": "enum", "status": "enum", "assignee": "string", "steps": "text"},
    ),
    (
        "notes",
        "a notes app with title, body, tag and pinned",
        "Note",
        {"title": "string", "body": "text", "tag": "string", "pinned": "boolean"},
    ),
    (
        "job applications",
        "keep track of my job applications: company, role, status, salary and date applied",
        "Application",
        {"company": "string", "role": "string", "status": "enum", "salary": "money", "date_applied": "date"},
    ),
    (
        "plants",
        "a houseplant tracker with species, location, last watered and water every N days",
        "Houseplant",
        {
            "name": "string",
            "species": "string",
            "location": "string",
            "last_watered": "date",
            "water_every_n_days": "integer",
        },
    ),
    (
        "movies",
        "a movie watchlist with title, year, genre, rating and watched",
        "Movie",
        {"title": "string", "year": "integer", "genre": "string", "rating": "rating", "watched": "boolean"},
    ),
    (
        "customers",
        "a tiny CRM for freelance clients with name, company, email, phone and status",
        "Client",
        {"name": "string", "company": "string", "email": "email", "phone": "phone", "status": "enum"},
    ),
]

# (kind, prompt) pairs, for tools that only need the prompts.
PROMPTS: list[tuple[str, str]] = [(kind, prompt) for kind, prompt, _, _ in CATALOGUE]

# Follow-up requests the blueprint answers with <edit> blocks; each applies to any catalogue app.
FOLLOW_UPS: list[str] = ["add a due date", "sort by priority", "make it dark", "rename them to entries"]
# The classic chain on the todo app: each request edits the result of the one before.
TODO_CHAIN: list[str] = ["add a due date", "sort by priority", "make it dark", "rename Task to Chore"]
