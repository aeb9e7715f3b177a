"""Plans an app from a prompt: the things it keeps (entities), their typed fields, the links between
them (reference fields), a name, the language and the colours the person asked for.

The planner reads a prompt the way a person skims it, with word lists (vocabulary.py,
languages.py) and a few patterns, no model:

1. Scope: a game, a chat or a simulation is not a data app. The plan is then the data part of that idea
   (a chess club's members and games) with a note saying plainly what was not written.
2. Several things: "books with title and author, members with name and email, and loans with a book, a
   member and a due date" (or "Books: title, author" lines, or "Each student has ..." sentences) is one
   entity per clause; "a CRM with companies, contacts and deals" and feature lists ("commenting and
   categorizing") name known things, which get their usual fields. A field that names another entity
   ("a book", "belongs to a project", "grades linking students and assignments") is a reference to it;
   known pairs (a comment belongs to an article) are linked when the prompt does not say.
3. One thing: the original reading. The part before "with" names the app; a known app kind ("recipe
   book" -> Recipe), else the noun before an app word, else the noun after "track/manage my ...".
4. Fields: each comma/"and" phrase, cleaned of verbs and filler, typed by its words ("due date" -> date,
   "price" -> money, "rating 1-5" -> stars, "email" -> email, "photo URL" -> image, "status (open,
   closed)" -> enum with those values). A required title field always comes first.
5. French, Spanish and German prompts are read through languages.py: names keep their accents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from generation.blueprint import languages
from generation.blueprint import vocabulary as vocab

MAX_FIELDS = 10
MAX_ENTITIES = 5
RESERVED_FIELDS = {"id", "created_at", "updated_at"}
# Formats on top of a JSON type (app.json "format"): what a person means by the field.
FORMATS = {
    "email": "string",
    "phone": "string",
    "url": "string",
    "image": "string",
    "money": "number",
    "percent": "number",
    "rating": "integer",
    "duration": "integer",
}


@dataclass
class FieldPlan:
    name: str
    type: str  # string, text, number, integer, boolean, date, datetime, enum, reference
    label: str
    required: bool = False
    values: list[str] | None = None
    default: object = None
    unit: str | None = None
    input: str | None = None  # HTML input type for a string field (time)
    format: str | None = None  # email, phone, url, image, money, percent, rating, duration
    currency: str | None = None  # money: ISO code
    ref: str | None = None  # reference: the entity it points to
    on_delete: str | None = None  # reference: "refuse" or "cascade" when the record it points to goes

    def to_json(self) -> dict:
        spec: dict = {"type": self.type}
        if self.ref:
            spec["entity"] = self.ref
            spec["on_delete"] = self.on_delete or "refuse"
        if self.format:
            spec["format"] = self.format
        if self.currency:
            spec["currency"] = self.currency
        if self.format == "rating":
            spec["min"], spec["max"] = 1, 5
        elif self.format == "percent":
            spec["min"], spec["max"] = 0, 100
        if self.required:
            spec["required"] = True
        if self.values:
            spec["values"] = list(self.values)
        if self.default is not None:
            spec["default"] = self.default
        return spec

    @property
    def kind(self) -> str:
        """What the field is to a person: its format, else its type; a reference names its entity."""
        return f"ref:{self.ref}" if self.type == "reference" else self.format or self.type


@dataclass
class EntityPlan:
    name: str  # PascalCase ASCII: the API's name
    noun: str  # singular, as shown ("coffee tasting", "élève")
    many: str  # plural, as shown
    fields: list[FieldPlan]
    app_name: str | None = None  # what the prompt called the app, when it named this thing alone
    # What the list shows (follow-ups change these): sort (field, asc|desc); filters the toolbar
    # offers [{"field", "value"?}]; a board grouped by an enum; figures at the top [{"op", "field"}];
    # figures per record over related records [{"op", "entity", "field"}]; conditional styles
    # [{"field", "when", "value"?, "colour"}]; a chart {"field", "by"}.
    sort: tuple[str, str] | None = None
    filters: list[dict] = field(default_factory=list)
    group: str | None = None
    stats: list[dict] = field(default_factory=list)
    rollups: list[dict] = field(default_factory=list)
    highlights: list[dict] = field(default_factory=list)
    chart: dict | None = None

    @property
    def plural(self) -> str:
        return self.many

    @property
    def entity(self) -> str:
        return self.name

    @property
    def title_field(self) -> FieldPlan:
        return self.fields[0]

    def field(self, name: str) -> FieldPlan | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass
class AppPlan:
    name: str
    entities: list[EntityPlan]
    lang: str = "en"
    theme: str = "light"
    accent: str | None = None  # an explicit colour the user asked for; else the seed picks
    background: str | None = None  # an explicit page background
    layout: str | None = None  # stacked | split, when the user asked
    density: str | None = None  # comfortable | compact, when the user asked
    from_spec: bool = True  # read back from the writer's SPEC (False: from app.json alone)
    scope_note: str | None = None  # what was asked that this model cannot write

    # The first entity, for code that handles one thing (and the follow-ups' default target).
    @property
    def main(self) -> EntityPlan:
        return self.entities[0]

    @property
    def entity(self) -> str:
        return self.main.name

    @property
    def noun(self) -> str:
        return self.main.noun

    @property
    def plural(self) -> str:
        return self.main.many

    @property
    def fields(self) -> list[FieldPlan]:
        return self.main.fields

    @property
    def title_field(self) -> FieldPlan:
        return self.main.fields[0]

    def field(self, name: str) -> FieldPlan | None:
        return self.main.field(name)

    def get(self, name: str) -> EntityPlan | None:
        return next((e for e in self.entities if e.name == name), None)

    def app_json(self) -> dict:
        return {
            "name": self.name,
            "entities": {e.name: {"fields": {f.name: f.to_json() for f in e.fields}} for e in self.entities},
        }


def plan_app(prompt: str, *, scope: bool = True) -> AppPlan:
    """The app a person most likely means by `prompt`."""
    raw = _normalise(prompt)
    lang = languages.detect(raw)
    outside = _scope(raw) if scope and lang == "en" else None
    if outside is not None:
        kind, data_prompt = outside
        plan = plan_app(data_prompt, scope=False)
        plan.scope_note = kind
        return plan
    accent, background, theme = colours_in(raw)
    raw = strip_colours(raw)
    text = languages.structure_words(raw, lang)
    entities = _plan_several(text, lang)
    if entities:
        name = _app_name_for(text, entities)
    elif (each := _each_clause(text, lang)) is not None:
        entities = [each]
        _add_titles(entities, lang)
        name = _app_name_for(text, entities)
    else:
        single = _plan_single(text, prompt, lang)
        if (
            single.name == "Item"
            and single.field("done")
            and (single.field("due_date") or single.field("priority"))
        ):
            single.name, single.noun, single.many, single.app_name = "Task", "task", "tasks", "To-do list"
        entities, name = [single], single.app_name
    if lang != "en" and len(entities) == 1:
        name = entities[0].many  # "Plantes", "Recetas": the app words a foreign prompt used are not English
    named = _NAMED.search(prompt)
    if named:
        name = named.group(1).strip()
    for entity in entities:
        entity.noun = languages.capitalise_noun(entity.noun, lang)
        entity.many = languages.capitalise_noun(entity.many, lang)
        if lang == "de":
            entity.name = _pascal(_words(entity.noun))
    plan = AppPlan(
        name=_sentence_case(name or "My app"),
        entities=entities,
        lang=lang,
        theme=theme,
        accent=accent,
        background=background,
    )
    for f in (f for e in plan.entities for f in e.fields if f.format == "money"):
        f.currency = f.currency or _currency(raw, lang)
    _order_for_smoke(plan)
    return plan


def _order_for_smoke(plan: AppPlan) -> None:
    """The first entity is the one Kiln's smoke test creates a record of: one that needs no other."""
    free = [e for e in plan.entities if not any(f.ref and f.required for f in e.fields)]
    if free and free[0] is not plan.entities[0]:
        plan.entities.remove(free[0])
        plan.entities.insert(0, free[0])


# --- Words ------------------------------------------------------------------------------------------


def singularise(word: str) -> str:
    if word in vocab.IRREGULAR_SINGULAR:
        return vocab.IRREGULAR_SINGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def pluralise(noun: str) -> str:
    head, _, last = noun.rpartition(" ")
    irregular = {v: k for k, v in vocab.IRREGULAR_SINGULAR.items()}
    if last in irregular:
        plural = irregular[last]
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        plural = last[:-1] + "ies"
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        plural = last + "es"
    else:
        plural = last + "s"
    return f"{head} {plural}" if head else plural


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:['-][^\W_]+)*", text.lower())


def _ascii_words(words: list[str]) -> list[str]:
    out = []
    for w in words:
        for part in re.split(r"['-]", languages.ascii_fold(w.replace("'s", "")).lower()):
            part = re.sub(r"[^a-z0-9]", "", part)
            if part:
                out.append(part)
    return out


def _pascal(words: list[str]) -> str:
    name = "".join(w[:1].upper() + w[1:] for w in _ascii_words(words))
    return (
        "N" + name if name[:1].isdigit() else name
    )  # "3d print" -> N3dPrint: an identifier starts with a letter


def _snake(words: list[str]) -> str:
    name = "_".join(_ascii_words(words)).replace("dateandtime", "date_and_time")
    if name and name[0].isdigit():
        name = "n_" + name
    return name[:40]


_ACRONYMS = {
    "isbn",
    "sku",
    "url",
    "vin",
    "ean",
    "upc",
    "id",
    "pin",
    "iban",
    "vat",
    "rsvp",
    "dob",
    "gps",
    "ip",
}


def _label(name: str, unit: str | None = None) -> str:
    text = " ".join(w.upper() if w in _ACRONYMS else w for w in name.replace("_", " ").strip().split())
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def _is_noun(word: str) -> bool:
    return (
        word not in vocab.FILLER
        and word not in _FOREIGN_FILLER
        and word not in vocab.VERBS
        and word not in vocab.APP_SUFFIXES
        and not word.isdigit()
        and len(word) > 1
    )


# --- Prompt -> plan ----------------------------------------------------------------------------------

_MARKERS = re.compile(
    "|".join(
        vocab.ATTRIBUTE_MARKERS
        + [
            r"\b(?:should|must|will) (?:have|include|store|show|contain|record|track)\b",
            r":",
            r"\s[—–]\s|\s-\s",
        ]
    )
)
# After the first sentence, "I need their name, email..." lists fields too.
_LATER_MARKERS = re.compile(
    _MARKERS.pattern + r"|\b(?:great|nice|good|useful|helpful) to (?:also )?(?:add|have|include|store|keep)\b"
    r"|\b(?:i|we|it|they|each \w+) (?:need|want|should|must|will|would like)"
    r"(?: to)?(?: (?:have|has|store|track|record|see|keep|log|save|enter|show|include))?\b"
)
_VALUES_IN_PARENS = re.compile(r"\(([^()]*)\)")
_SLASH_VALUES = re.compile(r"\b([a-z][a-z ]*?)(?:\s*:\s*|\s+)((?:[a-z][\w-]*\s*/\s*)+[a-z][\w-]*)")
_CAN_CLAUSE = re.compile(
    r"\b(?:where|so that|so|that lets|lets|letting|allowing|to let|to help) (?:i|we|me|us|you|people|users?) (?:can |could |to |will )?(.*)"
)
_NAMED = re.compile(
    r"""\b(?:called|named|titled)\s+["“'‘]?([a-z0-9][\w '&-]{0,40}?)["”'’]?(?=[.,;!?]|$| with| that| where| for)""",
    re.IGNORECASE,
)
_TICK_WORDS = re.compile(
    r"\b(?:tick|ticked|check(?:ed)? off|cross(?:ed)? off|mark(?:ed)? (?:as |them as |it as )?(?:done|complete|completed|finished)|complete|completed|done)\b"
)


@dataclass
class _Phrase:
    words: list[str]
    values: list[str] | None = None
    unit: str | None = None
    required: bool = False
    default: str | None = None  # as written: "medium", "1", "yes"


def _plan_single(text: str, prompt: str, lang: str) -> EntityPlan:
    """The one thing a prompt that names one thing keeps (the blueprint's original reading)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()] or [""]
    head, first_attrs = _split_at_marker(sentences[0])
    attr_texts = [first_attrs] if first_attrs else []
    for sentence in sentences[1:]:
        _, attrs = _split_at_marker(sentence, _LATER_MARKERS)
        if attrs:
            attr_texts.append(attrs)

    kind, kind_at, keyword = _find_kind(head)
    if kind is not None:
        after = _words(head[kind_at:])[len(keyword.split()) :][:1]
        if after and after[0].endswith("s") and _is_noun(after[0]) and after[0] not in vocab.CLAUSE_BREAKS:
            kind = None  # "vacation requests": the kind's word only describes the thing
        else:
            for other in kind["keywords"]:  # "a CRM for my clients" keeps Clients
                if other in vocab.KEYWORD_ENTITY and re.search(rf"\b{re.escape(other)}\b", head):
                    keyword = other
    noun_words, app_name = (None, None)
    each = re.search(r"\b(?:each|every) ([a-z]+)\b", text)
    if (
        each
        and lang == "en"
        and each.group(1) not in vocab.FILLER
        and each.group(1) not in vocab.VERBS
        and (
            singularise(each.group(1)) in ENTITY_DEFAULTS
            or re.search(rf"\b{pluralise(each.group(1))}\b", text)
        )
    ):
        # "I keep losing track of custom cake orders ... each order has": the thing is what "each" names.
        noun = singularise(each.group(1))
        if kind is None or noun != _noun_from_entity(vocab.KEYWORD_ENTITY.get(keyword, kind["entity"])):
            kind, noun_words = None, [noun]
            app_name = (_generic_noun(head, lang)[1] or f"{noun} list") if head.strip() else f"{noun} list"
    if kind is None and noun_words is None:
        noun_words, app_name = _generic_noun(head, lang)
    head_app_words = [w for w in _words(head) if w in vocab.APP_SUFFIXES and w not in _GENERIC_APP_WORDS]
    kind_in_head = kind is not None
    if kind is None and noun_words is None:
        kind, kind_at, keyword = _find_kind(text)
    if kind is None and noun_words is None:
        noun_words, app_name = ["item"], "My list"

    if kind is not None:
        entity = vocab.KEYWORD_ENTITY.get(keyword, kind["entity"])
        noun = _noun_from_entity(entity)
        if kind_in_head or not head_app_words:
            app_name = _kind_app_name(head, kind, kind_at)
        else:  # "a library catalog with books, ...": the head names the app
            app_name = " ".join(head_app_words[:3])
        title_name = kind["title"]
    else:
        noun = " ".join(noun_words)
        entity = _pascal(noun_words) or "Item"
        title_name = "title" if noun_words[-1] in vocab.TITLED_NOUNS else "name"

    named = _NAMED.search(prompt)
    if named:
        app_name = named.group(1).strip()

    entity_words = {noun, pluralise(noun), *noun.split(), *pluralise(noun).split()}

    phrases: list[_Phrase] = []
    for attrs in attr_texts:
        phrases += _phrases(attrs, entity_words)
    if not phrases:
        clause = _CAN_CLAUSE.search(text)
        if clause:
            phrases = _phrases(clause.group(1), entity_words)

    kind_entity = kind["entity"] if kind else entity  # enum values are looked up by kind
    fields = _dedupe([_field(p, kind_entity, lang) for p in phrases])
    if not fields:
        defaults = kind["defaults"] if kind else ["notes"]
        fields = _dedupe([_field(_Phrase(d.split()), kind_entity) for d in defaults])
    for extra in (kind or {}).get("always", []):
        if not any(f.name == extra for f in fields):
            fields.append(_field(_Phrase(extra.split()), kind_entity))
    if _TICK_WORDS.search(text) and not any(f.type == "boolean" for f in fields):
        fields.append(FieldPlan("done", "boolean", "Done", default=False))

    fields = _with_title(fields, title_name)
    return EntityPlan(
        name=entity, noun=noun, many=pluralise(noun), fields=fields[:MAX_FIELDS], app_name=app_name
    )


def _normalise(prompt: str) -> str:
    text = prompt.lower().replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", text, flags=re.MULTILINE)  # list bullets
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    if len(lines) >= 3:
        # A list, one item a line: "Gym log / exercise / weight (kg)" is "gym log: exercise, weight (kg)";
        # lines that are clauses of their own ("Products: name, SKU") are kept apart.
        if not any(":" in line for line in lines[1:]):
            text = lines[0].rstrip(":.") + ": " + ", ".join(line.rstrip(",;.") for line in lines[1:])
        else:
            text = " ; ".join(lines)
    text = re.sub(r"[`*_#>]", " ", text)
    text = re.sub(r"\bdate (?:and|&) time\b", "dateandtime", text)
    text = re.sub(r"\bplus[ -]ones?\b", "plusone", text)
    text = re.sub(r"\b(\w+) flag\b", r"is \1", text)  # "a returned flag"
    # "rating out of five", "rating from 1 to 5": the scale says it is a rating, not part of its name
    text = re.sub(
        r"\s*(?:\(\s*)?(?:out of|from|on a scale of)?\s*\b(?:1|one)\s*(?:-|–|to|/)\s*(?:5|five|10|ten)\b(?:\s*\))?"
        r"(?:\s*stars?)?|\s+out of (?:five|5|ten|10)\b",
        " ",
        text,
    )
    text = re.sub(r"\bdate (?:i|we|it was|they) (\w+)", r"date \1", text)
    text = re.sub(r"\bwhat (?:we|i|they) (\w+) (on|about)\b", r"\1 \2 notes", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _split_at_marker(sentence: str, markers: re.Pattern = _MARKERS) -> tuple[str, str]:
    match = markers.search(sentence)
    if not match:
        return sentence, ""
    return sentence[: match.start()], sentence[match.end() :]


def _find_kind(text: str) -> tuple[dict | None, int, str | None]:
    best, best_at, best_keyword = None, -1, None
    for kind in vocab.KINDS:
        for keyword in kind["keywords"]:
            match = re.search(r"(?<![\w-])" + re.escape(keyword) + r"(?![\w-])", text)
            if match and (
                best is None
                or match.start() < best_at
                or (match.start() == best_at and len(keyword) > len(best_keyword))
            ):
                best, best_at, best_keyword = kind, match.start(), keyword
    if best is not None and best_keyword in {"inventory", "warehouse", "book", "notebook"}:
        # "a wine cellar inventory": the words before the app word name the thing, not the kind.
        words = [w for w in _words(text[:best_at]) if _is_noun(w)]
        if words and not _find_kind(text[:best_at])[0]:
            return None, -1, None
    return best, best_at, best_keyword


def _kind_app_name(head: str, kind: dict, at: int) -> str:
    """ "a recipe book" -> "Recipe book"; "a book tracker" -> "Book tracker"; else the kind's name."""
    words = _words(head[at:])[:4]
    for i, word in enumerate(words[1:4], start=1):
        if word in vocab.APP_SUFFIXES and word not in {
            "app",
            "application",
            "website",
            "site",
            "tool",
            "page",
            "system",
            "portal",
            "db",
            "database",
        }:
            return " ".join(words[: i + 1])
    return kind["app"]


_ACTION = re.compile(
    r"\b(track|log|manage|organi[sz]e|record|catalog(?:ue)?|collect|store|plan|save|"
    r"list|remember|rate|review|schedule|monitor|keep track of|keep a list of|follow)\s+(.+)$"
)
_ACTION_APP = {
    "track": "tracker",
    "log": "log",
    "manage": "manager",
    "organize": "organizer",
    "organise": "organiser",
    "collect": "collection",
    "plan": "planner",
    "schedule": "planner",
    "rate": "ratings",
    "review": "reviews",
    "catalog": "catalog",
    "catalogue": "catalogue",
}
_GENERIC_APP_WORDS = {"app", "application", "website", "site", "tool", "page", "system", "portal"}


def _noun_phrase(words: list[str], lang: str = "en") -> list[str]:
    """The last run of noun-like words, at most two, singular ("my vinyl records" -> vinyl record)."""
    run: list[str] = []
    for word in words:
        if run and (word in vocab.CLAUSE_BREAKS or word in {"of", "for", "with", "in", "on", "and", "to"}):
            break  # "the birds I spot", "records of my runs": keep the first noun run
        if _is_noun(word):
            run.append(word)
        elif run:
            run = []
    while len(run) > 1 and run[-1].endswith("ing"):
        run.pop()  # "plant watering" -> plant
    run = run[-2:]
    if not run:
        return []
    foreign = languages.singularise(run[-1], lang)
    return run[:-1] + [foreign if foreign is not None else singularise(run[-1])]


def _generic_noun(head: str, lang: str = "en") -> tuple[list[str] | None, str | None]:
    words = _words(head)
    # "a plant watering tracker": the words before the first app word.
    for i, word in enumerate(words):
        if word in vocab.APP_SUFFIXES and i > 0:
            before = [w for w in words[:i] if w not in vocab.VERBS or w in {"log", "plan"}]
            noun = _noun_phrase(before, lang)
            if noun:
                raw = [w for w in before if _is_noun(w)][-3:]
                suffix = "" if word in _GENERIC_APP_WORDS else f" {word}"
                return noun, " ".join(raw) + suffix
            break
    # "an app to track my daily runs"
    match = _ACTION.search(" ".join(words))
    if match:
        noun = _noun_phrase(_words(match.group(2)), lang)
        if noun:
            verb = match.group(1).split()[0] if not match.group(1).startswith("keep") else "track"
            return noun, f"{' '.join(noun)} {_ACTION_APP.get(verb, 'tracker')}"
    noun = _noun_phrase(words, lang)
    if noun:
        return noun, f"{' '.join(noun)} tracker"
    return None, None


def _noun_from_entity(entity: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", entity).lower()


def _sentence_case(name: str) -> str:
    name = re.sub(r"\s+", " ", name).strip() or "My app"
    return name[:1].upper() + name[1:60]


def _phrases(text: str, entity_words: set[str]) -> list[_Phrase]:
    """Field phrases from the text after "with": "date, sets and reps" -> [date], [sets], [reps]."""
    values: dict[str, list[str]] = {}
    units: dict[str, str] = {}
    defaults: dict[str, str] = {}

    def lift_parens(match: re.Match) -> str:
        key = f" zzv{len(values) + len(units) + len(defaults)} "
        inner = [v.strip() for v in re.split(r",|/|\bor\b|\||;", match.group(1)) if v.strip()]
        inner = [re.sub(r"^(?:and|e\.g\.|eg|like|such as|either|in)\s+", "", v) for v in inner]
        flags = ""
        for item in list(inner):  # "(required)", "(low, medium, high, default medium)"
            if re.fullmatch(r"required|mandatory|must", item):
                flags += " zzrequired"
                inner.remove(item)
            elif re.fullmatch(r"optional", item):
                inner.remove(item)
            elif default := re.fullmatch(r"(?:default(?:s to| is|:)?|by default)\s+(.+)", item):
                defaults[key.strip()] = default.group(1).strip()
                inner.remove(item)
        if not inner:
            return (f" {key.strip()}" if key.strip() in defaults else "") + flags + " "
        if len(inner) >= 2:
            values[key.strip()] = inner
        elif len(inner) == 1 and len(inner[0].split()) <= 2:
            units[key.strip()] = inner[0]
        return key + flags + " "

    def lift_default(match: re.Match) -> str:
        key = f"zzv{len(values) + len(units) + len(defaults)}"
        defaults[key] = match.group(1)
        return f" {key} "

    def lift_slashes(match: re.Match) -> str:
        key = f"zzv{len(values) + len(units)}"
        values[key] = [v.strip() for v in match.group(2).split("/")]
        return f"{match.group(1)} {key}"

    # "weight in kg", "distance in km": the unit, as if written "weight (kg)"
    text = re.sub(rf"\b([^\W\d_][\w'-]*) in ({_UNITS})\b", r"\1 (\2)", text)
    text = _VALUES_IN_PARENS.sub(lift_parens, text)
    text = _SLASH_VALUES.sub(lift_slashes, text)
    # "email is required", "a required due date", "status defaults to open", "quantity default 1"
    text = re.sub(
        r"\b(?:is|are|must be|should be)\s+(?:required|mandatory)\b|\b(?:required|mandatory)\b",
        " zzrequired ",
        text,
    )
    text = re.sub(r"\b(?:is|are)\s+optional\b|\boptional\b", " ", text)
    text = re.sub(
        r"\b(?:defaults? to|default(?: value)?(?: is|:)?|by default)\s+([\w.-]+)", lift_default, text
    )
    text = re.split(r"(?<=[a-z0-9)])[.!?](?:\s|$)", text)[0]
    out = []
    for part in re.split(r",|;|\band\b|&|\bplus\b|\bas well as\b|/", text):
        words = _words(part)
        phrase = _Phrase([])
        for word in words:
            if word in defaults:  # a key may carry values and a default: "(low, high, default low)"
                phrase.default = defaults[word]
            if word in values:
                phrase.values = values[word]
            elif word in units:
                phrase.unit = units[word]
            elif word in defaults:
                pass
            elif word == "zzrequired":
                phrase.required = True
            else:
                phrase.words.append(word)
        cleaned = _clean_phrase(phrase.words)
        measured = (
            phrase.unit is not None
            or cleaned[-1:]
            and cleaned[-1] in vocab.NUMBER_WORDS | vocab.INTEGER_WORDS | vocab.TEXT_WORDS
        )
        if (
            not cleaned
            or not measured
            and (" ".join(cleaned) in entity_words or cleaned[-1] in entity_words and len(cleaned) == 1)
        ):
            continue  # "a list of books with books": the thing itself (a weight log's weight is kept)
        if len(cleaned) > 4:
            continue  # prose, not a field name
        phrase.words = cleaned
        out.append(phrase)
    return out


_UI_WORDS = {
    "checkbox",
    "tickbox",
    "toggle",
    "switch",
    "dropdown",
    "select",
    "picker",
    "input",
    "box",
    "textbox",
    "textarea",
    "slider",
}


_CLAUSE_VERBS = {
    "shows",
    "tracks",
    "lets",
    "allows",
    "displays",
    "supports",
    "provides",
    "sends",
    "calculates",
    "show",
}


def _clean_phrase(words: list[str]) -> list[str]:
    if words and words[0] in _CLAUSE_VERBS:
        return []  # "... and shows monthly totals": what the app does, not a field
    boolean = any(w in {"checkbox", "tickbox", "toggle", "switch"} for w in words) and len(words) > 1
    words = [
        w
        for i, w in enumerate(words)
        if w not in _UI_WORDS
        and not (
            re.fullmatch(r"[\d'-]+", w)
            and not (i == len(words) - 1 and i > 0 and w.isdigit() and len(w) <= 2)
        )
    ]
    if words and words[0] in {"whether", "if"}:
        boolean = True
        words = words[1:]
    kept: list[str] = []
    for i, word in enumerate(words):
        if word in vocab.CLAUSE_BREAKS and kept:
            break
        if (
            word == "of"
            and i + 1 < len(words)
            and words[i + 1] in {"each", "every", "my", "the", "a", "an", "their"}
        ):
            break
        kept.append(word)
    # Leading verbs and filler: "record the date" -> date; "a short description" stays.
    while kept and (kept[0] in vocab.FILLER or kept[0] in vocab.VERBS) and kept[0] not in {"done"}:
        if (
            len(kept) == 1
            and kept[0] not in vocab.FILLER
            and (kept[0] in _KNOWN_WORDS or pluralise(kept[0]) in _KNOWN_WORDS)
        ):
            break  # "a note", "a rating": the verb-like word is the field
        kept = kept[1:]
    while kept and kept[-1] in vocab.FILLER:
        kept = kept[:-1]
    kept = [
        w
        for w in kept
        if w
        not in {
            "it's",
            "it",
            "i've",
            "been",
            "has",
            "have",
            "is",
            "was",
            "field",
            "fields",
            "column",
            "option",
            "optional",
            "new",
        }
        or w == kept[0]
        and w in {"is", "has"}
    ]
    if boolean and not kept:
        # "whether I finished it": the verb is the field.
        kept = [
            w
            for w in words
            if w not in vocab.FILLER and w not in {"it", "it's", "i", "we", "they", "is", "was"}
        ][-1:]
    if boolean and kept:
        return ["is"] + kept if kept[-1] not in vocab.BOOLEAN_WORDS else kept[-1:]
    return kept


_KNOWN_WORDS = (
    vocab.DATE_WORDS
    | vocab.DATETIME_WORDS
    | vocab.MINUTE_WORDS
    | vocab.INTEGER_WORDS
    | vocab.NUMBER_WORDS
    | vocab.BOOLEAN_WORDS
    | vocab.TEXT_WORDS
    | vocab.TITLE_NAMES
    | {k[1] for k in vocab.ENUM_VALUES}
    | {k.split()[-1] for k in vocab.PHRASES}
)


def _field(phrase: _Phrase, entity: str, lang: str = "en") -> FieldPlan:
    """A typed field for a phrase (its words typed in English, its name and label as written)."""
    written = list(phrase.words)
    words = languages.type_words(written, lang)
    if words[-1] not in _KNOWN_WORDS and singularise(words[-1]) in _KNOWN_WORDS:
        words[-1] = singularise(words[-1])  # "due dates" -> due date, "priorities" -> priority
    joined = " ".join(words)
    last = words[-1]
    extra: dict = {}
    values = phrase.values
    unit = phrase.unit

    if joined in vocab.PHRASES:
        name, type_, extra = vocab.PHRASES[joined]
    elif values:
        name, type_ = _snake(words), "enum"
    elif len(words) > 1 and words[0] in vocab.INTEGER_WORDS | vocab.NUMBER_WORDS and words[0] != "number":
        name = _snake(words)  # "copies available", "hours spent"
        type_ = "integer" if words[0] in vocab.INTEGER_WORDS else "number"
    elif words[0] == "date" and len(words) > 1:
        name, type_ = _snake(words), "date"  # "date finished", "date applied"
    elif words[0] in {"is", "has"} and len(words) > 1:
        name, type_ = _snake(words[1:]), "boolean"
    elif last in vocab.BOOLEAN_WORDS:
        name, type_ = _snake(words), "boolean"
    elif (
        len(words) > 1
        and words[0] in {"last", "next", "first"}
        or (last in vocab.DATE_WORDS or words[0] == "date")
        and not (last == "day" and len(words) == 1 and unit)
    ):
        name, type_ = _snake(words), "date"
    elif last in vocab.DATETIME_WORDS:
        name, type_ = _snake(words), "datetime"
    elif last == "time" or any(w in vocab.MINUTE_WORDS for w in words):
        name, type_ = _snake(words), "integer"
        unit = unit or ("minutes" if last in {"time", "duration"} else None)
    elif words[0] in {"number", "num", "no", "count", "amount"} and "of" in words and words[-1] != "of":
        rest = words[words.index("of") + 1 :]
        name = _snake(rest)
        type_ = "number" if words[0] == "amount" and rest[-1] in {"money", "cash"} else "integer"
    elif last in vocab.INTEGER_WORDS:
        name, type_ = _snake(words), "integer"
    elif last in vocab.NUMBER_WORDS:
        name, type_ = _snake(words), "number"
    elif last in vocab.TEXT_WORDS:
        name, type_ = _snake(words), "text"
    elif (
        (entity, joined) in vocab.ENUM_VALUES
        or (None, joined) in vocab.ENUM_VALUES
        or (len(words) <= 2 and (None, last) in vocab.ENUM_VALUES)
    ):
        name, type_ = _snake(words), "enum"
        values = (
            vocab.ENUM_VALUES.get((entity, joined))
            or vocab.ENUM_VALUES.get((None, joined))
            or vocab.ENUM_VALUES[(None, last)]
        )
    else:
        name, type_ = _snake(words), "string"
        if last in {"email", "mail"}:
            extra = {"input": "email"}
        elif last in {"phone", "tel", "mobile", "cell"}:
            extra = {"input": "tel"}
        elif last in {"url", "link", "website", "homepage"}:
            extra = {"input": "url"}

    if lang != "en":
        name = _snake(written)
    if unit in _DATE_UNITS:
        type_ = _DATE_UNITS[unit]
        unit = None
    elif (
        type_ == "enum" and values and {v.strip() for v in values} <= {"yes", "no", "y", "n", "true", "false"}
    ):
        type_, values = "boolean", None
    if name in RESERVED_FIELDS or not name:
        name = f"{_snake([entity.lower()])}_{name or 'value'}"
    unit = unit or extra.get("unit")
    if unit and type_ == "string" and len(unit.split()) <= 2:
        type_ = "number"  # "weight (kg)": a measured quantity
    clean_values = None
    if type_ == "enum":
        clean_values = []
        for v in values or []:
            v = re.sub(r"[^a-z0-9 -]", "", v.lower()).strip()[:30]
            if v and v not in clean_values:
                clean_values.append(v)
        if len(clean_values) < 2:
            type_, clean_values = "string", None
    label = _label(name, unit) if lang == "en" else _label(" ".join(written), unit)
    plan = FieldPlan(
        name=name,
        type=type_,
        label=label,
        unit=unit,
        input=extra.get("input"),
        values=clean_values,
    )
    if type_ == "boolean":
        plan.default = False
    elif type_ == "enum":
        plan.default = clean_values[0]
    plan.required = phrase.required
    plan = _with_format(plan, words)
    if phrase.default is not None:
        plan.default = _typed_default(plan, phrase.default, plan.default)
    return plan


def _typed_default(plan: FieldPlan, written: str, fallback):
    """A default the prompt gave ("default medium", "defaults to 1"), as the field's type; else fallback."""
    written = written.strip().lower()
    try:
        if plan.type == "integer":
            return int(written)
        if plan.type == "number":
            return float(written)
    except ValueError:
        return fallback
    if plan.type == "boolean":
        return written in ("yes", "true", "on", "checked", "done")
    if plan.type == "enum":
        return written if written in (plan.values or []) else fallback
    if plan.type in ("string", "text"):
        return written
    return fallback


def _dedupe(fields: list[FieldPlan]) -> list[FieldPlan]:
    seen: set[str] = set()
    out = []
    for f in fields:
        if f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out


def _with_title(fields: list[FieldPlan], title_name: str) -> list[FieldPlan]:
    """Put a required string title first: one the prompt named, or the kind's, or "title"/"name"."""
    for i, f in enumerate(fields):
        if f.name == title_name or (
            f.type == "string"
            and not f.format
            and (f.name in vocab.TITLE_NAMES | _FOREIGN_TITLES or f.name.endswith(("_name", "_title")))
        ):
            title = replace(
                f,
                type="string",
                required=True,
                values=None,
                default=None,
                unit=None,
                format=None,
                label=f.label.split(" (")[0],
            )
            return [title] + fields[:i] + fields[i + 1 :]
    return [FieldPlan(title_name, "string", _label(title_name), required=True)] + fields


_UNITS = (
    "kg|kilograms?|grams?|g|lbs|km|kilometers?|kilometres?|miles|metres?|meters?|m|cm|hours|minutes|days|"
    "weeks|litres?|liters?|ml|celsius|fahrenheit|euros?|dollars?|usd|eur|gbp"
)
_DATE_UNITS = {
    "dateandtime": "datetime",
    "date": "date",
    "time": "datetime",
    "date_and_time": "datetime",
    "datetime": "datetime",
    "date and time": "datetime",
}
_FOREIGN_TITLES = {"nom", "titre", "nombre", "titulo", "titel", "concepto", "name"}


# --- Formats: what a person means by a field ---------------------------------------------------------

_MONEY_WORDS = {
    "price",
    "cost",
    "amount",
    "fee",
    "salary",
    "budget",
    "total",
    "value",
    "balance",
    "revenue",
    "income",
    "rent",
    "deposit",
    "charge",
    "tip",
    "pay",
    "spent",
    "spend",
    "fees",
    "rate",
    "buy-in",
}
_IMAGE_WORDS = {"photo", "image", "picture", "pic", "avatar", "cover", "logo", "thumbnail", "poster"}
_DURATION_WORDS = {"duration", "length", "runtime", "estimate"}
_CURRENCIES = [
    (r"€|\beuros?\b|\beur\b", "EUR"),
    (r"£|\bpounds?\b|\bgbp\b", "GBP"),
    (r"\$|\bdollars?\b|\busd\b", "USD"),
    (r"¥|\byen\b", "JPY"),
    (r"\bfrancs?\b|\bchf\b", "CHF"),
]
_LANG_CURRENCY = {"en": "USD", "fr": "EUR", "es": "EUR", "de": "EUR"}


def _with_format(plan: FieldPlan, words: list[str]) -> FieldPlan:
    """Give a typed field the format its words mean (email, phone, url, image, money, rating...)."""
    plan = _formatted(plan, words)
    if plan.format and plan.unit is None:
        plan.label = re.sub(r" \([^()]*\)$", "", plan.label)  # "(minutes)": the format shows it
    return plan


def _formatted(plan: FieldPlan, words: list[str]) -> FieldPlan:
    last = words[-1] if words else ""
    if plan.input in ("email", "tel", "url") and plan.type == "string":
        plan.format = {"email": "email", "tel": "phone", "url": "url"}[plan.input]
        plan.input = None
    if (
        set(words) & _IMAGE_WORDS
        and plan.type in ("string", "text")
        or (plan.format == "url" and set(words) & _IMAGE_WORDS)
    ):
        plan.type, plan.format, plan.input = "string", "image", None
    elif (
        plan.type == "number"
        and (last in _MONEY_WORDS or words[0] in _MONEY_WORDS)
        and plan.unit in (None, "$", "€", "£", "eur", "euros", "usd", "dollars", "in euros", "in dollars")
    ):
        plan.format, plan.unit = "money", None
    elif plan.type in ("integer", "number") and last in {"rating", "stars", "valoracion"}:
        plan.type, plan.format, plan.unit = "integer", "rating", None
    elif plan.type == "number" and last in {"percent", "percentage", "pct"}:
        plan.format = "percent"
    elif (
        plan.type == "integer"
        and (plan.unit == "minutes" or last in _DURATION_WORDS)
        and plan.unit in (None, "minutes", "mins", "min")
    ):
        plan.format, plan.unit = "duration", None
    elif (
        plan.type in ("string", "number")
        and plan.input is None
        and plan.unit is None
        and last in {"duration", "length", "estimate"}
    ):
        plan.type, plan.format = "integer", "duration"
    return plan


def _currency(text: str, lang: str) -> str:
    for pattern, code in _CURRENCIES:
        if re.search(pattern, text):
            return code
    return _LANG_CURRENCY.get(lang, "USD")


# --- Colours from the prompt -------------------------------------------------------------------------

COLOURS = {
    **vocab.ACCENTS,
    "navy": "#000080",
    "maroon": "#800000",
    "linen": "#faf0e6",
    "white": "#ffffff",
    "beige": "#f5f5dc",
    "ivory": "#fffff0",
    "cream": "#fffdd0",
    "olive": "#808000",
    "gold": "#b8860b",
    "silver": "#6b7280",
    "lavender": "#e6e6fa",
    "mint": "#3eb489",
    "coral": "#ff7f50",
    "turquoise": "#0d9488",
    "magenta": "#c026d3",
    "crimson": "#dc143c",
    "burgundy": "#800020",
    "charcoal": "#36454f",
    "lime": "#65a30d",
    "peach": "#ffdab9",
    "khaki": "#c3b091",
    "tan": "#d2b48c",
    "snow": "#fffafa",
    "wheat": "#f5deb3",
    "azure": "#f0ffff",
    "aliceblue": "#f0f8ff",
    "honeydew": "#f0fff0",
    "mintcream": "#f5fffa",
    "seashell": "#fff5ee",
    "forest green": "#228b22",
    "dark green": "#166534",
    "dark blue": "#1e3a8a",
    "light blue": "#bfdbfe",
    "light gray": "#e5e7eb",
    "light grey": "#e5e7eb",
    "dark gray": "#374151",
    "dark grey": "#374151",
    "royal blue": "#4169e1",
    "sky blue": "#87ceeb",
    "steel blue": "#4682b4",
    "hot pink": "#ff69b4",
    # French, Spanish, German
    "blanc": "#ffffff",
    "noir": "#111827",
    "bleu marine": "#000080",
    "bordeaux": "#800000",
    "rouge": "#dc2626",
    "vert": "#16a34a",
    "bleu": "#2563eb",
    "lin": "#faf0e6",
    "blanco": "#ffffff",
    "negro": "#111827",
    "azul marino": "#000080",
    "granate": "#800000",
    "rojo": "#dc2626",
    "verde": "#16a34a",
    "azul": "#2563eb",
    "weiß": "#ffffff",
    "weiss": "#ffffff",
    "schwarz": "#111827",
    "marineblau": "#000080",
    "weinrot": "#800000",
    "rot": "#dc2626",
    "grün": "#16a34a",
    "blau": "#2563eb",
}
_COLOUR = "|".join(sorted((re.escape(c) for c in COLOURS), key=len, reverse=True))
_BACKGROUND = re.compile(
    rf"\b({_COLOUR})\s+(?:page\s+)?(?:background|backdrop|bg)\b|\b(?:background|backdrop|bg|fond|fondo|hintergrund)"
    rf"(?:\s+colou?r)?\s*(?:is|of|to|in|:|should be|=)?\s*(?:a\s+)?({_COLOUR})\b|\b({_COLOUR})\s+for\s+the\s+background\b"
)
_ACCENT = re.compile(
    rf"\b({_COLOUR})\s+(?:components?|buttons?|accents?|accent colou?r|headers?|highlights?|links?|theme|elements?)\b"
    rf"|\b(?:components?|buttons?|accent|accents|theme|primary|boutons?|composants?|botones|componentes|"
    rf"knöpfe|schaltflächen|akzentfarbe)(?:\s+colou?rs?)?\s*(?:is|are|to|in|en|:|should be|=)?\s*"
    rf"(?:a\s+)?({_COLOUR})\b|\b(?:colou?rs?|accent)\s+(?:to|of|in|:)?\s*({_COLOUR})\b|\bin\s+({_COLOUR})\s*$"
    rf"|\bin\s+({_COLOUR})[.!]"
)


def colours_in(text: str) -> tuple[str | None, str | None, str]:
    """(accent, background, theme) a prompt or follow-up asks for: "white background, navy components",
    "choose linen for the background; set all component colors to maroon", "dark mode", "accent teal"."""
    background = accent = None
    match = _BACKGROUND.search(text)
    if match:
        background = COLOURS[next(g for g in match.groups() if g)]
        text = text[: match.start()] + " " + text[match.end() :]
    match = _ACCENT.search(text)
    if match:
        accent = COLOURS[next(g for g in match.groups() if g)]
    dark = re.search(
        r"\bdark (?:mode|theme|background)\b|\bdark\b(?! (?:blue|green|gray|grey|red))", text
    ) or (background is not None and _luminance(background) < 0.35)
    return accent, background, "dark" if dark else "light"


def strip_colours(text: str) -> str:
    """The prompt without its colour words, so "in green" does not become a field."""
    text = _BACKGROUND.sub(" ", text)
    text = _ACCENT.sub(" ", text)
    text = re.sub(r"\b(?:choose|set|use|make|with)\s+(?:all\s+)?(?=[;,.]|$)", " ", text)
    text = re.sub(r"\b(?:dark|light) (?:mode|theme)\b", " ", text)
    return re.sub(r"(?:\s*[;,]\s*)+(?=[;,.]|$)", "", re.sub(r"[ \t]+", " ", text)).strip(" ,;")


def _luminance(hex_: str) -> float:
    r, g, b = (int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


# --- Scope: what the blueprint cannot write ------------------------------------------------------------

_SCOPE = [
    (
        "game",
        re.compile(
            r"\b(?:2048|tetris|sudoku|minesweeper|tic[- ]?tac[- ]?toe|pong|pac-?man|flappy|snake game|"
            r"wordle|platformer|arcade)\b|\bgame\b.*\b(?:tiles?|levels?|moves?|merg\w*|play\w*|board)\b|"
            r"\b(?:play|playing)\b.*\bgame\b"
        ),
        "a game scores board with players with a name, and scores with a player, points and a date",
    ),
    (
        "chess",
        re.compile(r"\bchess\b(?!.*\b(?:club|tracker|log|collection|league)\b)"),
        (
            "a chess club with members (name, rating) and games (white player, black player, result (white wins, "
            "black wins, draw), date)"
        ),
    ),
    (
        "poker",
        re.compile(r"\b(?:poker|blackjack|casino|roulette)\b(?!.*\b(?:tracker|log|night)\b)"),
        "a poker night tracker with players with a name, and sessions with a player, a buy-in, cash out and a date",
    ),
    (
        "chat",
        re.compile(
            r"\b(?:chat|messaging|messenger|instant messages?|direct messages?|video call\w*)\b"
            r"(?!.*\b(?:log|tracker)\b)"
        ),
        "a message board with channels (name, description) and messages (channel, author, text, posted at)",
    ),
    (
        "email",
        re.compile(
            r"\bemail (?:platform|client|service|app)\b|\bsend(?:ing)?\b.*\b(?:e-?mails?)\b.*\breceiv"
        ),
        "an email log with contacts (name, email) and emails (recipient, subject, body, sent on)",
    ),
    (
        "simulation",
        re.compile(r"\bsimulat\w*\b"),
        "an experiment log with experiments (name, description) and runs (experiment, parameters, result, date)",
    ),
    (
        "calculator",
        re.compile(r"\b(?:calculator|unit converter|currency converter|converter)\b"),
        "a calculation log: expression, result and date",
    ),
    (
        "timer",
        re.compile(r"\b(?:timer|stopwatch|pomodoro|countdown|alarm clock)\b"),
        "a focus session log: task, minutes, date and completed",
    ),
    (
        "drawing",
        re.compile(
            r"\b(?:drawing|paint|painting|sketch\w*|whiteboard|photo editor|image editor)\b(?: app| tool| program| editor)?"
        ),
        "an artwork catalogue: title, medium, image URL and date",
    ),
    (
        "editor",
        re.compile(r"\b(?:markdown|code|text|rich text|document) editor\b|\blive preview\b"),
        "a notes app: title, body, tags and last edited date",
    ),
    (
        "player",
        re.compile(r"\b(?:music|video|audio|mp3|podcast) player\b|\bstream(?:ing)? (?:music|video)\b"),
        "a playlist manager with playlists with a name, and songs with a title, an artist, a playlist and a length",
    ),
    (
        "weather",
        re.compile(r"\bweather (?:forecast|app)\b|\bforecast for\b|\blive (?:stock|crypto) prices\b"),
        "a weather journal: city, date, temperature and conditions",
    ),
    (
        "map",
        re.compile(r"\b(?:map|navigation|gps|route planner|directions)\b"),
        "a list of places to visit: name, address, category and visited",
    ),
    (
        "quiz",
        re.compile(r"\bquiz (?:app|game)\b|\btake (?:a )?quiz\w*\b|\bflash ?cards? (?:game|app)\b"),
        "a quiz bank with quizzes with a title, and questions with a quiz, a question, an answer and options",
    ),
]
_SCOPE.append(
    (
        "website",
        re.compile(
            r"\b(?:landing page|portfolio(?: website| site)?|personal website|homepage|(?:company|business|"
            r"marketing|restaurant) (?:website|site)|one-page site)\b"
        ),
        (
            "a portfolio with works with a title, an image URL, a description and a date, and messages with a "
            "name, an email and a message"
        ),
    )
)
# Tools that are not data apps: only when the prompt is not already about keeping records of them.
_TOOL_SCOPES = {"calculator", "timer", "drawing", "editor", "player", "weather", "map", "quiz", "website"}
_RECORD_WORDS = re.compile(
    r"\b(?:track|log (?:my|each|every|all|the)|record|records|tracker|catalog\w*|collection|list of|keep a list|"
    r"manage|manager|inventory|journal|diary|history|database)\b"
)


def _scope(text: str) -> tuple[str, str] | None:
    """(kind, the data part of the idea as a prompt) for a prompt that is not a data app."""
    for kind, pattern, data_prompt in _SCOPE:
        if pattern.search(text) and not (kind in _TOOL_SCOPES and _RECORD_WORDS.search(text)):
            return kind, data_prompt
    return None


# --- Several things ----------------------------------------------------------------------------------

# A noun that starts an entity's clause: "books with", "guests (", "Products:", "each order has".
_CLAUSE = re.compile(
    r"(?P<noun>[^\W\d_][\w'-]*(?: [^\W\d_][\w'-]*)?)(?:,? (?:which|that|who))?\s*"
    r"(?P<kw>\((?=[^)]*[,/])|:(?!\s*$)|—|–| - |\b(?:is for|are for|with|having|has|have|contain|contains|link|links|linking|"
    r"connect|connects|connecting|record|records|store|stores|hold|holds|between)\b)"
)
# Words that may come before a clause's noun ("and loans with", "we organise races with").
_LEADS = {
    "and",
    "with",
    "plus",
    "also",
    "then",
    "we",
    "i",
    "have",
    "has",
    "need",
    "want",
    "organise",
    "organize",
    "log",
    "track",
    "manage",
    "keep",
    "a",
    "an",
    "the",
    "my",
    "our",
    "some",
    "each",
    "every",
    "their",
    "its",
    "all",
    "through",
    "for",
    "of",
    "in",
    "on",
    "at",
    "by",
    "to",
}
_NOT_ENTITIES = {
    "fields",
    "field",
    "columns",
    "properties",
    "attributes",
    "features",
    "functionalities",
    "functions",
    "requirements",
    "options",
    "things",
    "items",
    "details",
    "info",
    "information",
    "data",
    "people",
    "users",
    "user",
    "it",
    "they",
    "each",
    "one",
    "ones",
    "this",
    "that",
    "app",
    "everything",
    "something",
    "list",
    "lists",
    "we",
    "i",
    "you",
}


def _entity_noun(words: list[str], lang: str, *, strict: bool) -> tuple[list[str], str] | None:
    """(singular noun words, plural as written) if words name a thing, else None."""
    words = [
        w
        for w in words
        if w not in vocab.FILLER
        and w not in _LEADS
        and w not in _FOREIGN_FILLER
        and (w not in vocab.VERBS or w in ENTITY_DEFAULTS)
    ]
    if not words or words[-1] in _NOT_ENTITIES:
        return None
    last = words[-1]
    foreign = languages.singularise(last, lang)
    single = foreign if foreign is not None else singularise(last)
    if last in vocab.APP_SUFFIXES and (single == last and len(words) > 1 or single not in ENTITY_DEFAULTS):
        return None  # "a recipe book with ...": the app, not a thing in it
    known = single in ENTITY_DEFAULTS
    plural = single != last
    if (
        lang == "en"
        and single in _FIELD_ONLY_WORDS
        and not (known and (plural or single not in _HELPERS | {"score"}))
    ):
        return None  # "a rating (low, high)" is a field; "scores with a player" and "a recipe has" are things
    if strict and not (known or plural or lang != "en"):
        return None
    if len(words) > 1 and (
        words[-2] in _KNOWN_WORDS
        or words[-2] in vocab.APP_SUFFIXES
        or known
        and f"{words[-2]} {single}" not in ENTITY_DEFAULTS
    ):
        words = words[-1:]
    words = words[-2:]
    return words[:-1] + [single], " ".join(words)


_FIELD_ONLY_WORDS = (
    vocab.DATE_WORDS
    | vocab.DATETIME_WORDS
    | vocab.BOOLEAN_WORDS
    | vocab.TEXT_WORDS
    | {
        "status",
        "priority",
        "name",
        "title",
        "type",
        "level",
        "stage",
        "rating",
        "score",
        "time",
        "date",
        "price",
        "cost",
        "amount",
        "quantity",
        "value",
    }
) - {"comment", "review", "message"}
_FOREIGN_FILLER = {"de", "d", "del", "des", "du", "von", "vom", "of"}


@dataclass
class _Clause:
    noun: list[str]
    many: str
    text: str
    start: int
    fields_at: int = 0
    sentence: bool = False  # starts a sentence (or a line): "Each product has a supplier."
    each: bool = False  # "each X has ...", "every X has ..."


def _find_clauses(flat: str, lang: str) -> list[_Clause]:
    found: list[_Clause] = []
    for match in _CLAUSE.finditer(flat):
        words = _words(match["noun"])
        before = flat[: match.start("noun")].rstrip()
        leading = []
        while words and (words[0] in _LEADS or words[0] in vocab.FILLER) and len(words) > 1:
            leading.append(words.pop(0))
        prev_word = re.findall(r"[^\W_]+$", before)
        led = bool(leading) or not before or before[-1] in ",;:.!?(" or (prev_word and prev_word[0] in _LEADS)
        if not led:
            continue
        each = bool(set(leading) & {"each", "every"} or re.search(r"\b(?:each|every)$", before))
        noun = _entity_noun(words, lang, strict=not each)
        if noun is None:
            continue
        sentence = (not before or before[-1] in ".;!?") and not set(leading) & {"and", "with", "plus"}
        each = bool(set(leading) & {"each", "every"} or re.search(r"\b(?:each|every)$", before))
        found.append(_Clause(noun[0], noun[1], "", match.start("noun"), match.end(), sentence, each))
    return found


def _clauses(text: str, lang: str) -> list[_Clause]:
    """The entity clauses of a prompt, in order; a thing mentioned again later adds to its own clause."""
    flat = re.sub(r"\s*\n\s*", " ; ", text.strip())
    found = _find_clauses(flat, lang)
    clauses: list[_Clause] = []
    for i, clause in enumerate(found):
        end = found[i + 1].start if i + 1 < len(found) else len(flat)
        body = flat[clause.fields_at : end].strip()
        if flat[clause.fields_at - 1 : clause.fields_at] == "(":
            body = _inside_parentheses(
                body
            )  # "members (name, phone) and loans": the parentheses hold its fields
        # The clause's own field text ends at the next clause's "and" / "," lead-in.
        body = re.sub(
            r"(?:[,;]|\band\b|\s)*(?:\b(?:and|also|then|plus|a|an|the|my|our|some|each|every|we|i|"
            r"have|organi[sz]e)\b[\s,]*)*$",
            "",
            body,
        )
        if not re.search(r"[^\W_]", body):
            continue  # "clinic appointments: patients with ...": the app's name, not a clause
        same = next((c for c in clauses if c.noun == clause.noun), None)
        if same is not None:
            if clause.sentence:
                same.text += ", " + body
            elif clauses:
                clauses[-1].text += " " + flat[clause.start : end]
            continue
        clause.text = body
        clauses.append(clause)
    return clauses


def _inside_parentheses(text: str) -> str:
    """text up to the ")" that closes the "(" before it (nested ones included)."""
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return text[:i]
            depth -= 1
    return text


def _each_clause(text: str, lang: str) -> EntityPlan | None:
    """ "... each entry has the person's name, the week ..." : the one thing, read from its clause."""
    clauses = _clauses(text, lang)
    if len(clauses) == 1 and (clauses[0].each or clauses[0].sentence or lang != "en"):
        # "... each entry has ...", "A simple todo app. Tasks have a title ...", "Bibliothèque : des livres avec ..."
        entities = [_entity(clauses[0].noun, clauses[0].many, clauses[0].text, lang)]
        kind = next((k for k in vocab.KINDS if k["entity"] == entities[0].name), None)
        for extra in (kind or {}).get("always", []):
            if entities[0].field(extra) is None:
                entities[0].fields.append(_field(_Phrase(extra.split()), entities[0].name))
        _link(entities, text, lang)
        return entities[0]
    return None


def _plan_several(text: str, lang: str) -> list[EntityPlan] | None:
    """The entities of a prompt that names several things, linked; None when it names one."""
    clauses = _clauses(text, lang)
    if len(clauses) >= 2:
        entities = []
        for clause in clauses[:MAX_ENTITIES]:
            entities.append(_entity(clause.noun, clause.many, clause.text, lang))
    else:
        named = _named_things(text, lang)
        if clauses:  # "a wedding planner with guests and vendors, guests with name and rsvp status"
            listed = _listed_pair(text, lang)
            named = [(clauses[0].noun, clauses[0].many)] + [
                pair for pair in named + listed if pair[0] != clauses[0].noun
            ]
            named = list({tuple(noun): (noun, many) for noun, many in named}.values())
            named.sort(key=lambda pair: _first_mention(text, pair))
        if len(named) < 2:
            return None
        bodies = {tuple(c.noun): c.text for c in clauses}  # a thing's own clause gives its fields
        entities = [
            _entity(noun, many, bodies.get(tuple(noun)) or _fields_text_for(text, many, noun), lang)
            for noun, many in named[:MAX_ENTITIES]
        ]
        target = max(entities, key=lambda e: len(ENTITY_DEFAULTS.get(e.noun, ((), ()))[1]))
        for extra in _stray_fields(text, [target], lang):
            if not target.field(extra.name) and len(target.fields) < MAX_FIELDS:
                target.fields.append(extra)
    _link(entities, text, lang)
    _add_titles(entities, lang)
    return entities


def _first_mention(text: str, pair: tuple[list[str], str]) -> int:
    found = [
        m.start()
        for word in (pair[1], " ".join(pair[0]))
        for m in [re.search(rf"\b{re.escape(word)}", text)]
        if m
    ]
    return min(found, default=len(text))


def _listed_pair(text: str, lang: str) -> list[tuple[list[str], str]]:
    """Known things named side by side in the plural ("guests and vendors", "books, members")."""
    if lang != "en":
        return []
    out = []
    for match in re.finditer(r"\b([a-z]+s)(?:,\s*|\s+and\s+|\s*&\s*)([a-z]+s)\b", text):
        for word in match.groups():
            single = singularise(word)
            if single != word and single in ENTITY_DEFAULTS and ([single], word) not in out:
                out.append(([single], word))
    return out if len(out) >= 2 else []


def _entity(noun: list[str], many: str, fields_text: str, lang: str) -> EntityPlan:
    noun_text = " ".join(noun)
    name = _pascal(noun) or "Item"
    default_fields, _ = ENTITY_DEFAULTS.get(noun_text, ENTITY_DEFAULTS.get(noun[-1], ((), ())))
    # Later sentences add fields only where they say so ("It would be great to add notes too").
    sentences = re.split(r"(?<=[^\W_)])[.!?](?:\s+|$)", fields_text)
    fields_text = ", ".join(
        p
        for p in [sentences[0]] + [_split_at_marker(x, _LATER_MARKERS)[1] for x in sentences[1:]]
        if p.strip()
    )
    text = re.sub(
        r"\bbelong(?:s|ing)? to\b|\bis linked to\b|\bfor (?:a|an|one|each) (?=\w)", ", ", fields_text
    )
    text = re.sub(r"\b(?:with|linking|between|link|links)\b", ",", text)
    entity_words = {noun_text, many, noun[-1]}
    phrases = _phrases(text, entity_words) if text.strip() else []
    phrases = _distribute_dates(phrases)
    fields = _dedupe([_field(p, name, lang) for p in phrases])
    if not fields and lang == "en":
        fields = _dedupe([_field(p, name) for p in _phrases(", ".join(default_fields), set())])
    return EntityPlan(name=name, noun=noun_text, many=many, fields=fields[:MAX_FIELDS])


def _title_name(noun: str, lang: str) -> str:
    titled = noun.split()[-1] in vocab.TITLED_NOUNS or noun in {
        "deal",
        "assignment",
        "job",
        "project",
        "talk",
        "article",
        "song",
        "course",
        "lesson",
    }
    if lang == "fr":
        return "titre" if titled else "nom"
    return {"es": "nombre", "de": "name"}.get(lang, "title" if titled else "name")


def _add_titles(entities: list[EntityPlan], lang: str) -> None:
    """A required title first; a link record with nothing to name it by (a loan, a grade) is shown by
    its links instead."""
    for e in entities:
        named = any(f.type == "string" and not f.format for f in e.fields)
        usual = ENTITY_DEFAULTS.get(e.noun, ((), ()))[0]
        titled = bool(usual) and usual[0] in ("title", "name")  # a deal has a title even when not said
        if not named and not titled and any(f.type == "reference" for f in e.fields):
            refs = [f for f in e.fields if f.type == "reference"]
            e.fields = refs + [f for f in e.fields if f.type != "reference"]
            continue
        e.fields = _with_title(e.fields, _title_name(e.noun, lang))[:MAX_FIELDS]


def _distribute_dates(phrases: list[_Phrase]) -> list[_Phrase]:
    """ "check-in and check-out dates": both are dates, named without the word "dates"."""
    out = list(phrases)
    for i, phrase in enumerate(out):
        if len(phrase.words) >= 2 and phrase.words[-1] in {"dates", "times"}:
            kind = "date" if phrase.words[-1] == "dates" else "time"  # read back as a type (_DATE_UNITS)
            out[i] = _Phrase(phrase.words[:-1], None, kind)
            if i > 0 and len(out[i - 1].words) <= 2 and not out[i - 1].unit:
                out[i - 1] = _Phrase(out[i - 1].words, None, kind)
    return out


_GERUNDS = {
    "commenting": ("comment", "comments"),
    "categorizing": ("category", "categories"),
    "categorising": ("category", "categories"),
    "tagging": ("tag", "tags"),
    "reviewing": ("review", "reviews"),
    "rating": ("rating", "ratings"),
    "booking": ("booking", "bookings"),
    "apply": ("application", "applications"),
    "applying": ("application", "applications"),
    "messaging": ("message", "messages"),
    "voting": ("vote", "votes"),
    "borrowing": ("loan", "loans"),
    "lending": ("loan", "loans"),
    "enrolling": ("enrollment", "enrollments"),
}


_ACTION_WORDS = {
    "apply",
    "applies",
    "post",
    "posts",
    "posting",
    "register",
    "registers",
    "sell",
    "sells",
    "assign",
    "assigns",
    "publish",
    "publishes",
    "comment",
    "comments",
    "review",
    "reviews",
    "book",
    "invite",
}


def _scan_text(text: str) -> str:
    """The parts of a prompt that may name things: a list after "with" or ":" only when every item is a
    thing ("with companies, contacts and deals") or something done ("commenting on recipes"); a list
    of fields ("dish name, ingredients, steps") is left out."""

    def is_thing(item: str) -> bool:
        words = _words(item)
        return (
            0 < len(words) <= 2
            and singularise(words[-1]) in ENTITY_DEFAULTS
            and singularise(words[-1]) != words[-1]
        )

    def is_action(item: str) -> bool:
        return any(
            w.endswith("ing") and len(w) > 5 or w in vocab.VERBS or w in _ACTION_WORDS for w in _words(item)
        )

    parts = []
    for sentence in re.split(r"[.;!?\n]", text):
        marker = re.search(r":|\bwith\b|\bincluding\b", sentence)
        if not marker:
            parts.append(sentence)
            continue
        items = [i.strip() for i in re.split(r",|\band\b", sentence[marker.end() :]) if i.strip()]
        if items and all(is_thing(i) or is_action(i) for i in items):
            parts.append(sentence)
        else:
            parts.append(sentence[: marker.start()] + " , " + " , ".join(i for i in items if is_action(i)))
    return " . ".join(parts)


def _named_things(text: str, lang: str) -> list[tuple[list[str], str]]:
    """Known things a prompt names in the plural ("companies, contacts and deals") or by what people do
    with them ("commenting and categorizing"), in order of mention."""
    if lang != "en":
        return []
    found: list[tuple[int, list[str], str]] = []
    words = _words(_scan_text(text))
    for i, word in enumerate(words):
        pair = f"{words[i - 1]} {word}" if i else word
        if word in _GERUNDS and (
            word != "rating"
            or (
                i + 1 < len(words)
                and words[i + 1] not in {"of", "1", "from"}
                and singularise(words[i + 1]) in ENTITY_DEFAULTS
            )
        ):
            noun, many = _GERUNDS[word]
            found.append((i, [noun], many))
            continue
        single = singularise(word)
        if single == word or single not in ENTITY_DEFAULTS:
            continue
        if pair in _SYNONYM_PAIRS:
            single = _SYNONYM_PAIRS[pair]
        elif i and f"{words[i - 1]} {single}" in _SYNONYM_PAIRS:
            single = _SYNONYM_PAIRS[f"{words[i - 1]} {single}"]
        if i + 1 < len(words) and words[i + 1] in {"status", "name", "title", "date", "count"}:
            continue  # "task status" is a field
        if i and words[i - 1] in {"with", "including"} and found:
            continue  # "posting recipes with ingredients and steps": the recipe's fields
        if "by" in words[max(0, i - 3) : i] and found:
            continue  # "books written by my favourite authors": who made them, not a thing of their own
        found.append((i, [single], pluralise(single)))
    seen, out = set(), []
    for _, noun, many in sorted(found, key=lambda item: item[0]):
        if noun[-1] not in seen:
            seen.add(noun[-1])
            out.append((noun, many))
    return out[:MAX_ENTITIES]


_SYNONYM_PAIRS = {
    "job listing": "job",
    "job listings": "job",
    "team member": "member",
    "team members": "member",
    "blog post": "article",
    "blog posts": "article",
}


def _fields_text_for(text: str, many: str, noun: list[str]) -> str:
    """The fields a prompt gives a thing it names in passing: "create events with a date and venue"."""
    for word in {many, " ".join(noun), *[k for k, v in _SYNONYM_PAIRS.items() if v == noun[-1]]}:
        match = re.search(
            rf"\b{re.escape(word)}\s+(?:with|having|including)\s+(.+?)(?:[.;!?]|,\s*(?:and\s+)?\w+ing\b|$)",
            text,
        )
        if match:
            return match.group(1)
    return ""


_STRAY = re.compile(
    r"\b(?:setting|tracking|adding|recording)\s+(?:the\s+|a\s+)?([a-z]+(?: (?!and\b)[a-z]+)?)\b"
)


def _stray_fields(text: str, entities: list[EntityPlan], lang: str) -> list[FieldPlan]:
    """Fields a feature list names without a thing ("setting deadlines and tracking task status")."""
    out = []
    for match in _STRAY.finditer(text):
        words = [singularise(w) for w in match.group(1).split() if w not in {"task", "their"}]
        if (
            words
            and words[-1] in _KNOWN_WORDS
            and not any(e.noun == words[-1] for e in entities)
            and not any(e.field(_snake(words)) for e in entities)
        ):
            out.append(_field(_Phrase(words), entities[0].name, lang))
    return out


def _link(entities: list[EntityPlan], text: str, lang: str) -> None:
    """Fields that name another entity become references to it; known pairs are linked when missing."""
    by_noun: dict[str, EntityPlan] = {}
    for e in entities:
        for word in {e.noun, e.many, e.noun.split()[-1], languages.ascii_fold(e.noun), e.name.lower()}:
            by_noun[word] = e
    for e in entities:
        for i, f in enumerate(e.fields):
            words = f.name.split("_")
            key = " ".join(words)
            target = by_noun.get(key) or by_noun.get(f.label.lower()) or by_noun.get(singularise(key))
            if target is None or target is e or f.type not in ("string", "text", "integer", "number"):
                continue
            e.fields[i] = _reference(_snake([target.noun]) if lang == "en" else f.name, target, None, e)
    for child in entities:
        _, parents = ENTITY_DEFAULTS.get(child.noun, ((), ()))
        for parent_noun in parents:
            parent = by_noun.get(parent_noun)
            if parent is None and parent_noun == "*":
                parent = next((p for p in entities if p is not child and p.noun not in _HELPERS), None)
            if parent is None or parent is child or any(f.ref == parent.name for f in child.fields):
                continue
            if any(f.ref == child.name for f in parent.fields):
                continue  # already linked the other way
            if len(child.fields) < MAX_FIELDS:
                child.fields.append(_reference(_snake([parent.noun]), parent, None, child))
    for e in entities:  # a link record with no name of its own is titled by its first link
        e.fields = _dedupe(e.fields)


_HELPERS = {"comment", "rating", "review", "category", "tag", "vote"}
# A record that only means something with its parent goes with it; anything else stops the delete.
_CASCADE = {
    "comment",
    "rating",
    "review",
    "grade",
    "ingredient",
    "setlist entry",
    "lesson",
    "vote",
    "score",
    "message",
    "run",
    "session",
    "registration",
    "ticket",
    "booking",
    "loan",
    "donation",
    "vet visit",
    "application",
    "appointment",
    "task",
    "emprunt",
}


def _reference(name: str, target: EntityPlan, label: str | None, owner: EntityPlan) -> FieldPlan:
    return FieldPlan(
        name=name or _snake([target.noun]),
        type="reference",
        label=label or _label(target.noun),
        ref=target.name,
        on_delete="cascade" if owner.noun in _CASCADE else "refuse",
    )


def _app_name_for(text: str, entities: list[EntityPlan]) -> str:
    head = re.split(r"[:.\n]|\bwith\b|\(", text, maxsplit=1)[0]
    words = [
        w
        for w in _words(head)
        if w not in vocab.FILLER
        and w not in vocab.VERBS
        and w
        not in {
            "i",
            "we",
            "app",
            "application",
            "help",
            "me",
            "build",
            "create",
            "make",
            "want",
            "need",
            "to",
            "for",
            "our",
            "my",
            "a",
            "an",
            "the",
            "and",
            "their",
            "its",
            "de",
            "la",
        }
    ]
    if words and len(words) <= 4:
        return " ".join(words)
    return " & ".join(e.many for e in entities[:3])


# Things people ask for by name, with their usual fields and the things they belong to ("*": the app's
# main thing). Used when a prompt names a thing without its fields, and to link known pairs.
ENTITY_DEFAULTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "book": (("title", "author", "year"), ("author",)),
    "author": (("name", "country"), ()),
    "member": (("name", "email"), ()),
    "loan": (("due date", "returned"), ("book", "member")),
    "company": (("name", "industry", "website"), ()),
    "contact": (("name", "email", "phone"), ("company",)),
    "deal": (("title", "value", "stage (lead, qualified, won, lost)"), ("company",)),
    "student": (("name", "email"), ()),
    "assignment": (("title", "due date", "max points"), ("course",)),
    "grade": (("score",), ("student", "assignment")),
    "teacher": (("name", "email"), ()),
    "course": (("title", "start date"), ()),
    "lesson": (("title", "date", "notes"), ("course", "student")),
    "article": (("title", "body", "published"), ("category",)),
    "post": (("title", "body", "published"), ("category",)),
    "comment": (("author", "text"), ("*",)),
    "category": (("name",), ()),
    "tag": (("name",), ()),
    "review": (("reviewer", "rating 1-5", "text"), ("*",)),
    "rating": (("stars 1-5",), ("*",)),
    "customer": (("name", "email", "phone"), ()),
    "client": (("name", "email", "phone"), ()),
    "product": (("name", "price", "stock"), ("supplier",)),
    "supplier": (("name", "email", "phone"), ()),
    "order": (("order date", "total", "status"), ("customer",)),
    "invoice": (("number", "date", "total", "paid"), ("customer", "client")),
    "project": (("name", "deadline", "status"), ("client",)),
    "task": (("title", "due date", "status", "done"), ("project", "member")),
    "employee": (("name", "email", "role"), ("department",)),
    "department": (("name",), ()),
    "team": (("name", "city"), ()),
    "player": (("name",), ("team",)),
    "match": (("date", "venue", "result"), ()),
    "patient": (("name", "date of birth", "phone"), ()),
    "doctor": (("name", "specialty"), ()),
    "appointment": (("date_and_time", "reason"), ("patient", "doctor")),
    "room": (("number", "type (single, double, suite)", "nightly rate"), ()),
    "guest": (("name", "phone"), ()),
    "booking": (("check in date", "check out date"), ("guest", "room")),
    "event": (("title", "date", "venue"), ()),
    "attendee": (("name", "email"), ()),
    "registration": (("registered on",), ("event", "attendee", "member")),
    "ticket": (("price", "paid"), ("event", "attendee")),
    "job": (("title", "salary", "location"), ("company",)),
    "candidate": (("name", "email"), ()),
    "application": (("applied on", "status"), ("job", "candidate")),
    "recipe": (("name", "ingredients", "instructions"), ()),
    "ingredient": (("name", "quantity", "unit"), ("recipe",)),
    "song": (("title", "artist"), ()),
    "gig": (("venue", "date", "fee"), ()),
    "vendor": (("name", "service", "cost"), ()),
    "donor": (("name", "email"), ()),
    "donation": (("amount", "date"), ("donor",)),
    "pet": (("name", "species"), ()),
    "vet visit": (("date", "reason", "cost"), ("pet",)),
    "speaker": (("name", "bio"), ()),
    "talk": (("title", "start time"), ("speaker",)),
    "score": (("points", "date"), ("player",)),
    "channel": (("name", "description"), ()),
    "message": (("author", "text", "posted at"), ("channel",)),
    "experiment": (("name", "description"), ()),
    "run": (("parameters", "result", "date"), ("experiment",)),
    "session": (("buy-in", "cash out", "date"), ("player",)),
    "game": (("white player", "black player", "result", "date"), ()),
    "email": (("subject", "body", "sent on"), ("contact",)),
    "setlist entry": (("position",), ("gig", "song")),
    "enrollment": (("enrolled on",), ("student", "course")),
    "calculation": (("expression", "result", "date"), ()),
    "artwork": (("title", "medium", "image url", "date"), ()),
    "playlist": (("name",), ()),
    "observation": (("city", "date", "temperature", "conditions"), ()),
    "place": (("name", "address", "visited"), ()),
    "quiz": (("title",), ()),
    "question": (("question", "answer", "options"), ("quiz",)),
    "vote": (("value",), ("*",)),
}


# --- app.json / the writer's spec -> plan (follow-ups) --------------------------------------------------


def plan_to_spec(plan: AppPlan) -> dict:
    """Everything a follow-up needs to redo the app: written into src/App.jsx as JSON."""
    return {
        "name": plan.name,
        "lang": plan.lang,
        "entities": [
            {
                "name": e.name,
                "one": e.noun,
                "many": e.many,
                "fields": [_field_spec(f) for f in e.fields],
                "sort": list(e.sort) if e.sort else None,
                "filters": e.filters,
                "group": e.group,
                "stats": e.stats,
                "rollups": e.rollups,
                "highlights": e.highlights,
                "chart": e.chart,
            }
            for e in plan.entities
        ],
    }


def _field_spec(f: FieldPlan) -> dict:
    spec = {"name": f.name, "label": f.label, "type": f.type}
    for key in ("required", "values", "unit", "input", "format", "currency", "ref", "on_delete"):
        value = getattr(f, key)
        if value:
            spec[key] = value
    if f.default is not None:
        spec["default"] = f.default
    if f.format == "rating":
        spec["min"], spec["max"] = 1, 5
    elif f.format == "percent":
        spec["min"], spec["max"] = 0, 100
    elif f.type in ("integer", "number"):
        spec["min"] = 0
    return spec


def plan_from_spec(spec: dict) -> AppPlan | None:
    """The plan a spec written by plan_to_spec describes; None if it is not one."""
    try:
        entities = []
        for e in spec["entities"]:
            fields = [
                FieldPlan(
                    name=f["name"],
                    type=f["type"],
                    label=f["label"],
                    required=bool(f.get("required")),
                    values=f.get("values"),
                    default=f.get("default"),
                    unit=f.get("unit"),
                    input=f.get("input"),
                    format=f.get("format"),
                    currency=f.get("currency"),
                    ref=f.get("ref"),
                    on_delete=f.get("on_delete"),
                )
                for f in e["fields"]
            ]
            entities.append(
                EntityPlan(
                    name=e["name"],
                    noun=e["one"],
                    many=e["many"],
                    fields=fields,
                    sort=tuple(e["sort"]) if e.get("sort") else None,
                    filters=list(e.get("filters") or []),
                    group=e.get("group"),
                    stats=list(e.get("stats") or []),
                    rollups=list(e.get("rollups") or []),
                    highlights=list(e.get("highlights") or []),
                    chart=e.get("chart"),
                )
            )
        if not entities or not all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", e.name) and e.fields for e in entities):
            return None
        return AppPlan(name=str(spec["name"]), entities=entities, lang=spec.get("lang") or "en")
    except (KeyError, TypeError, AttributeError):
        return None


def plan_from_app_json(data: dict) -> AppPlan | None:
    """The plan behind an app.json alone (an app another model or a hand edit wrote); None if it is
    not one the writer can rework."""
    try:
        entities = []
        for entity, spec in data["entities"].items():
            fields = []
            for name, f in spec["fields"].items():
                fields.append(
                    FieldPlan(
                        name=name,
                        type=f.get("type", "string"),
                        label=_label(name),
                        required=bool(f.get("required")),
                        values=f.get("values"),
                        default=f.get("default"),
                        format=f.get("format"),
                        currency=f.get("currency"),
                        ref=f.get("entity"),
                        on_delete=f.get("on_delete"),
                    )
                )
            if not fields or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", entity):
                return None
            title = next((f for f in fields if f.required and f.type == "string"), None)
            if title is not None:
                fields.remove(title)
                fields.insert(0, title)
            elif not any(f.type == "reference" for f in fields):
                fields = _with_title(fields, "name")
            noun = _noun_from_entity(entity)
            entities.append(EntityPlan(name=entity, noun=noun, many=pluralise(noun), fields=fields))
    except (KeyError, TypeError, AttributeError):
        return None
    if not entities:
        return None
    return AppPlan(name=str(data.get("name") or "My app"), entities=entities)


def describe_type(f: FieldPlan) -> str:
    if f.type == "enum":
        return ", ".join(f.values[:-1]) + " or " + f.values[-1]
    if f.type == "reference":
        return f"a link to {f.ref}"
    words = {
        "string": "text",
        "text": "long text",
        "number": "number",
        "integer": "whole number",
        "boolean": "yes/no",
        "date": "date",
        "datetime": "date and time",
        "email": "email",
        "phone": "phone number",
        "url": "web address",
        "image": "image URL",
        "money": f"money in {f.currency}",
        "percent": "percentage",
        "rating": "1–5 stars",
        "duration": "duration",
    }
    unit = f" in {f.unit}" if f.unit else ""
    return words.get(f.format or f.type, f.type) + unit


def describe_fields(entity: EntityPlan, lang: str = "en") -> str:
    parts = []
    for f in entity.fields:
        req = ", required" if f.required and lang == "en" else ""
        label = f.label.split(" (")[0]
        parts.append(
            f"{label.lower() if lang == 'en' else label} ({describe_type(f)}{req})" if lang == "en" else label
        )
    if len(parts) == 1:
        return parts[0]
    joiner = {"en": " and ", "fr": " et ", "es": " y ", "de": " und "}[lang]
    return ", ".join(parts[:-1]) + joiner + parts[-1]
