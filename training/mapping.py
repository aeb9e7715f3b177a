"""How what happened on the platform becomes training rows: the one table and the one function.

A *signal* is one thing a user or the scorer said about one or more completions: a preference pair
(its source says where the ordering came from), a verdict (Feedback), or an automatic negative (a
defect found in the output, a failed build, a broken preview). `MAPPING` says what rows each signal
becomes; `rows_for` builds them. docs/datasets.md shows the same table, rendered by
`mapping_table_markdown` (a test keeps the two equal).

This module touches no database: selectors.py reads the signals, snapshot.py writes the rows.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import xxhash

from generation.prompts import REQUEST_HEADING

# Row kinds. PREFERENCE rows go to both the dpo and the reward files (TRL's DPOTrainer and
# RewardTrainer read the same prompt / chosen / rejected form).
PREFERENCE = "preference"
KTO = "kto"
SFT = "sft"

# What a signal yields.
CHOSEN_OVER_REJECTED = "chosen > rejected"
DESIRABLE = "true"  # KTO label true, one row per judged completion
UNDESIRABLE = "false"  # KTO label false, one row per judged completion
DEMONSTRATION = "chosen"  # SFT messages: the prompt and the (chosen or judged) completion

PAIR, VERDICT, AUTOMATIC = "pair", "verdict", "automatic"

# Whose judgement a row is (the `voter` column).
USER, STAFF, KILN = "user", "staff", "kiln"

# Automatic negatives, in the order used to name the row's source when a completion has several.
DEFECT_KINDS = ("protocol", "cut_off", "lazy_placeholder", "code_in_chat", "no_files")
FAILED_BUILD = "failed_build"
BROKEN_PREVIEW = "broken_preview"
AUTOMATIC_REASONS = (*DEFECT_KINDS, FAILED_BUILD, BROKEN_PREVIEW)


@dataclass(frozen=True)
class Yield:
    kind: str  # PREFERENCE, KTO or SFT
    what: str  # CHOSEN_OVER_REJECTED, DESIRABLE, UNDESIRABLE or DEMONSTRATION


@dataclass(frozen=True)
class Rule:
    yields: tuple[Yield, ...]
    why: str  # shown in the docs and the dataset card


_DPO = Yield(PREFERENCE, CHOSEN_OVER_REJECTED)
_SFT = Yield(SFT, DEMONSTRATION)
_KTO_TRUE = Yield(KTO, DESIRABLE)
_KTO_FALSE = Yield(KTO, UNDESIRABLE)

# (signal kind, name) -> rows. Pairs carry every ordering; verdicts that also recorded a pair (pick,
# restore, edit) yield nothing themselves, so one vote is never counted twice.
MAPPING: dict[tuple[str, str], Rule] = {
    (PAIR, "pick"): Rule((_DPO,), "an explicit pick of one of two candidates shown side by side"),
    (PAIR, "regenerate"): Rule((_DPO,), "the user accepted a regenerated candidate over an earlier one"),
    (PAIR, "accept_vs_reject"): Rule((_DPO,), "one candidate accepted, the other rejected"),
    (PAIR, "repair"): Rule((_DPO, _SFT), "a repair that fixed a failed build: fixed > broken, and the fix"),
    (PAIR, "restore"): Rule((_DPO,), "the user restored an older version: restored > replaced"),
    (PAIR, "edit"): Rule((_DPO, _SFT), "the user edited by hand: edited > model's, and the edited version"),
    (PAIR, "synthetic"): Rule((_DPO,), "an ordering made by a script, not a user"),
    (VERDICT, "accept"): Rule((_KTO_TRUE, _SFT), "an accepted answer"),
    (VERDICT, "reject"): Rule((_KTO_FALSE,), "a rejected answer"),
    (VERDICT, "both_bad"): Rule((_KTO_FALSE,), "both candidates bad: one negative per candidate of the turn"),
    (VERDICT, "tie"): Rule((), "a tie says nothing about which is better"),
    (VERDICT, "pick"): Rule((), "its pair (source pick) carries the ordering"),
    (VERDICT, "restore"): Rule((), "its pair (source restore) carries the ordering"),
    (VERDICT, "edit"): Rule((), "its pair (source edit) carries the ordering and the edited version"),
    (AUTOMATIC, "protocol"): Rule((_KTO_FALSE,), "the output broke the file protocol"),
    (AUTOMATIC, "cut_off"): Rule((_KTO_FALSE,), "cut off by the length limit"),
    (AUTOMATIC, "lazy_placeholder"): Rule((_KTO_FALSE,), "a placeholder (\"rest unchanged\") written into a file"),
    (AUTOMATIC, "code_in_chat"): Rule((_KTO_FALSE,), "code in the chat instead of files"),
    (AUTOMATIC, "no_files"): Rule((_KTO_FALSE,), "no files written"),
    (AUTOMATIC, FAILED_BUILD): Rule((_KTO_FALSE,), "the app failed to bundle (esbuild rejected it)"),
    (AUTOMATIC, BROKEN_PREVIEW): Rule((_KTO_FALSE,), "the smoke test failed: blank page, errors, missing elements"),
}

# Review statuses of a row. Pairs have one; a verdict takes it from the pairs it recorded (see
# selectors.verdict_review_status); automatic negatives are judged by the scorer, not by a person.
APPROVED, RELABELLED, PENDING, EXCLUDED, AUTOMATIC_REVIEW = "approved", "relabelled", "pending", "excluded", "automatic"
# A verdict whose pair a reviewer relabelled: the reviewer reversed the ordering the vote implied. The
# user's vote is still real (kept unless only approved rows are asked for), but nobody vouched for it.
OVERRULED = "overruled"
# An automatic negative a reviewer approved is "approved" (its latest ReviewDecision says so) and is
# kept by --review approved like an approved pair; one they excluded is "excluded"; untouched (or only
# tagged) it stays "automatic".
REVIEW_KEEPS = {
    "approved": {APPROVED, RELABELLED},
    "not-excluded": {APPROVED, RELABELLED, PENDING, OVERRULED, AUTOMATIC_REVIEW},
}

ALL_SOURCES = tuple(dict.fromkeys(name for (_kind, name), rule in MAPPING.items() if rule.yields))


@dataclass(slots=True)
class GenerationFacts:
    """What a row says about one generation behind it (metadata; no text)."""

    id: int
    kind: str
    turn_id: int
    project_id: int
    model_version: str
    prompt_tokens: int | None
    completion_tokens: int | None
    build_passed: bool | None
    smoke_passed: bool | None
    console_errors: int | None
    render_ms: int | None

    def as_row(self) -> dict:
        return {
            "id": self.id,
            "model_version": self.model_version,
            "kind": self.kind,
            "build_passed": self.build_passed,
            "smoke_passed": self.smoke_passed,
            "console_errors": self.console_errors,
            "render_ms": self.render_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def answer_messages(text: str) -> list[dict]:
    """A model's answer as a completion: one assistant message, the form feedback.pairs stores."""
    return [{"role": "assistant", "content": text}]


@dataclass(slots=True)
class Decision:
    """One entry of a reviewer's audit trail (feedback.ReviewDecision) behind a row; the reviewer as an id,
    hashed when the row is written."""

    reviewer_id: int
    action: str
    tags: list[str]
    created_at: datetime
    review_status: str  # the item's status after the decision (not exported: the action says it)


@dataclass(slots=True)
class Completion:
    generation: GenerationFacts
    messages: list[dict]
    encoded: bytes = b""  # orjson of `messages`, made once by rows_for and shared by every row of the signal


@dataclass(slots=True)
class Signal:
    kind: str  # PAIR, VERDICT or AUTOMATIC
    name: str  # the pair's source, the verdict, or the automatic reason
    prompt: list[dict]  # the messages the model answered
    # A pair: [chosen, rejected]. A verdict: the completions it judged. Automatic: the one at fault.
    completions: tuple[Completion, ...]
    review_status: str
    created_at: datetime
    # Whose first request names the split group: the prompt itself, except for a repair generation,
    # whose own request is "fix these errors" — it is grouped with the answer it repaired.
    group_prompt: list[dict] | None = None
    # The reviewers' decisions behind the row, oldest first: the pair's own, a verdict's pairs', or an
    # automatic negative's generation's.
    decisions: list[Decision] = field(default_factory=list)
    # Whose judgement the row is: USER (the project's owner), STAFF (a staff blind vote in the review
    # console, Feedback.from_staff) or KILN (no person: automatic negatives, repairs, scripts).
    voter: str = KILN


@dataclass(slots=True)
class Row:
    kind: str  # PREFERENCE, KTO or SFT
    # Columns of the format (prompt / chosen / ...) then the metadata columns. The message columns are
    # orjson.Fragments (JSON encoded once per signal, copied as they are into every row's line); use
    # plain() for Python values.
    data: dict
    group: str  # normalised-prompt hash: the split unit
    dedup_key: int  # 64-bit hash of (prompt, completion)

    @property
    def source(self) -> str:
        return self.data["source"]

    def line(self) -> bytes:
        """The row as one JSON line (without the newline)."""
        return orjson.dumps(self.data)

    def plain(self) -> dict:
        return orjson.loads(self.line())


def rows_for(signal: Signal, *, ids: IdHasher) -> list[Row]:
    """The rows `signal` becomes, as MAPPING says; an unknown signal is a bug, not something to skip.

    What rows of one signal share is made once here: the prompt and each completion JSON-encoded (rows
    embed those bytes as orjson.Fragments, and the deduplication key hashes them, so a 4 KB prompt is
    not encoded again for every row), each answer's metadata, and the signal's own columns."""
    rule = MAPPING[(signal.kind, signal.name)]
    if not rule.yields:
        return []
    group = prompt_group(signal.group_prompt if signal.group_prompt is not None else signal.prompt)
    prompt = to_json(signal.prompt)
    prompt_column = orjson.Fragment(prompt)
    facts = {}
    for completion in signal.completions:
        completion.encoded = to_json(completion.messages)
        facts[id(completion)] = completion.generation.as_row()
    shared = {
        "source": signal.name,
        "voter": signal.voter,
        "review_status": signal.review_status,
        "review_decisions": [ids.decision_row(d) for d in signal.decisions],
        "prompt_group": group,
        "created_at": signal.created_at.isoformat(),
    }

    def row(kind: str, data: dict, completions: tuple[Completion, ...]) -> Row:
        first = completions[0].generation
        data["generations"] = [facts[id(c)] for c in completions]
        data["turn"] = ids.hash("turn", first.turn_id)
        data["project"] = ids.hash("project", first.project_id)
        data.update(shared)
        return Row(kind, data, group, dedup_key(prompt, *(c.encoded for c in completions)))

    rows = []
    for made in rule.yields:
        if made.what == CHOSEN_OVER_REJECTED:
            chosen, rejected = signal.completions
            rows.append(row(PREFERENCE, {"prompt": prompt_column, "chosen": orjson.Fragment(chosen.encoded),
                                         "rejected": orjson.Fragment(rejected.encoded)}, (chosen, rejected)))
        elif made.kind == KTO:
            for completion in signal.completions:
                rows.append(row(KTO, {"prompt": prompt_column, "completion": orjson.Fragment(completion.encoded),
                                      "label": made.what == DESIRABLE}, (completion,)))
        else:
            completion = signal.completions[0]
            rows.append(row(SFT, {"messages": orjson.Fragment(_concat_lists(prompt, completion.encoded))},
                            (completion,)))
    return rows


def to_json(value) -> bytes:
    """`value` as JSON (orjson), in a bytes object of its own size. orjson 3.12+ returns its output
    buffer as it grew (4 KB at least, then powers of two) without shrinking it: a 1.8 KB prompt held
    16 KB and a 1 KB answer 8 KB, so the rows of one chunk took 33 MB instead of 5 (tracemalloc).
    Joining with b"" copies it into an exact-size object for ~0.03 µs."""
    return b"".join((orjson.dumps(value), b""))


def _concat_lists(left: bytes, right: bytes) -> bytes:
    """Two JSON arrays as one: the bytes orjson writes for [*left, *right]."""
    if left == b"[]" or right == b"[]":
        return right if left == b"[]" else left
    return left[:-1] + b"," + right[1:]


class IdHasher:
    """Turn and project ids as keyed hashes: stable across exports from one installation (keyed by
    its SECRET_KEY), meaningless outside it."""

    def __init__(self, secret: str):
        self._key = hashlib.sha256(secret.encode()).digest()
        # Rows of one turn come together: a small cache saves most hashing, bounded whatever the size.
        self.hash = functools.lru_cache(maxsize=4096)(self._hash)

    def _hash(self, what: str, pk: int) -> str:
        return hashlib.blake2b(f"{what}:{pk}".encode(), key=self._key, digest_size=8).hexdigest()

    def decision_row(self, decision: Decision) -> dict:
        return {"reviewer": self.hash("reviewer", decision.reviewer_id), "action": decision.action,
                "tags": decision.tags, "created_at": decision.created_at.isoformat()}


# --- Deduplication and splits ---------------------------------------------------------------------

def dedup_key(prompt: bytes, *completions: bytes) -> int:
    """A 64-bit hash of the JSON of (prompt, completions...). xxh3, not SHA-256: ten times faster on
    4 KB rows, and nobody forges training rows against the exporter; 64 bits give a chance of one false
    duplicate in ~30 million at a million rows. JSON arrays are self-delimiting, so concatenating them
    is unambiguous."""
    digest = xxhash.xxh3_64(prompt)
    for completion in completions:
        digest.update(completion)
    return digest.intdigest()


_FILES_INTRO = "The app's current files:"
_CONTEXT_NOTE = re.compile(r"^Context note:.*$", re.MULTILINE)


def normalised_prompt(messages: list[dict]) -> str:
    """The conversation's opening request, as the split sees it: the first user message without the
    project's own files (and Kiln's context notes), lower-cased, whitespace collapsed. Every turn of a
    conversation shares it, so a held-out prompt's app never reaches training as a later turn's
    context."""
    first = next((m["content"] for m in messages if m["role"] == "user"), "")
    if first.startswith(_FILES_INTRO) and f"\n{REQUEST_HEADING}\n" in first:
        first = first.rsplit(f"\n{REQUEST_HEADING}\n", 1)[1]
    if "Context note:" in first:
        first = _CONTEXT_NOTE.sub(" ", first)
    return " ".join(first.split()).lower()


def prompt_group(messages: list[dict]) -> str:
    return hashlib.sha256(normalised_prompt(messages).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)  # the rows of one prompt come together
def split_of(group: str, *, seed: int, holdout: float) -> str:
    """"test" for a fraction `holdout` of prompt groups, else "train". A hash of (seed, group), not a
    shuffle: a group keeps its side however much data arrives later, and raising `holdout` only moves
    groups from train to test."""
    point = int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big") / 2**64
    return "test" if point < holdout else "train"


# --- The table, for docs/datasets.md and the dataset card -----------------------------------------

_KIND_LABEL = {PAIR: "pair, source", VERDICT: "verdict", AUTOMATIC: "automatic"}


def mapping_table_markdown() -> str:
    lines = [
        "| signal | DPO / reward | KTO | SFT | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (kind, name), rule in MAPPING.items():
        cells = {PREFERENCE: "—", KTO: "—", SFT: "—"}
        for made in rule.yields:
            if made.kind == PREFERENCE:
                cells[PREFERENCE] = "1 row, chosen > rejected"
            elif made.kind == KTO:
                per = "per candidate" if name == "both_bad" else "1 row"
                cells[KTO] = f"{per}, label {made.what}"
            else:
                cells[SFT] = "1 row, the chosen completion" if kind == PAIR else "1 row, the completion"
        lines.append(f"| {_KIND_LABEL[kind]} `{name}` | {cells[PREFERENCE]} | {cells[KTO]} | {cells[SFT]} | {rule.why} |")
    return "\n".join(lines)
