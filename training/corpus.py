"""The synthetic corpus Kiln's own base model learns from, and the held-out prompts it is measured on.

Prompts are generated: a noun (a real one, or an invented word from a seeded syllable generator), a
wording ("track my zorblats", "an app for zorblats with a, b and c", "each zorblat has ..."), fields
from a varied pool; some items are follow-ups on an app made that way ("add a colour field"). Over a
thousand distinct nouns, many never seen in any text, make copying the noun from the prompt the only way
to fit the data: a model that memorises nouns gets the held-out prompts wrong (their nouns never appear
in training; the split of the noun list is fixed, whatever the seed).

Each item's messages are exactly what Kiln sends a spec-mode model (generation.prompts.spec_messages),
and its target is the offline blueprint model's answer to exactly those messages: whole for
target="full", cut to the explanation and the app.json block for target="spec". An item is kept only
when the blueprint read the noun as the app's entity (its app.json names it as the item says): the
corpus never teaches an answer that misses the point of its prompt.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache

from generation import protocol
from generation.blueprint import planner, responder
from generation.prompts import REQUEST_HEADING, spec_messages

TARGETS = ("spec", "full")
REQUEST_MARK = REQUEST_HEADING  # in a follow-up's last message, above the request
HELD_OUT_EVERY = 5  # every fifth noun of the fixed list is held out
INVENTED_NOUNS = 2400
NOUN_LIST_SEED = 13

REAL_NOUNS = """
album animal apartment appointment aquarium artwork bakery balloon band bicycle bird blanket boat book
bottle bracelet bridge brush bucket building cabin cake camera candle canoe car card carpet castle cat
chair cheese chocolate city client cloud coat coffee coin comic computer concert cookie costume cottage
course cow crystal cup customer dancer dentist desk dessert diamond dinosaur doctor dog doll donation
door dragon drawing dress drink drum egg engine envelope event exercise fabric farm fern festival film
fish flag flower football fossil fountain fruit game garden gem gift glass glove goal guitar hammer hat
helmet herb hike horse hotel invoice island jacket jar jewel journey kettle key kite knife ladder lake
lamp lantern lecture lesson letter library lizard loan lock machine magazine map marble market meal
medal melody meeting mirror mountain movie mug museum mushroom necklace needle newspaper notebook orchid
oven painting palace pancake parcel park passport pattern pebble pen pencil pepper perfume pet phone
photo piano picture pie pillow plane planet plant plate player poem pony postcard pot potion puppet
puzzle quilt rabbit recipe record ring river robot rock rocket rose sandwich satellite scarf school
sculpture seed shell ship shirt shoe shop shrub singer skateboard sketch sock song spice sport stamp
star statue stone story student sweater table tea teacher telescope tent ticket tool tower toy tractor
train tree trip trophy truck trumpet tulip umbrella vase vehicle video villa vinyl violin volcano wagon
wallet watch whale wine workshop yacht
""".split()

ONSETS = ["b", "bl", "br", "d", "dr", "f", "fl", "fr", "g", "gl", "gr", "j", "k", "kl", "kr", "l", "m", "n",
          "p", "pl", "pr", "qu", "r", "sk", "sl", "sn", "sp", "st", "t", "tr", "v", "w", "z", "zh", "th"]
VOWELS = ["a", "e", "i", "o", "u", "oo", "ee", "ai", "ou"]
CODAS = ["", "", "b", "d", "g", "k", "l", "m", "n", "p", "r", "t", "nt", "rk", "lt", "mp", "ng", "nd", "rb"]

# Field phrases people write; the blueprint decides names and types (the app.json keys are the truth).
FIELDS = """
colour|weight|price|notes|purchase date|rating|status|owner|location|quantity|due date|priority|category|
size|email|phone number|website|description|start time|duration|cost|age|height|brand|serial number|
comments|length|width|origin|supplier|date added|expiry date|score|level|photo url|nickname|birthday|
address|material|season|genre|author|year|value|deadline|temperature|speed|distance|calories|volume|
favourite|condition|shelf|room|contact name|budget|amount|reference number|difficulty|mood|label
""".replace("\n", "").split("|")

# How people ask for a first app. {many}: the plural, {one}: the singular, {fields}: "a, b and c".
WORDINGS = [
    "Track my {many}",
    "Track my {many} with {fields}",
    "An app for {many} with {fields}",
    "an app to keep track of {many}",
    "I want to keep a list of {many}. Each {one} has {fields}.",
    "Make me a {one} tracker with {fields}",
    "Build an app to manage {many}: {fields}",
    "A simple app to log {many} with {fields}",
    "Keep track of {many}; each one has {fields}",
    "Create a {one} list with {fields}",
    "I collect {many}. Help me keep track of them with {fields}.",
    "{Many} app with {fields}",
    "A {one} log",
    "Help me organise my {many}",
    "Each {one} has {fields}",
    "Manage {many} with {fields}",
]
# Follow-ups that change app.json (a spec-mode model only writes app.json). {field}: a new field phrase,
# {old}: a field the app has.
FOLLOW_UPS = [
    "add a {field} field",
    "Add {field}",
    "also track the {field}",
    "add {field} to each {one}",
    "remove the {old} field",
    "make {old} required",
]


@dataclass(frozen=True)
class PromptItem:
    prompt: str  # what a user types
    entity: str  # expected main entity name as app.json spells it ("Zorblat")
    fields: tuple[str, ...]  # expected field names (app.json keys)
    noun: str  # the noun used (held-out nouns never appear in training)
    messages: tuple[dict, ...]  # exactly the chat messages Kiln sends for this prompt (spec_messages)


def _invented_word(rng: random.Random) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(rng.choice([2, 2, 3])))


def _usable(word: str) -> bool:
    return 4 <= len(word) <= 12 and planner.singularise(planner.pluralise(word)) == word


@lru_cache(maxsize=1)
def noun_split() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training nouns, held-out nouns): a fixed list of real and invented nouns, every HELD_OUT_EVERY-th
    one held out. Fixed whatever the seed, so no seed lets a held-out noun into training."""
    rng = random.Random(NOUN_LIST_SEED)
    invented: list[str] = []
    seen = set(REAL_NOUNS)
    while len(invented) < INVENTED_NOUNS:
        word = _invented_word(rng)
        if word in seen or not _usable(word):
            continue
        seen.add(word)
        invented.append(word)
    nouns = list(REAL_NOUNS) + invented
    random.Random(NOUN_LIST_SEED + 1).shuffle(nouns)
    held = tuple(n for i, n in enumerate(nouns) if i % HELD_OUT_EVERY == 0)
    train = tuple(n for i, n in enumerate(nouns) if i % HELD_OUT_EVERY != 0)
    return train, held


def entity_name(noun: str) -> str:
    return noun[:1].upper() + noun[1:]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _first_prompt(rng: random.Random, noun: str) -> str:
    many = planner.pluralise(noun)
    fields = rng.sample(FIELDS, rng.randint(1, 4))
    wording = rng.choice(WORDINGS)
    return wording.format(many=many, Many=many[:1].upper() + many[1:], one=noun, fields=_join(fields))


def _answer_app_json(answer: str, base: dict[str, str]) -> tuple[str, dict] | None:
    """The explanation before the answer's first block and the app.json the answer leaves, or None when
    the answer does not parse cleanly or leaves no valid app.json."""
    parsed = protocol.parse(answer, "stop", base_files=base)
    if parsed.has_fatal:
        return None
    files = parsed.result_files()
    try:
        data = json.loads(files.get("app.json", ""))
    except ValueError:
        return None
    intro = answer.split("<file ", 1)[0].split("<edit ", 1)[0].strip()
    return intro, data


def _item(prompt: str, noun: str, messages: list[dict], app_json: dict) -> PromptItem | None:
    """The item, when the blueprint made the noun the app's only entity."""
    entities = app_json.get("entities") or {}
    expected = entity_name(noun)
    if list(entities) != [expected]:
        return None
    fields = tuple(entities[expected].get("fields") or {})
    return PromptItem(prompt=prompt, entity=expected, fields=fields, noun=noun, messages=tuple(messages))


def _make(rng: random.Random, nouns: tuple[str, ...], follow_up_share: float) -> PromptItem | None:
    noun = rng.choice(nouns)
    prompt = _first_prompt(rng, noun)
    messages = spec_messages(prompt)
    first = _answer_app_json(responder.respond(messages, seed=0), {})
    if first is None:
        return None
    item = _item(prompt, noun, messages, first[1])
    if item is None or rng.random() >= follow_up_share:
        return item
    # A follow-up on the app just made: its current app.json and the request.
    app_json = json.dumps(first[1], indent=2, ensure_ascii=False)
    old = rng.choice([f for f in item.fields if f != "name"] or ["name"])
    request = rng.choice(FOLLOW_UPS).format(field=rng.choice(FIELDS), old=old.replace("_", " "), one=noun)
    messages = spec_messages(request, app_json=app_json)
    after = _answer_app_json(responder.respond(messages, seed=0), {"app.json": app_json})
    if after is None or after[1] == first[1]:
        return None  # the blueprint changed nothing in app.json: not a spec-mode follow-up
    return _item(request, noun, messages, after[1])


def _items(n: int, nouns: tuple[str, ...], seed: int, follow_up_share: float) -> list[PromptItem]:
    rng = random.Random(seed)
    items: list[PromptItem] = []
    attempts = 0
    while len(items) < n:
        attempts += 1
        if attempts > 3 * n + 100:
            raise RuntimeError(f"the blueprint read {len(items)} of {attempts} generated prompts as meant")
        item = _make(rng, nouns, follow_up_share)
        if item is not None:
            items.append(item)
    return items


def fresh_nouns(n: int, *, seed: int = 0, stream: str = "fresh") -> tuple[str, ...]:
    """`n` more invented nouns from the same generator, none of them in the fixed list (so never a held-out
    one): nouns seen about once, which a model can only get right by copying them from the prompt.
    `stream` names an independent sequence: the bootstrap's explanation rows use "fresh", GRPO's training
    prompts "grpo", so a round's prompts are new to the model it trains."""
    rng = random.Random(f"{stream}-{seed}")
    taken = set(noun_split()[0]) | set(noun_split()[1])
    nouns: list[str] = []
    while len(nouns) < n:
        word = _invented_word(rng)
        if word not in taken and _usable(word):
            taken.add(word)
            nouns.append(word)
    return tuple(nouns)


def training_items(n: int, *, seed: int = 0, follow_up_share: float = 0.15,
                   nouns: tuple[str, ...] | None = None) -> list[PromptItem]:
    """`n` training prompts (some follow-ups), with training nouns only (or `nouns`, never held-out ones)."""
    nouns = nouns or noun_split()[0]
    if set(nouns) & set(noun_split()[1]):
        raise ValueError("held-out nouns never appear in training")
    return _items(n, nouns, seed, follow_up_share)


def held_out_items(n: int, *, seed: int = 0) -> list[PromptItem]:
    """`n` first-turn prompts whose nouns never appear in training_items (whatever either seed)."""
    return _items(n, noun_split()[1], seed + 1_000_003, 0.0)


def target_text(item: PromptItem, *, target: str = "spec") -> str:
    """The offline blueprint model's answer to the item's messages: whole ("full"), or its explanation
    and the app.json it leaves, written whole ("spec": what a spec-mode model answers)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}")
    messages = list(item.messages)
    answer = responder.respond(messages, seed=0)
    if target == "full":
        return answer
    base = _current_files(messages)
    intro, data = _answer_app_json(answer, base)
    return spec_answer(intro, data)


def spec_answer(intro: str, app_json: dict) -> str:
    """A spec-mode answer in Kiln's output protocol: the explanation, then app.json whole."""
    body = json.dumps(app_json, indent=2, ensure_ascii=False)
    return f'{intro}\n\n<file path="app.json">\n{body}\n</file>\n'


def _current_files(messages: list[dict]) -> dict[str, str]:
    last = responder.message_text(messages[-1])
    return protocol.parse(last).files if 'path="app.json"' in last else {}
