"""The blueprint model: chat messages in, a whole answer in Kiln's output protocol out.

First turn: plan an app from the last user message and write it. Follow-up: find the app written
earlier (the latest app.json in the conversation, whether in an assistant turn or in prior files the
caller put in a message), apply the change the user asks for, and write the whole app again.
"""

from __future__ import annotations

import json
import re

from generation.blueprint import planner, writer
from generation.protocol import parse

_NEW_APP = re.compile(
    r"\b(?:build|make|create|start|write|generate|design)\s+(?:me\s+)?(?:a|an|another|a new)\s+"
    r"(?:[\w-]+\s+){0,4}?(?:app|application|tracker|list|manager|log|planner|site|website|tool|"
    r"journal|book|catalog|dashboard)\b"
)


def message_text(message: dict) -> str:
    """The text of a chat message whose content is a string or a list of OpenAI content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def respond(messages: list[dict], *, seed: int | None = None) -> str:
    """The blueprint model's complete answer to a conversation."""
    user_turns = [m for m in messages if m.get("role") == "user"]
    last = message_text(user_turns[-1]) if user_turns else ""
    request = _request_text(last)

    previous = _previous_app(messages)
    if previous is None or _NEW_APP.search(request.lower()):
        plan = planner.plan_app(request)
        style = writer.choose_style(plan, seed)
        return writer.render_response(plan, writer.write_app(plan, style), writer.describe_app(plan))

    plan, changes = planner.apply_change(previous, request)
    style = writer.choose_style(plan, seed)
    files = writer.write_app(plan, style)
    if changes:
        intro = f"I {_join(changes)}. {writer.describe_app(plan).split('. ', 1)[1]}"
    else:
        intro = (
            "The offline blueprint model could not match that request to a change it knows how to make "
            "(adding, removing or renaming fields, renaming the app or its items, sorting, a dark theme, "
            "an accent colour), so here is the app unchanged. A full model can make freer edits."
        )
    return writer.render_response(plan, files, intro)


def _request_text(text: str) -> str:
    """What the user asked, without the current files Kiln puts before it (generation/prompts.py puts
    them above a "## Request" heading; any other caller's pasted files are dropped as well)."""
    heading = None
    for heading in re.finditer(r"^#{1,6}\s*request\s*:?\s*$", text, flags=re.IGNORECASE | re.MULTILINE):
        pass
    if heading is not None:
        text = text[heading.end() :]
    return parse(text).explanation or text


def _previous_app(messages: list[dict]) -> planner.AppPlan | None:
    """The plan of the latest app in the conversation (its app.json), keeping its theme and colour."""
    for message in reversed(messages):
        text = message_text(message)
        if 'path="app.json"' not in text and "path='app.json'" not in text:
            continue
        files = parse(text).files
        try:
            data = json.loads(files.get("app.json", ""))
        except ValueError:
            continue
        plan = planner.plan_from_app_json(data) if isinstance(data, dict) else None
        if plan is None:
            continue
        marker = writer.STYLE_MARKER.search(files.get("src/styles.css", ""))
        if marker:
            plan.accent, plan.theme = marker.group(1), marker.group(2)
        return plan
    return None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
