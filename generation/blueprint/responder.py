"""The blueprint model: chat messages in, a whole answer in Kiln's output protocol out.

First turn: plan an app from the last user message and write it whole. Follow-up: find the app's
current files (the latest message with an app.json: Kiln puts them in the last user message), read
back the plan and style they were written with, apply the change the user asks for, and answer with
<edit> blocks for the files that change (a file the message only summarised is written whole).
"""

from __future__ import annotations

import re
from dataclasses import replace

from generation.blueprint import edits, followups, languages, planner, writer
from generation.prompts import is_repair_request
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
    """The blueprint model's complete answer to a conversation: a new app written whole, or, when the
    conversation holds an app already, the requested change as <edit> blocks against its files."""
    user_turns = [m for m in messages if m.get("role") == "user"]
    last = message_text(user_turns[-1]) if user_turns else ""
    request = _request_text(last)

    current = _current_app(messages)
    if is_repair_request(request):
        return _repair(*current) if current else CANNOT_REPAIR
    if current is None or _NEW_APP.search(request.lower()):
        plan = planner.plan_app(request)
        style = writer.choose_style(plan, seed)
        return writer.render_response(plan, writer.write_app(plan, style), writer.describe_app(plan))
    return _follow_up(*current, request, seed)


def _follow_up(
    files: dict[str, str], old_plan: planner.AppPlan, style: writer.Style, request: str, seed
) -> str:
    plan, changes = followups.apply_change(old_plan, request)
    words = languages.EXPLAIN[old_plan.lang]
    if not changes:
        lead = words["cannot"] + "\n\n" if words["cannot"] else ""
        return lead + followups.CANNOT + " I left the app as it is.\n"
    if seed is not None and seed % 2 == 1:
        # A second candidate puts new fields right after the title instead of at the end of the form.
        for entity in plan.entities:
            old = old_plan.get(entity.name)
            added = [f for f in entity.fields if old is not None and old.field(f.name) is None]
            if added:
                rest = [f for f in entity.fields[1:] if f not in added]
                entity.fields = [entity.fields[0], *added, *rest]
    new_style = replace(
        style,
        theme=plan.theme,
        accent=plan.accent or style.accent,
        background=plan.background,
        layout=plan.layout or style.layout,
        density=plan.density or style.density,
    )
    # An app this writer did not write (no SPEC): every file that differs is written in its form.
    before = writer.as_written(writer.write_app(old_plan, style)) if old_plan.from_spec else dict(files)
    after = writer.as_written(writer.write_app(plan, new_style))

    parts = []
    for path, content in after.items():
        if path in files and before.get(path) == content:
            continue  # not touched by this change (hand edits in it are kept)
        blocks = (
            edits.search_replace_blocks(before.get(path, ""), content, files[path]) if path in files else None
        )
        if blocks is None:
            parts.append(edits.render_file(path, content))
        elif blocks:
            parts.append(edits.render_edit(path, blocks))
    intro = f"I {_join(changes)}."
    if plan.lang != "en":
        # The app's own language first: what it holds now, as the first answer said it; the details after.
        each = [
            words["each"].format(entity=e.noun, fields=planner.describe_fields(e, plan.lang))
            for e in plan.entities
        ]
        intro = " ".join([words["changed"], *each]) + f"\n\n({intro})"
    if not parts:  # it had what was asked already
        return intro + " Nothing needed to change.\n"
    renamed = [e for e in old_plan.entities if plan.get(e.name) is None]
    if renamed:
        intro += (
            f" Records saved before under {', '.join(e.name for e in renamed)} keep that name, so they do not "
            "show in the renamed list."
        )
    return "\n".join([intro, "", *parts, "", words["see"]]) + "\n"


CANNOT_REPAIR = (
    "The offline blueprint model cannot read this app's plan back (its app.json is not one it wrote), so it "
    "cannot repair it. A full model can.\n"
)


def _repair(files: dict[str, str], plan: planner.AppPlan, style: writer.Style) -> str:
    """Its own apps always build, so a broken one was damaged after it wrote it: write back, whole,
    every file that no longer matches what the plan renders to."""
    intended = writer.as_written(writer.write_app(plan, style))
    damaged = [path for path, content in intended.items() if files.get(path) != content]
    if not damaged:
        return (
            "Every file is as the blueprint wrote it, so the error is not one it can fix: "
            "it left the app as it is.\n"
        )
    parts = [edits.render_file(path, intended[path]) for path in damaged]
    intro = f"I rewrote {_join(damaged)} from the app's plan, so it builds and runs again."
    return "\n".join([intro, "", *parts, ""]) + "\n"


def _request_text(text: str) -> str:
    """What the user asked, without the current files Kiln puts before it (generation/prompts.py puts
    them above a "## Request" heading; any other caller's pasted files are dropped as well)."""
    heading = None
    for heading in re.finditer(r"^#{1,6}\s*request\s*:?\s*$", text, flags=re.IGNORECASE | re.MULTILINE):
        pass
    if heading is not None:
        text = text[heading.end() :]
    return parse(text).explanation or text


def _current_app(messages: list[dict]) -> tuple[dict[str, str], planner.AppPlan, writer.Style] | None:
    """The latest app in the conversation: its files (Kiln puts the current files in the last user
    message), the plan and the style they were written with."""
    for message in reversed(messages):
        text = message_text(message)
        if 'path="app.json"' not in text and "path='app.json'" not in text:
            continue
        files = parse(text).files
        read = writer.read_app(files)
        if read is not None:
            return files, *read
    return None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
