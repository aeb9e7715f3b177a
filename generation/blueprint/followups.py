"""Follow-ups: a request applied to an app's plan ("sort by due date", "kanban view by status", "show
each student's average", "overdue loans in red", "rename Task to Chore", "ajoute une URL de photo").

`apply_change(plan, request)` returns the new plan and what changed, in words. Each kind of change is
one small reader; the request's text is consumed as readers match it. A request nothing matches, or
one that asks for what a data app cannot do (email, log in, multiplayer), changes nothing and gets a
plain answer with examples of what does work: it never becomes a field named after the request.
"""

from __future__ import annotations

import re
from dataclasses import replace

from generation.blueprint import languages, planner
from generation.blueprint import vocabulary as vocab
from generation.blueprint.planner import AppPlan, EntityPlan, FieldPlan

CANNOT = (
    "The offline blueprint model cannot do that: it changes the app's data and how it is shown, and "
    "nothing here sends email, logs people in, talks to other services or runs in real time. It can, "
    'for example: add, remove or rename a field or a whole thing ("add a photo URL", "rename Task to '
    'Chore"); sort ("sort by due date, newest first"); filter ("filter by rating"); show a board '
    '("kanban view by status"); show figures ("a total cost at the top", "each student\'s average", '
    '"how many seats are left"); colour rows ("overdue in red"); draw a chart ("amount over time"); '
    "change the theme, accent colour or layout; make a field required. A full model (MODEL_BASE_URL) "
    "can make freer changes."
)
_OUT_OF_REACH = re.compile(
    r"\b(?:e-?mail (?:me|them|reminders?|notifications?)|send (?:me |them )?(?:an? )?(?:e-?mails?|sms|texts?|"
    r"notifications?|reminders?)|notify|push notifications?|log ?in|sign ?in|sign ?up|login|password|"
    r"accounts?|oauth|google|facebook|multiplayer|real[- ]time|chat|sync|api key|payments? (?:online|by card)|"
    r"stripe|paypal|upload|import from|export to|share with|invite)\b"
)
_OPS = {
    "count": r"\bhow many\b|\bcount\b|\bnumber of\b|\bnombre\b|\banzahl\b|\bcantidad\b",
    "sum": r"\btotal\b|\bsum\b|\bhow much\b|\bsomme\b|\bsumme\b",
    "avg": r"\baverage\b|\bmean\b|\bmoyenne\b|\bdurchschnitt\b|\bmedia\b|\bpromedio\b",
    "min": r"\bminimum\b|\bsmallest\b|\blowest\b|\bcheapest\b|\bmin\b|\bleast\b",
    "max": r"\bmaximum\b|\bbiggest\b|\blargest\b|\bhighest\b|\bmost expensive\b|\bmax\b|\btop\b",
    "remaining": r"\bleft\b|\bremaining\b|\bavailable\b|\bfree\b",
}
_COLOUR_WORDS = {
    "red": "#dc2626",
    "orange": "#ea580c",
    "amber": "#d97706",
    "yellow": "#ca8a04",
    "green": "#16a34a",
    "blue": "#2563eb",
    "purple": "#9333ea",
    "pink": "#db2777",
    "grey": "#6b7280",
    "gray": "#6b7280",
}


def apply_change(plan: AppPlan, request: str) -> tuple[AppPlan, list[str]]:
    """Apply what a follow-up asks. Returns the new plan and what changed, in words; no words means
    nothing was applied (the plan is returned unchanged)."""
    text = _normalise(request, plan.lang)
    plan = _copy(plan)
    changes: list[str] = []
    if _OUT_OF_REACH.search(text):
        return plan, []
    # "add a due date and sort by it, then make it dark": each part on its own
    for part in re.split(_NEXT_PART, text):
        for reader in (
            _make_it,
            _style,
            _rename_app,
            _rename_entity,
            _rename_field,
            _remove_entity,
            _add_entity,
            _required,
            _remove_field,
            _chart,
            _group,
            _highlight,
            _rollup,
            _stat,
            _sort,
            _filter,
            _add_field,
        ):
            part = reader(plan, part, changes)
            if not part.strip(" .,;!?"):
                break
    planner._order_for_smoke(plan)  # a required link on the first thing: a thing that needs none goes first
    return plan, changes


_NEXT_PART = re.compile(
    r"(?:[,;.]\s*|\s+)(?:and\s+|then\s+|also\s+|and then\s+)(?=(?:add|sort|filter|show|make|remove|rename|group|"
    r"highlight|colou?r|use|put|hide|only|delete|change|call|draw|chart)\b)|[.;]\s+(?=\w)"
)


def _normalise(request: str, lang: str) -> str:
    text = request.lower().replace("’", "'").strip()
    text = re.sub(r"[`*_#>\"“”]", " ", text)
    text = re.sub(
        r"^(?:please |can you |could you |i'd like to |i want to |i would like to |let me |also )+", "", text
    )
    return languages.structure_words(text, languages.detect(text) if lang == "en" else lang)


def _copy(plan: AppPlan) -> AppPlan:
    entities = [
        replace(
            e,
            fields=[replace(f) for f in e.fields],
            filters=list(e.filters),
            stats=list(e.stats),
            rollups=list(e.rollups),
            highlights=list(e.highlights),
        )
        for e in plan.entities
    ]
    return replace(plan, entities=entities)


def _words(text: str) -> list[str]:
    return planner._words(text)


def _entity_named(plan: AppPlan, text: str) -> EntityPlan | None:
    """The entity a piece of text names ("loans", "each student", "Task"), else None."""
    words = _words(text)
    best, best_at = None, len(words)
    for e in plan.entities:  # the one named first: "filter loans by member" is about loans
        names = {
            e.noun.lower(),
            e.many.lower(),
            e.name.lower(),
            *e.noun.lower().split()[-1:],
            *e.many.lower().split()[-1:],
        }
        at = min(
            (i for n in names for i in range(len(words)) if " ".join(words[i : i + len(n.split())]) == n),
            default=len(words),
        )
        if at < best_at:
            best, best_at = e, at
    return best


def _target(plan: AppPlan, text: str) -> EntityPlan:
    return _entity_named(plan, text) or plan.main


def _field_named(entity: EntityPlan, text: str) -> FieldPlan | None:
    """The field of entity a phrase names: its name, label, a word of it, or what the words type as."""
    words = [
        w for w in _words(text) if w not in vocab.FILLER and w not in {"field", "fields", "column", "the"}
    ]
    if not words:
        return None
    snake = planner._snake(words)
    singular = planner._snake([planner.singularise(w) for w in words])
    for f in entity.fields:
        if f.name in (snake, singular) or f.label.lower() == " ".join(words):
            return f
    for f in entity.fields:  # "due" for due_date, "rating" in "the rating"
        parts = set(f.name.split("_"))
        if parts & set(words) - {"date", "name", "of", "number"} or set(_words(f.label.lower())) & set(
            words
        ) - {"date", "name", "of", "de", "number"}:
            return f
    if "date" in words or "time" in words or "when" in words:
        return next((f for f in entity.fields if f.type in ("date", "datetime")), None)
    if {"amount", "cost", "price", "money", "spent", "value"} & set(words):
        return next((f for f in entity.fields if f.format == "money" or f.type == "number"), None)
    return None


def _field_in(
    plan: AppPlan, text: str, entity: EntityPlan | None = None
) -> tuple[EntityPlan, FieldPlan] | None:
    """The (entity, field) a phrase names, looking in the named entity first, then everywhere."""
    first = entity or _entity_named(plan, text)
    for e in [first] + [e for e in plan.entities if e is not first] if first else plan.entities:
        f = _field_named(e, _without_entity_words(text, e))
        if f is not None:
            return e, f
    return None


def _without_entity_words(text: str, entity: EntityPlan) -> str:
    for word in sorted(
        {entity.many.lower(), entity.noun.lower(), entity.name.lower()}, key=len, reverse=True
    ):
        text = re.sub(rf"\b{re.escape(word)}(?:'s)?\b", " ", text)
    return text


# --- Readers: each takes what it understands out of the text -------------------------------------------


def _make_it(plan: AppPlan, text: str, changes: list[str]) -> str:
    """ "make it a todo list": the main thing becomes the kind's thing."""
    match = re.search(
        r"\b(?:make|turn|change) (?:it|this|the app) (?:into |to )?(?:a |an )?(.+?)(?: instead)?[.!]?$", text
    )
    if not match or re.search(
        r"\b(?:dark|light|required|optional|mandatory|bigger|smaller|red|blue)\b", match.group(1)
    ):
        return text
    kind, _, keyword = planner._find_kind(match.group(1))
    if kind is None:
        return text
    entity = vocab.KEYWORD_ENTITY.get(keyword, kind["entity"])
    main = plan.main
    old = main.name
    main.name, main.noun = entity, planner._noun_from_entity(entity)
    main.many = planner.pluralise(main.noun)
    for extra in kind.get("always", []):
        if main.field(extra) is None:
            main.fields.append(planner._field(planner._Phrase(extra.split()), entity))
    _retarget(plan, old, entity)
    plan.name = kind["app"]
    changes.append(f"made it a {kind['app'].lower()} ({old} is now {entity})")
    return text[: match.start()] + text[match.end() :]


def _style(plan: AppPlan, text: str, changes: list[str]) -> str:
    accent, background, _ = planner.colours_in(text)
    if re.search(r"\bdark\b", text) and plan.theme != "dark":
        plan.theme = "dark"
        changes.append("switched to a dark theme")
    elif re.search(r"\blight (?:mode|theme)\b|\bno (?:longer )?dark\b", text) and plan.theme != "light":
        plan.theme = "light"
        changes.append("switched back to a light theme")
    if background:
        plan.background = background
        changes.append(f"set the background to {background}")
    if accent is None:
        colour = re.search(
            rf"\b(?:use|make it|with|make everything|switch to) (?:an? )?({'|'.join(planner.COLOURS)})\b(?: (?:accent|colou?r))?",
            text,
        )
        accent = (
            planner.COLOURS[colour.group(1)]
            if colour and not re.search(r"\b(?:overdue|highlight|in red)\b", text)
            else None
        )
    if (
        accent
        and not re.search(
            r"\b(?:overdue|late|highlight|if|when|rows?|over|under|above|below|more than|less than)\b", text
        )
        and _entity_named(plan, text) is None
    ):
        plan.accent = accent
        changes.append(f"made the accent colour {accent}")
    if re.search(r"\b(?:compact|dense|denser|tighter|less spac\w+)\b", text):
        plan.density = "compact"
        changes.append("made the layout compact")
    elif re.search(r"\b(?:roomier|more spac\w+|spacious|comfortable|airier)\b", text):
        plan.density = "comfortable"
        changes.append("gave the layout more room")
    if re.search(r"\b(?:side by side|next to|beside|two columns|split)\b", text):
        plan.layout = "split"
        changes.append("put the form next to the list")
    elif re.search(r"\b(?:above|stacked|one column|on top of)\b", text) and "figure" not in text:
        plan.layout = "stacked"
        changes.append("put the form above the list")
    if changes:
        text = re.sub(
            r"\b(?:dark|light) (?:mode|theme)\b|\bmake it dark\b|\bdark\b|\bbackground\b|\baccent\b"
            r"|\bcolou?rs?\b|\bbuttons?\b|\bcomponents?\b|\bside by side\b|\bnext to\b",
            " ",
            text,
        )
        text = planner.strip_colours(text)
        if not re.search(r"\b(?:sort|filter|add|remove|show|rename|group|chart)\b", text):
            return ""
    return text


def _rename_app(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:rename|call|name|title)\s+(?:the |my )?(?:app|application|page|site)\s+(?:to |as )?(.+?)[.!]?$",
        text,
    )
    if not match:
        return text
    plan.name = planner._sentence_case(match.group(1).strip(" '\""))
    changes.append(f'renamed the app to "{plan.name}"')
    return text[: match.start()] + text[match.end() :]


def _retarget(plan: AppPlan, old: str, new: str) -> None:
    for e in plan.entities:
        for f in e.fields:
            if f.ref == old:
                f.ref = new
        for r in e.rollups:
            if r.get("entity") == old:
                r["entity"] = new


def _rename_entity(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:rename|call)\s+(?:the\s+|all\s+|my\s+)?([^\W\d_][\w ]*?)\s+(?:to|as|into)?\s*([^\W\d_][\w ]*?)(?:[.,!]|$| instead)",
        text,
    )
    if not match:
        return text
    entity = _entity_named(plan, match.group(1))
    if entity is None and re.fullmatch(r"them|it|items|entries|records|each one", match.group(1).strip()):
        entity = plan.main
    if (
        entity is None
        or _field_named(entity, match.group(1)) is not None
        and _entity_named(plan, match.group(1)) is None
    ):
        return text
    words = _words(match.group(2))
    if not words:
        return text
    foreign = languages.singularise(words[-1], plan.lang)
    singular = words[:-1] + [foreign if foreign is not None else planner.singularise(words[-1])]
    new_name = planner._pascal(singular[-2:])
    if not new_name or new_name == entity.name or plan.get(new_name):
        return text
    old, old_noun = entity.name, entity.noun
    entity.name, entity.noun = new_name, " ".join(singular[-2:])
    entity.many = planner.pluralise(entity.noun) if plan.lang == "en" else " ".join(words[-2:])
    _retarget(plan, old, new_name)
    for e in plan.entities:  # a link named after the old thing ("member") is named after the new one
        for f in e.fields:
            renamed = planner._snake(singular[-1:])
            if f.ref == new_name and f.name == planner._snake([old_noun]) and e.field(renamed) is None:
                f.name, f.label = renamed, planner._label(singular[-1])
    plan.name = re.sub(rf"\b{re.escape(old_noun)}", entity.noun, plan.name, flags=re.IGNORECASE)
    changes.append(f"renamed {old} to {new_name}")
    return text[: match.start()] + text[match.end() :]


def _rename_field(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:rename|call|change)\s+(?:the\s+)?([^\W\d_][\w ]*?)(?:\s+field)?\s+(?:to|as|into)\s+([^\W\d_][\w ]*?)(?:[.,!]|$)",
        text,
    )
    if not match:
        return text
    found = _field_in(plan, match.group(1))
    if found is None:
        return text
    entity, f = found
    words = _words(match.group(2))
    name = planner._snake(words)
    if not name or entity.field(name):
        return text
    old = f.name
    f.name, f.label = name, planner._label(" ".join(words)) if plan.lang != "en" else planner._label(name)
    for e in plan.entities:
        if e.sort and e.sort[0] == old and e is entity:
            e.sort = (name, e.sort[1])
        for bag in (e.filters, e.stats, e.highlights):
            for item in bag:
                if item.get("field") == old and e is entity:
                    item["field"] = name
    changes.append(f"renamed the {old.replace('_', ' ')} field to {f.label.lower()}")
    return text[: match.start()] + text[match.end() :]


def _remove_entity(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:remove|delete|drop|get rid of)\s+(?:the\s+|all\s+)?([^\W\d_][\w ]*?)(?:\s+(?:entity|section|tab|table))?(?:[.,!]|$)",
        text,
    )
    if not match or len(plan.entities) < 2:
        return text
    entity = _entity_named(plan, match.group(1))
    if entity is None or _words(match.group(1))[-1] not in {
        entity.many.lower(),
        entity.noun.lower(),
        entity.name.lower(),
        "section",
        "tab",
        "entity",
    }:
        return text
    plan.entities.remove(entity)
    for e in plan.entities:
        e.fields = [f for f in e.fields if f.ref != entity.name] or e.fields
        e.rollups = [r for r in e.rollups if r.get("entity") != entity.name]
    planner._add_titles(plan.entities, plan.lang)
    changes.append(f"removed {entity.many} (and the links to them)")
    return text[: match.start()] + text[match.end() :]


def _add_entity(plan: AppPlan, text: str, changes: list[str]) -> str:
    """ "add authors with name and country, and link each book to an author"."""
    match = re.search(
        r"\badd\s+(?:a\s+|an\s+|some\s+)?([^\W\d_][\w'-]*)\s+(?:with|having|:|\()\s*(.+)$", text
    )
    if not match:
        return text
    noun = planner._entity_noun([match.group(1)], plan.lang, strict=True)
    if noun is None or plan.get(planner._pascal(noun[0])) or noun[0][-1] == match.group(1):
        return text  # "add a category with work, home and errands" is a field; "add authors with ..." a thing
    rest = match.group(2)
    link = re.search(r",?\s*(?:and\s+)?(?:link|connect|attach|each|every)\b.*$", rest)
    fields_text = rest[: link.start()] if link else rest
    new = planner._entity(noun[0], noun[1], fields_text, plan.lang)
    new.fields = planner._with_title(new.fields, planner._title_name(new.noun, plan.lang))
    if len(plan.entities) >= planner.MAX_ENTITIES:
        return text
    plan.entities.append(new)
    linked = []
    if link:
        owner = _entity_named(
            plan, re.sub(rf"\b{re.escape(noun[1])}\b|\b{re.escape(noun[0][-1])}\b", " ", link.group(0))
        )
        if owner is not None and owner is not new:
            owner.fields = [f for f in owner.fields if f.name != planner._snake([new.noun])]
            owner.fields.append(planner._reference(planner._snake([new.noun]), new, None, owner))
            linked.append(f"each {owner.noun} links to {'an' if new.noun[:1] in 'aeiou' else 'a'} {new.noun}")
    changes.append(
        f"added {new.many} ({planner.describe_fields(new, plan.lang)})" + (f"; {linked[0]}" if linked else "")
    )
    return ""


def _required(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:make\s+(?:the\s+)?(.+?)\s+(?:field\s+)?(required|mandatory|optional)|(.+?)\s+(?:should|must)\s+be\s+(required|mandatory|optional))\b",
        text,
    )
    if not match:
        return text
    phrase, word = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    found = _field_in(plan, phrase)
    if found is None:
        return text
    entity, f = found
    if f is entity.title_field and f.type == "string":
        changes.append(f"kept {f.label.lower()} required: every {entity.noun} needs one")
    else:
        f.required = word != "optional"
        changes.append(f"made {entity.noun} {f.label.lower()} {'required' if f.required else 'optional'}")
    return text[: match.start()] + text[match.end() :]


def _remove_field(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:remove|delete|drop|hide|get rid of|take out|no longer need|(?:don't|do not|doesn't|does not) need)\s+(?:the\s+|an?\s+)?(.+?)(?:\s+(?:field|column|input|box))?(?:[.!]|$)",
        text,
    )
    if not match:
        return text
    subject = text[: match.start()]
    owner = _entity_named(plan, subject) if subject.strip() else None
    removed = False
    for part in re.split(r",|\band\b", match.group(1)):
        found = _field_in(plan, part, owner)
        if found is None:
            continue
        entity, f = found
        if f is entity.title_field and f.type != "reference":
            changes.append(f"kept {f.label.lower()}: every {entity.noun} needs a title")
            continue
        entity.fields.remove(f)
        entity.filters = [x for x in entity.filters if x["field"] != f.name]
        entity.stats = [x for x in entity.stats if x.get("field") != f.name]
        entity.highlights = [x for x in entity.highlights if x["field"] != f.name]
        if entity.sort and entity.sort[0] == f.name:
            entity.sort = None
        if entity.group == f.name:
            entity.group = None
        if entity.chart and f.name in entity.chart.values():
            entity.chart = None
        changes.append(f"removed the {f.label.lower()} field from {entity.many}")
        removed = True
    return text[: match.start()] + text[match.end() :] if removed else text


def _chart(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:chart|graph|plot|diagram)\b(?:\s+(?:of|showing|for|with))?\s*(?:my\s+|the\s+)?(.*?)(?:\s+(?:over|by|per|against|across)\s+(?:time|(.+?)))?(?:[.!]|$)",
        text,
    )
    if not match:
        return text
    entity = _target(plan, text)
    if _entity_named(plan, text) is None and match.group(1):
        found = _field_in(plan, match.group(1))
        if found is not None and found[1].type in ("number", "integer"):
            entity = found[0]
    numbers = [f for f in entity.fields if f.type in ("number", "integer") and f.format != "rating"] or [
        f for f in entity.fields if f.type in ("number", "integer")
    ]
    dates = [f for f in entity.fields if f.type in ("date", "datetime")]
    field = _field_named(entity, match.group(1) or "") if match.group(1) else None
    if field is None or field.type not in ("number", "integer"):
        field = numbers[0] if numbers else None
    by = _field_named(entity, match.group(2)) if match.group(2) else None
    if by is None or by.type not in ("date", "datetime"):
        by = dates[0] if dates else None
    if by is None and field is not None:
        by = planner.FieldPlan("created_at", "datetime", "Added")  # no date field: when each was added
    if field is None or by is None:
        return text
    entity.chart = {"field": field.name, "by": by.name}
    changes.append(f"added a chart of {field.label.lower()} by {by.label.lower()}")
    return text[: match.start()] + text[match.end() :]


def _group(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:kanban|board|columns?|group(?:ed)?|lanes?)\b(?:\s+(?:view|style|layout))?"
        r"(?:\s+(?!by\b|per\b)[^\W\d_]+){0,2}?(?:\s+(?:by|per|for|on)\s+(?:the\s+)?(.+?))?(?:[.!,]|$)",
        text,
    )
    if not match:
        return text
    entity = _target(plan, text)
    phrase = match.group(1) or ""
    field = _field_named(entity, _without_entity_words(phrase, entity)) if phrase else None
    if field is None and phrase:
        words = [w for w in _words(_without_entity_words(phrase, entity)) if w not in vocab.FILLER]
        candidate = planner._field(planner._Phrase(words), entity.name, plan.lang) if words else None
        if candidate is not None and candidate.type == "enum" and len(entity.fields) < planner.MAX_FIELDS:
            entity.fields.append(candidate)
            field = candidate
            changes.append(
                f"added {candidate.label.lower()} ({planner.describe_type(candidate)}) to {entity.many}"
            )
    if field is None and not phrase:
        field = next((f for f in entity.fields if f.type == "enum"), None)
    if field is None or field.type != "enum":
        return text
    entity.group = field.name
    changes.append(f"showed {entity.many} as a board with a column per {field.label.lower()}")
    return text[: match.start()] + text[match.end() :]


def _highlight(plan: AppPlan, text: str, changes: list[str]) -> str:
    colour_names = "|".join(_COLOUR_WORDS)
    match = re.search(
        rf"\b(?:highlight|colou?r|mark|show|make)?\s*(.*?)\b(?:in|as)\s+({colour_names})\b|\bhighlight\s+(.+?)(?:[.!]|$)",
        text,
    )
    if not match:
        return text
    colour = _COLOUR_WORDS.get(match.group(2) or "", "#d97706")
    phrase = match.group(1) if match.group(2) else match.group(3)
    entity = _target(plan, phrase)
    rule = None
    if re.search(r"\b(?:overdue|late|past due|expired)\b", phrase):
        field = next(
            (
                f
                for f in entity.fields
                if f.type in ("date", "datetime") and re.search(r"due|deadline|return|expir|end", f.name)
            ),
            next((f for f in entity.fields if f.type in ("date", "datetime")), None),
        )
        if field is not None:
            done = next((f for f in entity.fields if f.type == "boolean"), None)
            rule = {"field": field.name, "when": "overdue", "colour": colour, "label": "overdue"}
            if done is not None:
                rule["unless"] = done.name
    else:
        for f in entity.fields:
            for value in f.values or []:
                if re.search(rf"\b{re.escape(value)}\b", phrase):
                    rule = {"field": f.name, "when": "eq", "value": value, "colour": colour, "label": value}
                    break
            if rule:
                break
        number = re.search(
            r"\b(?:over|above|more than|at least)\s+(\d+(?:\.\d+)?)|\b(?:under|below|less than|at most)\s+(\d+(?:\.\d+)?)",
            phrase,
        )
        if rule is None and number:
            pair = _field_in(
                plan,
                re.sub(r"\b(?:over|above|more than|at least|under|below|less than|at most)\b.*$", "", phrase),
            )
            entity, found = pair if pair else (entity, None)
            if found is None or found.type not in ("number", "integer"):  # "expenses over 100": its amount
                numbers = [f for f in entity.fields if f.type in ("number", "integer")]
                found = next((f for f in numbers if f.format == "money"), numbers[0] if numbers else None)
            if found is not None and found.type in ("number", "integer"):
                label = re.sub(
                    r"^(?:show|highlight|colou?r|mark|make)\s+",
                    "",
                    _without_entity_words(phrase, entity).strip(),
                )
                rule = {
                    "field": found.name,
                    "when": "gte" if number.group(1) else "lte",
                    "value": float(number.group(1) or number.group(2)),
                    "colour": colour,
                    "label": label.strip(),
                }
    if rule is None:
        return text
    entity.highlights = [h for h in entity.highlights if h["field"] != rule["field"]] + [rule]
    changes.append(f"coloured {entity.many} that are {rule['label']}")
    return text[: match.start()] + text[match.end() :]


def _rollup(plan: AppPlan, text: str, changes: list[str]) -> str:
    """Figures per record over the records that link to it: "each student's average", "seats left"."""
    if len(plan.entities) < 2:
        return text
    ops = ["remaining", *[op for op in _OPS if op != "remaining"]]  # "how many seats are left"
    op = next((op for op in ops if re.search(_OPS[op], text)), None)
    if op is None:
        return text
    for parent in plan.entities:
        children = [(c, f) for c in plan.entities for f in c.fields if f.ref == parent.name]
        if not children:
            continue
        per = re.search(
            rf"\b(?:each|every|per|for each|by)\s+{re.escape(parent.noun.lower())}\b|\b{re.escape(parent.noun.lower())}'s\b",
            text,
        )
        if op == "remaining":
            field = next(
                (
                    f
                    for f in parent.fields
                    if f.type in ("integer", "number")
                    and re.search(r"seat|capacity|spot|place|slot|stock|copies|max|limit|quantity", f.name)
                ),
                None,
            )
            if field is None:
                continue
            child = children[0][0]
            rule = {
                "op": "remaining",
                "entity": child.name,
                "field": field.name,
                "label": f"{field.label} {languages.UI[plan.lang]['remaining']}",
            }
        elif per:
            named = _entity_named(plan, _without_entity_words(text, parent))
            child = named if named in [c for c, _ in children] else children[0][0]
            field = None
            if op != "count":
                field = _field_named(child, _without_entity_words(_without_entity_words(text, parent), child))
                if field is None or field.type not in ("integer", "number"):
                    field = next((f for f in child.fields if f.type in ("integer", "number")), None)
                if field is None:
                    continue
            word = {"count": child.many, "sum": "total", "avg": "average", "min": "lowest", "max": "highest"}[
                op
            ]
            rule = {
                "op": op,
                "entity": child.name,
                "field": field.name if field else None,
                "label": planner._sentence_case(f"{word} {field.label.lower()}" if field else word),
            }
        else:
            continue
        parent.rollups = [
            r for r in parent.rollups if (r["op"], r["entity"]) != (rule["op"], rule["entity"])
        ] + [rule]
        changes.append(f"showed each {parent.noun}'s {rule['label'].lower()}")
        return ""
    return text


def _stat(plan: AppPlan, text: str, changes: list[str]) -> str:
    op = next((op for op, pattern in _OPS.items() if op != "remaining" and re.search(pattern, text)), None)
    if op is None or not re.search(
        r"\b(?:show|add|display|see|what|top|figure|at the|summary|put|know|how|count)\b"
        r"|^\w+ \w+$",
        text,
    ):
        return text
    per = re.search(r"\s+(?:per|by|for each|in each)\s+(?:the\s+)?([^\W\d_][\w ]*?)\s*[.!?]?$", text)
    if per:
        text = text[: per.start()]
    entity = _target(plan, text)
    if _entity_named(plan, text) is None and op != "count":
        cleaned = re.sub("|".join(_OPS.values()), " ", text)
        found = _field_in(
            plan, re.sub(r"\b(?:show|add|at|the|top|a|an|of|display|what's|what|is)\b", " ", cleaned)
        )
        if found is not None and found[1].type in ("integer", "number"):
            entity = found[0]
    field = None
    if op != "count" or re.search(r"\bnumber of\b", text) and _field_named(entity, text):
        cleaned = re.sub("|".join(_OPS.values()), " ", _without_entity_words(text, entity))
        field = _field_named(entity, cleaned)
        if field is None or field.type not in ("integer", "number"):
            numbers = [f for f in entity.fields if f.type in ("integer", "number")]
            money = [f for f in numbers if f.format == "money"]
            field = (
                (money or numbers or [None])[0]
                if re.search(r"\bcost|spent|money|amount|price|value\b", text) or not field
                else None
            )
        if field is None:
            return text
        if op == "count":
            op = "sum"
    grouping = _field_named(entity, per.group(1)) if per else None
    if grouping is not None and grouping.type == "enum":
        entity.group = grouping.name  # "the total per category": a board, its figures per column
        changes.append(f"showed {entity.many} as a board with a column per {grouping.label.lower()}")
        if op == "count":
            return ""  # each column says how many it holds
    word = languages.UI[plan.lang][
        {"count": "count", "sum": "total", "avg": "average", "min": "minimum", "max": "maximum"}[op]
    ]
    stat = {
        "op": op,
        "field": field.name if field else None,
        "label": f"{word} · {field.label}" if field else f"{word} · {entity.many}",
    }
    entity.stats = [s for s in entity.stats if (s["op"], s.get("field")) != (op, stat["field"])] + [stat]
    changes.append(f"showed the {word.lower()} of {field.label.lower() if field else entity.many} at the top")
    return ""


def _sort(plan: AppPlan, text: str, changes: list[str]) -> str:
    alpha = re.search(
        r"\b(?:sort|order|list)\w*\s+(?:the\s+)?([^\W\d_]+\s+)?(?:alphabetical\w*|a-z|a to z|by name)\b", text
    )
    if alpha:
        entity = _target(plan, alpha.group(1) or "")
        title = next((f for f in entity.fields if f.type == "string"), entity.fields[0])
        entity.sort = (title.name, "asc")
        changes.append(f"sorted {entity.many} by {title.label.lower()} (A to Z)")
        return ""
    match = re.search(
        r"\b(?:sort(?:ed)?|order(?:ed)?|arrange|list)\s+(?:the\s+)?(?:(.+?)\s+)?(?:by|on|according to)\s+(?:the\s+|their\s+)?(.+?)$|\b(newest|latest|most recent|oldest|earliest)\s+first\b",
        text,
    )
    if not match:
        return text
    if match.group(3):
        entity = _target(plan, text)
        dates = [f for f in entity.fields if f.type in ("date", "datetime")]
        key = dates[0].name if dates else "created_at"
        direction = "desc" if match.group(3) in ("newest", "latest", "most recent") else "asc"
        entity.sort = (key, direction)
        changes.append(f"sorted {entity.many} {'newest' if direction == 'desc' else 'oldest'} first")
        return text[: match.start()] + text[match.end() :]
    entity = _target(plan, (match.group(1) or "") + " " + match.group(2))
    named = _entity_named(plan, (match.group(1) or "") + " " + match.group(2))
    phrase = re.sub(
        r"\b(?:asc\w*|desc\w*|newest|oldest|first|last|highest|lowest|best|worst|biggest|smallest|"
        r"most|least|latest|earliest|a-z|z-a|alphabetical\w*|order|to)\b",
        " ",
        match.group(2),
    )
    field = _field_named(entity, _without_entity_words(phrase, entity))
    if field is None and named is None and (found := _field_in(plan, phrase)) is not None:
        entity, field = found
    if field is None:
        words = [w for w in _words(phrase) if w not in vocab.FILLER]
        candidate = planner._field(planner._Phrase(words), entity.name, plan.lang) if words else None
        if candidate is not None and candidate.type == "enum" and len(entity.fields) < planner.MAX_FIELDS:
            entity.fields.append(candidate)  # "sort by priority" in an app without one: the known enum
            field = candidate
            changes.append(f"added {candidate.label.lower()} ({planner.describe_type(candidate)})")
        elif re.search(r"\b(?:created|added|date added)\b", phrase):
            entity.sort = (
                "created_at",
                "desc" if re.search(r"desc|newest|latest", match.group(2)) else "asc",
            )
            changes.append(f"sorted {entity.many} by when they were added")
            return ""
        else:
            return text
    ranked = (
        field.type == "enum"
        and field.name in {"priority", "severity", "importance", "urgency"}
        or field.format == "rating"
    )
    said = match.group(2)
    if re.search(r"desc|newest|highest|latest|most|best|biggest|z-a", said):
        direction = "desc"
    elif re.search(r"asc|oldest|lowest|least|worst|smallest|earliest|a-z", said):
        direction = "asc"
    else:
        direction = "desc" if ranked else "asc"
    entity.sort = (field.name, direction)
    changes.append(
        f"sorted {entity.many} by {field.label.lower()} ({'descending' if direction == 'desc' else 'ascending'})"
    )
    return ""


def _filter(plan: AppPlan, text: str, changes: list[str]) -> str:
    done = re.search(
        r"\b(hide|only show|show only|just show)\s+(?:the\s+)?(?:([^\W\d_]+)\s+)?(?:that are\s+)?"
        r"(done|completed|finished|ticked|checked|open|unfinished|not done|pending)\b(?:\s+([^\W\d_]+))?",
        text,
    )
    if done:
        entity = _target(plan, f"{done.group(2) or ''} {done.group(4) or ''}")
        flag = next((f for f in entity.fields if f.type == "boolean"), None)
        if flag is not None:
            finished = done.group(3) in ("done", "completed", "finished", "ticked", "checked")
            value = "false" if (done.group(1) == "hide") == finished else "true"
            entity.filters = [f for f in entity.filters if f["field"] != flag.name] + [
                {"field": flag.name, "value": value}
            ]
            changes.append(
                f"showed only {entity.many} that are {'' if value == 'true' else 'not '}{flag.label.lower()}"
                " (a filter you can change)"
            )
            return ""
    match = re.search(
        r"\b(?:filter|only show|show only|just show|only)\b\s*(?:the\s+)?(.*?)(?:[.!]|$)|\bshow\s+(.+?)\s+between\b(.*)$",
        text,
    )
    if not match:
        return text
    phrase = match.group(1) if match.group(1) is not None else match.group(2) + " " + match.group(3)
    entity = _target(plan, phrase)
    rest = _without_entity_words(
        re.sub(r"\b(?:by|on|with|that are|which are|where|to|two|between|dates?)\b", " ", phrase), entity
    )
    chosen = None
    for f in entity.fields:  # "only show high priority tasks": a value of an enum
        for value in f.values or []:
            if re.search(rf"\b{re.escape(value)}\b", rest):
                chosen = {"field": f.name, "value": value}
                break
        if chosen:
            break
    if chosen is None and _entity_named(plan, phrase) is None:
        found = _field_in(plan, rest)
        entity = found[0] if found else entity
    if chosen is None:
        field = _field_named(entity, rest)
        if field is None and re.search(r"\bdates?\b|\bbetween\b", phrase):
            field = next((f for f in entity.fields if f.type in ("date", "datetime")), None)
        if field is None:
            return text
        chosen = {"field": field.name}
    entity.filters = [f for f in entity.filters if f["field"] != chosen["field"]] + [chosen]
    label = entity.field(chosen["field"]).label.lower()
    changes.append(
        f"added a filter on {label}"
        + (f" showing {chosen['value']} {entity.many}" if "value" in chosen else "")
    )
    return ""


def _add_field(plan: AppPlan, text: str, changes: list[str]) -> str:
    match = re.search(
        r"\b(?:add|include|also track|also record|also store|track|record|store|need|want|with|plus|"
        r"ajoute|ajouter|añade|añadir)\s+(?:a\s+|an\s+|une?\s+)?(.+)",
        text,
    )
    if not match:
        return text
    body = match.group(1)
    owner = None
    to = re.search(r"\s+(?:to|for|on|in)\s+(?:the\s+|each\s+|every\s+|all\s+)?([^\W\d_][\w ]*?)\s*$", body)
    if to and _entity_named(plan, to.group(1)):
        owner = _entity_named(plan, to.group(1))
        body = body[: to.start()]
    entity = owner or _target(plan, text[: match.start()] + " " + body)
    # "a status field with todo, doing and done": the values of an enum
    body = re.sub(
        r"^([^\W\d_][\w ]*?)(?: field| column)?\s+(?:with|:|of)\s+(?:the\s+)?(?:values?\s+|options?\s+)?"
        r"([\w-]+(?:\s*,\s*[\w-]+)*\s*,?\s+(?:and|or)\s+[\w-]+)\s*$",
        lambda m: f"{m.group(1)} ({re.sub(r',? (?:and|or) ', ', ', m.group(2))})",
        body.strip(),
    )
    entity_words = {entity.noun.lower(), entity.many.lower(), "them", "it", "each"}
    added = False
    for phrase in planner._phrases(body, entity_words):
        words = [
            w
            for w in phrase.words
            if w not in {"field", "fields", "column", "option", "for", "to", "too", "also"}
        ]
        if not words or len(words) > 3:
            continue
        phrase.words = words
        new = planner._field(phrase, entity.name, plan.lang)
        if new.type == "string" and new.format is None and not _looks_like_a_field(words, plan.lang):
            continue  # "kanban view by status (text)": not a field a person named
        if entity.field(new.name):
            changes.append(f"kept {new.label.lower()}: {entity.many} already have it")
            added = True
            continue
        if len(entity.fields) >= planner.MAX_FIELDS:
            continue
        if new.format == "money":
            new.currency = (
                next((f.currency for e in plan.entities for f in e.fields if f.currency), None)
                or planner._LANG_CURRENCY[plan.lang]
            )
        target = plan.get(planner._pascal(words)) if len(words) <= 2 else None
        if target is not None and target is not entity:
            new = planner._reference(new.name, target, None, entity)
        entity.fields.append(new)
        changes.append(f"added {new.label.lower()} ({planner.describe_type(new)}) to {entity.many}")
        added = True
    return "" if added else text


def _looks_like_a_field(words: list[str], lang: str) -> bool:
    """A plain text field only when its words read as a thing's property: one or two nouns, no verbs
    or view words ("author", "serial number", not "kanban view", "newest first")."""
    view_words = {
        "view",
        "first",
        "last",
        "newest",
        "oldest",
        "red",
        "green",
        "top",
        "bottom",
        "mode",
        "page",
        "screen",
        "button",
        "chart",
        "graph",
        "board",
        "layout",
        "order",
        "sorted",
        "way",
        "option",
    }
    if set(words) & view_words or len(words) > 2:
        return False
    return all(planner._is_noun(w) and w not in vocab.VERBS for w in words)
