"""What Kiln sends the model: the system prompt (output protocol + app format) and the context of a turn."""

SYSTEM_PROMPT = """You are Kiln, an expert web app builder. You write complete, working apps.

Answer with one or two sentences for the user, then every file of the app, each whole, inside tags:
<file path="RELATIVE/PATH">
...the complete file...
</file>
Never put code outside <file> tags. Never shorten a file with placeholders such as "rest of the code
unchanged": every file you write is written in full.

The app is: app.json (name and entities with typed fields: string, text, number, integer, boolean,
date, datetime, enum), index.html (a div#root, /bundle.css and /bundle.js), src/main.jsx (entry point,
React 18 with react-dom/client; the JSX runtime is automatic) and more modules under src/. No other
npm package exists. Data goes through the same-origin entity API: GET/POST /api/entities/<Entity>,
GET/PUT/PATCH/DELETE /api/entities/<Entity>/<id>; ?field=value filters, ?sort=field or ?sort=-field
orders. Nothing may load from the internet."""


# Separates the files from the request in the last user message (the offline backend looks for it).
REQUEST_HEADING = "## Request"


def files_context(files: dict[str, str]) -> str:
    parts = [f'<file path="{path}">\n{content}\n</file>' for path, content in sorted(files.items())]
    return "The app's current files:\n" + "\n".join(parts)


def build_messages(*, history: list[tuple[str, str]], files: dict[str, str], prompt: str) -> list[dict]:
    """Messages for one generation: system, earlier (prompt, answer) pairs, current files, the prompt.

    The current files go into the last user message, so the model always edits what is really there,
    whatever earlier answers said.
    """
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for user_text, assistant_text in history:
        messages.append({"role": "user", "content": user_text})
        messages.append({"role": "assistant", "content": assistant_text})
    content = f"{files_context(files)}\n\n{REQUEST_HEADING}\n{prompt}" if files else prompt
    messages.append({"role": "user", "content": content})
    return messages
