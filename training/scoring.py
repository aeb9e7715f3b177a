"""Kiln's own automatic scorer, used as the reward of a training round and by evaluation.

It judges an answer with the code that judges a user's generation, not a second copy of it:

- `generation.protocol.parse`: the output protocol, with its defect checks (a file cut off, a lazy
  placeholder, code in the chat, a broken tag). An answer with a fatal issue, one cut off by the length
  limit, or one that wrote no file never becomes a version for a user (`generation.runs` refuses it),
  so it scores 0 whatever else it holds.
- `generation.specs.expand_spec` (spec mode): the full app Kiln renders from the answer's `app.json`,
  exactly as it does for a spec-mode model version's answer.
- `sandbox.builds.check_app`: the checks a build runs before it starts a container (the files the
  runtime needs, an `app.json` it can read).
- with `sandbox=True`, `training.evaluation.build_and_smoke`: the app bundled in the sandbox and
  smoke-tested in Chromium, through the same path a user's build takes (once per distinct app and
  prompt in a process: the same files build the same way, and each build costs about 12 s here).

The reward is a weighted sum of the parts that were measured, divided by the sum of their weights, so
it lies in [0, 1] and an unrun sandbox neither adds nor costs anything:

| part | weight | 1 when |
| --- | --- | --- |
| `valid` | 0.3 | the protocol parsed with no issue and the files (after spec expansion) make an app the sandbox accepts |
| `entity_right` | 0.3 | the answer's main entity (the first in `app.json`) is the one the prompt names |
| `field_f1` | 0.2 | F1 of the main entity's field names against the expected ones (a fraction) |
| `build_passed` | 0.1 | the sandbox bundled the app (only when the sandbox ran) |
| `smoke_passed` | 0.1 | the smoke test passed in Chromium (only when the sandbox ran) |

Without the sandbox: reward = (0.3 valid + 0.3 entity + 0.2 F1) / 0.8. With it: the five parts over 1.0.
Entity and fields are read from the answer's own `app.json` even when the spec is not valid, so a
model that names the right thing in a broken spec still gets some credit to learn from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from generation import protocol
from sandbox.builds import check_app
from sandbox.errors import InvalidApp

WEIGHTS = {"valid": 0.3, "entity_right": 0.3, "field_f1": 0.2, "build_passed": 0.1, "smoke_passed": 0.1}
MODES = ("spec", "full")
SPEC_SEED = 0  # the style seed of the rendered app; the scorer only needs it to be fixed

NOT_KEPT = "Kiln would not keep this answer: {reason}"
NO_FILES = "it wrote no file."
CUT_OFF = "it was cut off by the length limit."
NOT_A_SPEC = "app.json is missing or is not a spec Kiln can render an app from."
NO_APP_JSON = "the answer has no app.json Kiln can read."
UNKNOWN_MODE = "Unknown scoring mode {mode!r}: use one of " + ", ".join(MODES) + "."


@dataclass
class Score:
    valid: bool  # protocol parses with no issue and the files make a valid app (after spec expansion)
    entity_right: bool  # main entity == item.entity
    field_f1: float
    build_passed: bool | None  # None: not run
    smoke_passed: bool | None
    reward: float  # WEIGHTS, in [0, 1]
    kept: bool = True  # False: Kiln would refuse the answer (fatal issue, cut off, no files)
    defects: tuple[str, ...] = ()  # the protocol issue kinds found (generation.protocol), in order
    reason: str = ""  # why it is not valid, for people reading a round's log
    files: dict[str, str] = field(default_factory=dict, repr=False)  # the app the answer makes (expanded)


def score_answer(item, answer: str, *, mode: str = "spec", sandbox: bool = False,
                 finish_reason: str | None = None) -> Score:
    """Score one answer to `item` (a `training.corpus.PromptItem`: `prompt`, `entity`, `fields`).

    `finish_reason` is the model's ("length" when it stopped at its token limit); `sandbox=True` also
    builds and smoke-tests the app. Deterministic for the same arguments (the sandbox aside)."""
    if mode not in MODES:
        raise ValueError(UNKNOWN_MODE.format(mode=mode))
    parsed = protocol.parse(answer, finish_reason)
    defects = tuple(issue.kind for issue in parsed.issues)
    written = parsed.result_files()

    refusal = _refusal(parsed, finish_reason)
    if refusal:
        measured = _sandbox_not_built(sandbox)
        return _score(False, False, 0.0, *measured, kept=False, defects=defects, reason=NOT_KEPT.format(reason=refusal))

    entity_right, f1 = _entity_and_fields(written.get("app.json"), item)
    files, reason = _app_files(written, mode)
    if files is not None and defects:
        reason = parsed.issues[0].message
    valid = files is not None and not defects
    if not sandbox:
        build_passed = smoke_passed = None
    elif files is None:
        build_passed = smoke_passed = False  # the sandbox refuses an invalid app before it builds
    else:
        build_passed, smoke_passed = _build_and_smoke(tuple(sorted(files.items())), item.prompt)
    return _score(valid, entity_right, f1, build_passed, smoke_passed, defects=defects, reason=reason,
                  files=files or {})


def reward(score_parts: dict[str, float | bool | None]) -> float:
    """The weighted mean of the measured parts (None: not measured), in [0, 1]."""
    measured = {name: value for name, value in score_parts.items() if value is not None}
    total = sum(WEIGHTS[name] for name in measured)
    return sum(WEIGHTS[name] * float(value) for name, value in measured.items()) / total


def field_f1(found, expected) -> float:
    """F1 of two sets of field names (1.0 when both are empty)."""
    found, expected = set(found), set(expected)
    if not found and not expected:
        return 1.0
    hits = len(found & expected)
    if not hits:
        return 0.0
    precision, recall = hits / len(found), hits / len(expected)
    return 2 * precision * recall / (precision + recall)


def main_entity(app_json: str | None) -> tuple[str, tuple[str, ...]] | None:
    """The first entity of an app.json text and its field names; None when there is none to read."""
    try:
        data = json.loads(app_json or "")
        name, spec = next(iter(data["entities"].items()))
        return name, tuple(spec["fields"])
    except (ValueError, TypeError, KeyError, AttributeError, StopIteration):
        return None


def _refusal(parsed: protocol.StreamParser, finish_reason: str | None) -> str:
    """Why generation.runs would refuse this answer (its rules, in its order); "" when it keeps it."""
    if finish_reason == "length":
        return CUT_OFF
    if parsed.has_fatal:
        return parsed.fatal_issues[0].message
    if not parsed.changed_paths:
        return NO_FILES
    return ""


def _entity_and_fields(app_json: str | None, item) -> tuple[bool, float]:
    found = main_entity(app_json)
    if found is None:
        return False, 0.0
    name, fields = found
    return name == item.entity, field_f1(fields, item.fields)


def _app_files(written: dict[str, str], mode: str) -> tuple[dict[str, str] | None, str]:
    """The app the answer makes (None when it makes none) and, if none, why."""
    if "app.json" not in written:
        return None, NO_APP_JSON
    files = written
    if mode == "spec":
        from generation.specs import expand_spec

        files = expand_spec(written, seed=SPEC_SEED)
        if files is None:
            return None, NOT_A_SPEC
    try:
        check_app(files)
    except InvalidApp as error:
        return None, str(error)
    return files, ""


@lru_cache(maxsize=256)
def _build_and_smoke(files: tuple[tuple[str, str], ...], prompt: str) -> tuple[bool, bool]:
    """The sandbox's verdict, once per distinct app: GRPO samples the same spec many times for one
    prompt, Kiln renders the same files from it, and each build and smoke test costs seconds."""
    from training.evaluation import build_and_smoke  # the sandbox path; imported only when used

    return build_and_smoke(dict(files), prompt)


def _sandbox_not_built(sandbox: bool) -> tuple[bool | None, bool | None]:
    return (False, False) if sandbox else (None, None)


def _score(valid, entity_right, f1, build_passed, smoke_passed, **extra) -> Score:
    parts = {"valid": valid, "entity_right": entity_right, "field_f1": f1, "build_passed": build_passed,
             "smoke_passed": smoke_passed}
    return Score(valid=valid, entity_right=entity_right, field_f1=f1, build_passed=build_passed,
                 smoke_passed=smoke_passed, reward=reward(parts), **extra)
