"""What Kiln sends the model: the system prompt (output protocol + app format) and the context of a
turn, fitted to a token budget (docs/context.md)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

SYSTEM_PROMPT = """You are Kiln, an expert web app builder. You write complete, working apps.

Answer with one or two sentences for the user, then the files, inside tags. A new file, or one you
rewrite, is written whole:
<file path="RELATIVE/PATH">
...the complete file...
</file>
To change an existing file, edit it with one or more SEARCH/REPLACE blocks; each SEARCH part quotes
lines of the current file exactly and must match one place only:
<edit path="src/App.jsx">
<<<<<<< SEARCH
exact current lines
=======
new lines
>>>>>>> REPLACE
</edit>
Remove a file with <delete path="src/old.js"/>. Put every opening and closing tag on a line of its
own: </file> and </edit> end a block only when they stand alone on their line, so "</file>" inside a
line of code is fine, but a line of a file that would be exactly </file> or </edit> must be indented.
Never put code outside these tags. Never shorten a file with placeholders such as "rest of the code
unchanged": every file you write is written in full.

The app is: app.json (name and entities with typed fields: string, text, number, integer, boolean,
date, datetime, enum), index.html (a div#root, /bundle.css and /bundle.js), src/main.jsx (entry point,
React 18 with react-dom/client; the JSX runtime is automatic) and more modules under src/. No other
npm package exists. Data goes through the same-origin entity API: GET/POST /api/entities/<Entity>,
GET/PUT/PATCH/DELETE /api/entities/<Entity>/<id>; ?field=value filters, ?sort=field or ?sort=-field
orders. Nothing may load from the internet."""


# Separates the files from the request in the last user message (the offline backend looks for it).
REQUEST_HEADING = "## Request"

DEFAULT_BUDGET_TOKENS = 12_000

# A repair request: the errors of a build (or smoke test) handed back to the model.
REPAIR_OPENING = "The app does not work yet"
REPAIR_REQUEST = (
    REPAIR_OPENING + ": it {problem}.\n\nErrors:\n{errors}\n\n"
    "Fix it with the smallest change that makes it work: <edit> blocks, or whole files where needed."
)


# Spec mode (generation.specs): the model writes the explanation and app.json only, and Kiln renders the
# rest of the app. Kiln's own small models have a 1,024-token context, so this prompt is short, and a
# follow-up shows the current app.json alone; training corpora are rendered with spec_messages too.
SPEC_SYSTEM_PROMPT = (
    "You are Kiln. Answer with a sentence or two, then the app's app.json (name, entities, typed fields) "
    'whole in <file path="app.json">. Kiln writes the rest.'
)


def spec_messages(prompt: str, *, app_json: str | None = None) -> list[dict]:
    """The messages for a spec-mode model: the short system prompt and the request; for a follow-up,
    the current app.json above "## Request" (the layout build_context uses for files)."""
    last = prompt if app_json is None else _last_message({"app.json": app_json.rstrip("\n")}, {}, 0, prompt)
    return [{"role": "system", "content": SPEC_SYSTEM_PROMPT}, {"role": "user", "content": last}]


def repair_prompt(*, problem: str, errors: str) -> str:
    return REPAIR_REQUEST.format(problem=problem, errors=errors.strip()[:4000])


def is_repair_request(request: str) -> bool:
    return request.lstrip().startswith(REPAIR_OPENING)


CHARS_PER_TOKEN = 4  # the estimate: tokens ~ characters / 4
KEEP_TURNS = 2  # the latest turns stay in full before any file is summarised
SUMMARY_FIRST_LINES = 8


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass
class Context:
    """The messages for one generation and what had to be left out to fit the budget."""

    messages: list[dict]
    tokens: int  # estimated, for all messages
    budget_tokens: int
    summarised: list[str] = field(default_factory=list)  # files shown as a summary, largest first
    omitted_turns: int = 0  # earliest (prompt, answer) pairs not shown

    @property
    def fits(self) -> bool:
        return self.tokens <= self.budget_tokens


def build_messages(
    *,
    history: list[tuple[str, str]],
    files: dict[str, str],
    prompt: str,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
) -> list[dict]:
    """Messages for one generation: system, earlier (prompt, answer) pairs, current files, the prompt,
    within `budget_tokens` (see build_context)."""
    return build_context(history=history, files=files, prompt=prompt, budget_tokens=budget_tokens).messages


def build_context(
    *,
    history: list[tuple[str, str]],
    files: dict[str, str],
    prompt: str,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
) -> Context:
    """The context of a turn, fitted to `budget_tokens` (estimated as characters / 4).

    The current files go into the last user message, above "## Request" and the prompt, so the model
    always edits what is really there, whatever earlier answers said. Earlier answers are shown
    without their file blocks ("[wrote src/App.jsx]"): the files they wrote are the current files.
    When it does not fit: first the earliest turns are left out (the latest KEEP_TURNS stay), then
    the largest files are shown as summaries (path, size, imports, exports, top-level names, first
    lines), then the remaining turns go. Nothing is cut silently: the last message says which turns
    and files were left out or summarised. The system prompt and the request are never shortened.
    """
    turns = [(user, compact_answer(answer)) for user, answer in history]
    full = dict(files)
    summaries: dict[str, str] = {}
    omitted = 0

    def assemble() -> list[dict]:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        for user_text, assistant_text in turns[omitted:]:
            messages.append({"role": "user", "content": user_text})
            messages.append({"role": "assistant", "content": assistant_text})
        messages.append({"role": "user", "content": _last_message(full, summaries, omitted, prompt)})
        return messages

    def tokens(messages: list[dict]) -> int:
        return sum(estimate_tokens(m["content"]) for m in messages)

    messages = assemble()
    while tokens(messages) > budget_tokens and len(turns) - omitted > KEEP_TURNS:
        omitted += 1
        messages = assemble()
    for path in sorted(full, key=lambda p: (-len(full[p]), p)):
        if tokens(messages) <= budget_tokens:
            break
        summaries[path] = summarise_file(path, full.pop(path))
        messages = assemble()
    while tokens(messages) > budget_tokens and omitted < len(turns):
        omitted += 1
        messages = assemble()
    return Context(messages, tokens(messages), budget_tokens, list(summaries), omitted)


def files_context(files: dict[str, str], summaries: dict[str, str] | None = None) -> str:
    parts = [f'<file path="{path}">\n{content}\n</file>' for path, content in sorted(files.items())]
    text = "The app's current files:\n" + "\n".join(parts)
    if summaries:
        text += (
            "\n\nThese files are too large to show in full within the context budget, so only a summary "
            "of each is shown (their full text is not in this conversation): "
            + ", ".join(sorted(summaries))
            + ". To change one, write it whole with <file>; do not quote lines you cannot see in an <edit>.\n"
            + "\n".join(summaries[path] for path in sorted(summaries))
        )
    return text


def _last_message(files: dict[str, str], summaries: dict[str, str], omitted: int, prompt: str) -> str:
    notes = []
    if omitted:
        notes.append(
            f"Context note: the {omitted} earliest turn{'s' if omitted != 1 else ''} of this conversation "
            "are not shown, to fit the context budget."
        )
    if not files and not summaries:
        return "\n\n".join([*notes, prompt]) if notes else prompt
    return "\n\n".join([files_context(files, summaries), *notes, f"{REQUEST_HEADING}\n{prompt}"])


# --- Earlier answers --------------------------------------------------------------------------------

# A block ends where the parser ends it (docs/protocol.md): at its closing tag standing on a line of
# its own (or ending a one-line block's line), not at a "</file>" quoted inside a line of code.
_BLOCK = re.compile(
    r"<(file|edit)\s[^<>]*?path\s*=\s*[\"']?([^\"'>\s]*)[^<>]*>"
    r"(?:(?:[^\n]*?|.*?\n)</\1>[ \t\r]*(?=\n|\Z)|.*\Z)"
    r"|<delete\s[^<>]*?path\s*=\s*[\"']?([^\"'>\s]*)[^<>]*/?>",
    re.DOTALL,
)


def compact_answer(answer: str) -> str:
    """An earlier answer without its file blocks: "[wrote src/App.jsx]", "[edited app.json]",
    "[deleted src/old.js]" in their place, the explanation kept."""

    def note(match: re.Match) -> str:
        if match.group(3) is not None:
            return f"[deleted {match.group(3)}]"
        verb = "wrote" if match.group(1) == "file" else "edited"
        return f"[{verb} {match.group(2)}]"

    return _BLOCK.sub(note, answer)


# --- File summaries ---------------------------------------------------------------------------------

_IMPORT = re.compile(r"^import\s.*$", re.MULTILINE)
_EXPORT = re.compile(
    r"^export\s+(?:default\s+)?(?:async\s+)?(?:function\*?|const|let|var|class)?\s*(\w+)?", re.MULTILINE
)
_TOP_LEVEL = re.compile(
    r"^(?:export\s+)?(?:default\s+)?(?:async\s+)?(function\*?|const|let|var|class)\s+(\w+)", re.MULTILINE
)
_CSS_RULE = re.compile(r"^([^\s{}@/][^{}]*?|@[\w-]+[^{}]*?)\s*\{", re.MULTILINE)


def summarise_file(path: str, content: str) -> str:
    """A structural summary of a file too large to show: path, size, and for code its imports,
    exports and top-level function / component / constant names; for CSS its selectors; for JSON its
    keys; then its first lines."""
    lines = content.split("\n")
    size = len(content.encode("utf-8"))
    out = [f'<summary path="{path}" bytes="{size}" lines="{len(lines)}">']
    lower = path.lower()
    if lower.endswith((".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")):
        imports = _IMPORT.findall(content)
        if imports:
            out.append("imports: " + " | ".join(_short(i.rstrip(";"), 100) for i in imports[:12]))
        exports = [m.group(1) or "(default)" for m in _EXPORT.finditer(content)]
        if exports:
            out.append("exports: " + ", ".join(dict.fromkeys(exports)))
        names = []
        for kind, name in _TOP_LEVEL.findall(content):
            label = "component" if kind.startswith("function") and name[:1].isupper() else kind.rstrip("*")
            names.append(f"{label} {name}")
        if names:
            out.append("top level: " + ", ".join(dict.fromkeys(names[:40])))
    elif lower.endswith(".css"):
        selectors = [_short(s.strip(), 60) for s in _CSS_RULE.findall(content)]
        if selectors:
            out.append("rules: " + ", ".join(dict.fromkeys(selectors[:40])))
    elif lower.endswith(".json"):
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if isinstance(data, dict):
            out.append("keys: " + ", ".join(list(data)[:30]))
    out.append("first lines:")
    out += ["    " + _short(line, 120) for line in lines[:SUMMARY_FIRST_LINES]]
    out.append("</summary>")
    return "\n".join(out)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
