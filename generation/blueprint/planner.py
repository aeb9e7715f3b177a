"""Plans an app from a prompt: the thing it keeps (one entity), that thing's typed fields, a name.

The planner reads English the way a person skims it, with word lists (vocabulary.py) and a few
patterns, no model:

1. Split the prompt at the words that introduce fields ("with", "including", "fields:", ...): the part
   before names the app, the parts after list the fields.
2. The thing: a known app kind named before "with" ("recipe book" -> Recipe), else the noun before an
   app word ("a plant watering *tracker*" -> Plant), else the noun after "track/manage/log my ...",
   else the last noun of the sentence.
3. Fields: each comma/"and"-separated phrase, cleaned of verbs and filler, typed by its words
   ("due date" -> date, "price" -> number, "reps" -> integer, "paid" -> boolean, "notes" -> text,
   "priority" -> enum low/medium/high, "status (open, closed)" -> enum with those values).
4. A title field always comes first and is required ("title", "name", or the kind's own: a workout's
   "exercise", an expense's "description"). When the prompt lists no fields, the kind's defaults.

`apply_change` does the same for a follow-up ("add a due date", "rename tasks to chores", "dark mode").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from generation.blueprint import vocabulary as vocab

MAX_FIELDS = 10
RESERVED_FIELDS = {"id", "created_at", "updated_at"}


@dataclass
class FieldPlan:
    name: str
    type: str  # string, text, number, integer, boolean, date, datetime, enum
    label: str
    required: bool = False
    values: list[str] | None = None
    default: object = None
    unit: str | None = None
    input: str | None = None  # HTML input type for a string field (email, tel, url, time)

    def to_json(self) -> dict:
        spec: dict = {"type": self.type}
        if self.required:
            spec["required"] = True
        if self.values:
            spec["values"] = list(self.values)
        if self.default is not None:
            spec["default"] = self.default
        return spec


@dataclass
class AppPlan:
    name: str
    entity: str  # PascalCase
    noun: str  # lower-case singular, as a person says it ("coffee tasting")
    fields: list[FieldPlan]
    theme: str = "light"
    accent: str | None = None  # an explicit colour the user asked for; else the seed picks
    sort: tuple[str, str] | None = None  # (field, "asc"|"desc") the user asked for

    @property
    def plural(self) -> str:
        return pluralise(self.noun)

    @property
    def title_field(self) -> FieldPlan:
        return self.fields[0]

    def field(self, name: str) -> FieldPlan | None:
        return next((f for f in self.fields if f.name == name), None)

    def app_json(self) -> dict:
        return {
            "name": self.name,
            "entities": {self.entity: {"fields": {f.name: f.to_json() for f in self.fields}}},
        }


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
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", text.lower())


def _ascii_words(words: list[str]) -> list[str]:
    out = []
    for w in words:
        w = re.sub(r"[^a-z0-9]", "", w.replace("'s", ""))
        if w:
            out.append(w)
    return out


def _pascal(words: list[str]) -> str:
    return "".join(w[:1].upper() + w[1:] for w in _ascii_words(words))


def _snake(words: list[str]) -> str:
    name = "_".join(_ascii_words(words))
    if name and name[0].isdigit():
        name = "n_" + name
    return name[:40]


def _label(name: str, unit: str | None = None) -> str:
    text = name.replace("_", " ").strip()
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def _is_noun(word: str) -> bool:
    return (
        word not in vocab.FILLER
        and word not in vocab.VERBS
        and word not in vocab.APP_SUFFIXES
        and not word.isdigit()
        and len(word) > 1
    )


# --- Prompt -> plan ----------------------------------------------------------------------------------

_MARKERS = re.compile(
    "|".join(
        vocab.ATTRIBUTE_MARKERS
        + [r"\b(?:should|must|will) (?:have|include|store|show|contain|record|track)\b", r":"]
    )
)
# After the first sentence, "I need their name, email..." lists fields too.
_LATER_MARKERS = re.compile(
    _MARKERS.pattern + r"|\b(?:i|we|it|they|each \w+) (?:need|want|should|must|will|would like)"
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


def plan_app(prompt: str) -> AppPlan:
    """The app a person most likely means by `prompt`."""
    text = _normalise(prompt)
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
    if kind is None:
        noun_words, app_name = _generic_noun(head)
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
    fields = _dedupe([_field(p, kind_entity) for p in phrases])
    if not fields:
        defaults = kind["defaults"] if kind else ["notes"]
        fields = _dedupe([_field(_Phrase(d.split()), kind_entity) for d in defaults])
    for extra in (kind or {}).get("always", []):
        if not any(f.name == extra for f in fields):
            fields.append(_field(_Phrase(extra.split()), kind_entity))
    if _TICK_WORDS.search(text) and not any(f.type == "boolean" for f in fields):
        fields.append(FieldPlan("done", "boolean", "Done", default=False))

    fields = _with_title(fields, title_name)
    return AppPlan(name=_sentence_case(app_name), entity=entity, noun=noun, fields=fields[:MAX_FIELDS])


def _normalise(prompt: str) -> str:
    text = prompt.lower().replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[`*_#>]", " ", text)
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


def _noun_phrase(words: list[str]) -> list[str]:
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
    return run[:-1] + [singularise(run[-1])]


def _generic_noun(head: str) -> tuple[list[str] | None, str | None]:
    words = _words(head)
    # "a plant watering tracker": the words before the first app word.
    for i, word in enumerate(words):
        if word in vocab.APP_SUFFIXES and i > 0:
            before = [w for w in words[:i] if w not in vocab.VERBS or w in {"log", "plan"}]
            noun = _noun_phrase(before)
            if noun:
                raw = [w for w in before if _is_noun(w)][-3:]
                suffix = "" if word in _GENERIC_APP_WORDS else f" {word}"
                return noun, " ".join(raw) + suffix
            break
    # "an app to track my daily runs"
    match = _ACTION.search(" ".join(words))
    if match:
        noun = _noun_phrase(_words(match.group(2)))
        if noun:
            verb = match.group(1).split()[0] if not match.group(1).startswith("keep") else "track"
            return noun, f"{' '.join(noun)} {_ACTION_APP.get(verb, 'tracker')}"
    noun = _noun_phrase(words)
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

    def lift_parens(match: re.Match) -> str:
        key = f" zzv{len(values) + len(units)} "
        inner = [v.strip() for v in re.split(r",|/|\bor\b|\||;", match.group(1)) if v.strip()]
        inner = [re.sub(r"^(?:and|e\.g\.|eg|like|such as|either|in)\s+", "", v) for v in inner]
        if len(inner) >= 2:
            values[key.strip()] = inner
        elif len(inner) == 1 and len(inner[0].split()) <= 2:
            units[key.strip()] = inner[0]
        return key

    def lift_slashes(match: re.Match) -> str:
        key = f"zzv{len(values) + len(units)}"
        values[key] = [v.strip() for v in match.group(2).split("/")]
        return f"{match.group(1)} {key}"

    text = _VALUES_IN_PARENS.sub(lift_parens, text)
    text = _SLASH_VALUES.sub(lift_slashes, text)
    text = re.split(r"(?<=[a-z0-9)])[.!?](?:\s|$)", text)[0]
    out = []
    for part in re.split(r",|;|\band\b|&|\bplus\b|\bas well as\b|/", text):
        words = _words(part)
        phrase = _Phrase([])
        for word in words:
            if word in values:
                phrase.values = values[word]
            elif word in units:
                phrase.unit = units[word]
            else:
                phrase.words.append(word)
        cleaned = _clean_phrase(phrase.words)
        if (
            not cleaned
            or " ".join(cleaned) in entity_words
            or cleaned[-1] in entity_words
            and len(cleaned) == 1
        ):
            continue
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


def _clean_phrase(words: list[str]) -> list[str]:
    boolean = any(w in {"checkbox", "tickbox", "toggle", "switch"} for w in words) and len(words) > 1
    words = [w for w in words if w not in _UI_WORDS and not re.fullmatch(r"[\d'-]+", w)]
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


def _field(phrase: _Phrase, entity: str) -> FieldPlan:
    words = list(phrase.words)
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
    plan = FieldPlan(
        name=name,
        type=type_,
        label=_label(name, unit),
        unit=unit,
        input=extra.get("input"),
        values=clean_values,
    )
    if type_ == "boolean":
        plan.default = False
    elif type_ == "enum":
        plan.default = clean_values[0]
    return plan


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
            f.type == "string" and (f.name in vocab.TITLE_NAMES or f.name.endswith(("_name", "_title")))
        ):
            title = replace(
                f, type="string", required=True, values=None, default=None, unit=None, label=_label(f.name)
            )
            return [title] + fields[:i] + fields[i + 1 :]
    return [FieldPlan(title_name, "string", _label(title_name), required=True)] + fields


# --- app.json -> plan (follow-ups) -------------------------------------------------------------------


def plan_from_app_json(data: dict) -> AppPlan | None:
    """The plan behind an app written earlier, or None if app.json is not one the writer can rework."""
    try:
        entity, spec = next(iter(data["entities"].items()))
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
                )
            )
    except (KeyError, TypeError, AttributeError, StopIteration):
        return None
    if not fields or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", entity):
        return None
    title = next((f for f in fields if f.required and f.type == "string"), None)
    if title is not None:
        fields.remove(title)
        fields.insert(0, title)
    else:
        fields = _with_title(fields, "name")
    return AppPlan(
        name=str(data.get("name") or "My app"), entity=entity, noun=_noun_from_entity(entity), fields=fields
    )


# --- Follow-ups --------------------------------------------------------------------------------------

_DARK = re.compile(r"\bdark\b")
_LIGHT = re.compile(r"\blight (?:mode|theme)\b|\bno (?:longer )?dark\b")
_RENAME_ENTITY = re.compile(
    r"\b(?:rename|call)\s+(?:the\s+|all\s+|my\s+)?([a-z][a-z ]*?)\s+(?:to|as|into)\s+\"?([a-z][a-z ]*?)\"?(?:[.,!]|$| instead)"
)
_CALL_THEM = re.compile(r"\bcall (?:them|it|each one|each)\s+\"?([a-z][a-z ]*?)\"?(?:[.,!]|$| instead)")
_RENAME_APP = re.compile(
    r"\b(?:rename|call|name|title)\s+(?:the |my )?(?:app|application|page|site)\s+(?:to |as )?\"?([^\".!]+?)\"?(?:[.!]|$)"
)
_REMOVE = re.compile(
    r"\b(?:remove|delete|drop|hide|get rid of|take out|no longer need|don't need|do not need)\s+(?:the\s+)?(.+?)(?:\s+(?:field|column|input|box))?(?:[.,!]|$| and )"
)
_ADD = re.compile(
    r"\b(?:add|include|also track|also record|also store|track|record|store|need|want|with|plus)\s+(.+)"
)
_SORT = re.compile(
    r"\bsort(?:ed)?\s+(?:them\s+|it\s+|the list\s+|items\s+)?(?:by|on)\s+(?:the\s+)?([a-z][a-z ]*?)(?:\s+(asc\w*|desc\w*|newest|oldest|first|highest|lowest))?(?:[.,!]|$| and )"
)
_REQUIRE = re.compile(r"\bmake\s+(?:the\s+)?([a-z][a-z ]*?)\s+(?:field\s+)?(required|mandatory|optional)")


# Enums whose values go from least to most: sorting by one puts the most (high, critical) first.
_RANKED_ENUMS = {"priority", "severity", "importance", "urgency", "impact"}


def apply_change(plan: AppPlan, request: str) -> tuple[AppPlan, list[str]]:
    """Apply the changes a follow-up asks for. Returns the new plan and what changed, in words; no
    words means the request was not understood and the plan is unchanged."""
    text = _normalise(request)
    plan = replace(plan, fields=[replace(f) for f in plan.fields])
    changes: list[str] = []

    if _DARK.search(text) and not _LIGHT.search(text):
        if plan.theme != "dark":
            plan.theme = "dark"
            changes.append("switched to a dark theme")
        text = re.sub(r"\b(?:add |use |make it |switch to |with )?(?:a )?dark (?:mode|theme)\b", " ", text)
    elif _LIGHT.search(text):
        if plan.theme != "light":
            plan.theme = "light"
            changes.append("switched back to a light theme")
        text = _LIGHT.sub(" ", text)

    for colour, hex_ in vocab.ACCENTS.items():
        if re.search(rf"\b{colour}\b", text) and re.search(
            r"\b(?:colou?r|accent|theme|buttons?|make it|use)\b", text
        ):
            plan.accent = hex_
            changes.append(f"made the accent colour {colour}")
            text = re.sub(rf"\b(?:make it |use |change the )?(?:accent |colou?r )?{colour}\b", " ", text)
            break

    app_match = _RENAME_APP.search(text)
    if app_match:
        plan.name = _sentence_case(app_match.group(1))
        changes.append(f'renamed the app to "{plan.name}"')
        text = text[: app_match.start()] + text[app_match.end() :]

    rename = _RENAME_ENTITY.search(text)
    new_noun = None
    if rename and set(_words(rename.group(1))) & {
        plan.noun,
        plan.plural,
        plan.entity.lower(),
        *plan.noun.split(),
        *plan.plural.split(),
        "them",
        "items",
        "entries",
        "records",
    }:
        new_noun = rename.group(2)
        text = text[: rename.start()] + text[rename.end() :]
    elif call := _CALL_THEM.search(text):
        new_noun = call.group(1)
        text = text[: call.start()] + text[call.end() :]
    if new_noun:
        words = [
            singularise(w) if i == len(_words(new_noun)) - 1 else w for i, w in enumerate(_words(new_noun))
        ]
        entity = _pascal(words[-2:])
        if entity and entity != plan.entity:
            old_noun, old_plural = plan.noun, plan.plural
            plan.entity, plan.noun = entity, " ".join(words[-2:])
            plan.name = re.sub(
                rf"\b{re.escape(old_plural)}\b",
                plan.plural,
                re.sub(rf"\b{re.escape(old_noun)}\b", plan.noun, plan.name, flags=re.IGNORECASE),
                flags=re.IGNORECASE,
            )
            plan.name = _sentence_case(plan.name)
            changes.append(f"renamed the {old_noun} entity to {entity}")

    for match in _REQUIRE.finditer(text):
        target = _match_field(plan, match.group(1))
        if target and target is not plan.title_field:
            target.required = match.group(2) != "optional"
            changes.append(f"made {target.label.lower()} {'required' if target.required else 'optional'}")
    text = _REQUIRE.sub(" ", text)

    for match in _REMOVE.finditer(text):
        for part in re.split(r",|\band\b", match.group(1)):
            target = _match_field(plan, part)
            if target is None:
                continue
            if target is plan.title_field:
                changes.append(f"kept {target.label.lower()}: every {plan.noun} needs a title")
                continue
            plan.fields.remove(target)
            changes.append(f"removed the {target.label.lower()} field")
    text = _REMOVE.sub(" ", text)

    sort = _SORT.search(text)
    if sort:
        phrase = sort.group(1)
        target = _match_field(plan, phrase)
        if target is None and not re.search(r"\b(?:newest|oldest|created|added|date added)\b", phrase):
            # "sort by priority" in an app without one: add the field the words name, then sort by it.
            words = [w for w in _words(phrase) if w not in vocab.FILLER]
            candidate = _field(_Phrase(words), plan.entity) if words else None
            if candidate and candidate.type != "string" and len(plan.fields) < MAX_FIELDS:
                plan.fields.append(candidate)
                target = candidate
                changes.append(f"added {candidate.label.lower()} ({_describe_type(candidate)})")
        key = (
            target.name
            if target
            else ("created_at" if re.search(r"\b(?:newest|oldest|created|added)\b", phrase) else None)
        )
        if key:
            direction_word = (sort.group(2) or "") + " " + phrase
            ranked = target is not None and (
                target.type == "enum" and target.name in _RANKED_ENUMS or target.name == "rating"
            )
            if re.search(r"desc|newest|highest|latest|most", direction_word):
                direction = "desc"
            elif re.search(r"asc|oldest|lowest|least", direction_word):
                direction = "asc"
            else:
                direction = "desc" if ranked else "asc"
            plan.sort = (key, direction)
            order = ""
            if key == "created_at":
                key, order = "date added", " (newest first)" if direction == "desc" else " (oldest first)"
            elif target is not None and target.type == "enum":
                order = f" ({(target.values[-1] if direction == 'desc' else target.values[0])} first)"
            changes.append(f"sorted the list by {key.replace('_', ' ')}{order}")
        text = text[: sort.start()] + text[sort.end() :]

    add = _ADD.search(text)
    if add:
        entity_words = {plan.noun, plan.plural, *plan.noun.split(), "them", "it", "each"}
        for phrase in _phrases(add.group(1), entity_words):
            words = [w for w in phrase.words if w not in {"field", "fields", "column", "option", "for", "to"}]
            if not words:
                continue
            phrase.words = words
            new = _field(phrase, plan.entity)
            if plan.field(new.name) or len(plan.fields) >= MAX_FIELDS:
                continue
            plan.fields.append(new)
            changes.append(f"added {new.label.lower()} ({_describe_type(new)})")
    return plan, changes


def _match_field(plan: AppPlan, text: str) -> FieldPlan | None:
    words = [w for w in _words(text) if w not in vocab.FILLER and w not in {"field", "fields", "column"}]
    if not words:
        return None
    snake = _snake(words)
    for f in plan.fields:
        if (
            f.name == snake
            or f.name == _snake([singularise(w) for w in words])
            or f.label.lower() == " ".join(words)
        ):
            return f
    phrase = " ".join(words)
    if phrase in vocab.PHRASES:
        return plan.field(vocab.PHRASES[phrase][0])
    return None


def _describe_type(f: FieldPlan) -> str:
    if f.type == "enum":
        return ", ".join(f.values[:-1]) + " or " + f.values[-1]
    words = {
        "string": "text",
        "text": "long text",
        "number": "number",
        "integer": "whole number",
        "boolean": "yes/no",
        "date": "date",
        "datetime": "date and time",
    }
    unit = f" in {f.unit}" if f.unit else ""
    return words.get(f.type, f.type) + unit


def describe_fields(plan: AppPlan) -> str:
    parts = []
    for f in plan.fields:
        req = ", required" if f.required else ""
        parts.append(f"{f.label.split(' (')[0].lower()} ({_describe_type(f)}{req})")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
