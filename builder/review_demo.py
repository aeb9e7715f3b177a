"""A seeded review database: model versions of known strength, side-by-side turns the users picked
from, ties, automatic negatives with defects and a failed build, builds with logs and screenshots.

Used by the review console's tests and by `manage.py seed_review_demo` (screenshots, trying the
console by hand). Deterministic: the same arguments give the same rows.
"""

from __future__ import annotations

import math
import random
import struct
import zlib
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from builder.models import Project, Turn
from builder.versions import create_version
from feedback.models import Feedback
from feedback.services import record_verdict
from generation.models import Generation, ModelVersion, OutputDefect
from sandbox.models import Build

# Known strengths (Bradley-Terry θ): the seeded picks are drawn from these, so the leaderboard should
# rank the versions in this order.
STRENGTHS = {"kiln-7b-dpo-r2": 0.8, "kiln-7b-dpo-r1": 0.3, "kiln-7b-sft": 0.0, "qwen-7b-base": -0.6}
DAYS = 4  # seeded answers are spread over this many days, today included
PROMPTS = ["a todo list with due dates", "a recipe box with ingredients", "a gym log of sets and reps",
           "a book club with members and meetings", "a plant watering tracker", "an invoice list for clients"]
FAILED_LOG = """> esbuild app/main.jsx --bundle
✘ [ERROR] Expected ")" but found "}"

    app/main.jsx:12:4:
      12 │     }
         ╵     ^
1 error
Build failed with 1 error"""
READY_LOG = "> esbuild app/main.jsx --bundle\n  app.js  12.4kb\n⚡ Done in 21ms\npreview listening on :8080"


def png(width: int, height: int, rgb: tuple[int, int, int], band: tuple[int, int, int]) -> bytes:
    """A small PNG (a header band over a plain page) that stands in for a smoke-test screenshot."""
    rows = b"".join(b"\x00" + bytes(band if y < height // 5 else rgb) * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _files(prompt: str, variant: int, broken: bool = False) -> dict[str, str]:
    title = prompt.capitalize()
    body = "      <ul>{items.map(i => <li key={i.id}>{i.name}</li>)}</ul>\n" if variant % 2 else "      <table/>\n"
    main = (f"import React from 'react';\nexport default function App() {{\n  const items = [];\n  return (\n"
            f"    <main>\n      <h1>{title}</h1>\n{body}    </main>\n  {')' if not broken else '}'};\n}}\n")
    return {"app.json": f'{{"name": "{title}", "entities": ["Item"]}}\n', "app/main.jsx": main}


def _build(version, *, failed: bool, smoke_failed: bool, shot: str, index: int) -> Build:
    if failed:
        return Build.objects.create(app_version=version, status=Build.Status.FAILED, log=FAILED_LOG,
                                    error="app/main.jsx:12:4: Expected \")\" but found \"}\"", failed_step="bundle",
                                    build_passed=False, smoke_status=Build.Smoke.SKIPPED,
                                    scores={"build_passed": False})
    passed = not smoke_failed
    build = Build.objects.create(
        app_version=version, status=Build.Status.READY, log=READY_LOG, build_passed=True, smoke_passed=passed,
        smoke_status=Build.Smoke.PASSED if passed else Build.Smoke.FAILED, screenshot=shot,
        scores={"build_passed": True, "smoke_passed": passed, "console_errors": 0 if passed else 2,
                "blank": not passed, "render_ms": 300 + 37 * index},
    )
    return build


def _screenshot(name: str, colour: tuple[int, int, int]) -> str:
    relative = f"review-demo/{name}.png"
    path = Path(settings.SANDBOX_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(320, 200, (250, 250, 247), colour))
    return relative


@transaction.atomic
def seed(*, turns: int = 6, extra_votes: int = 0, seed: int = 0) -> dict:
    """`turns` side-by-side turns with builds and a user's pick each (the queue), a tie, two automatic
    negatives; then `extra_votes` picks drawn from STRENGTHS (the leaderboard's data)."""
    rng = random.Random(seed)
    users = get_user_model()
    owner, _ = users.objects.get_or_create(username="olivia")
    other, _ = users.objects.get_or_create(username="noah")
    versions = {name: ModelVersion.objects.get_or_create(name=name, defaults={"backend": "openai"})[0]
                for name in STRENGTHS}
    names = list(STRENGTHS)
    project = Project.objects.create(owner=owner, name="Review demo")
    base = create_version(project=project, files=_files("starter", 0), parent=None)
    made = {"pairs": 0, "negatives": 0}
    colours = [(70, 120, 200), (200, 90, 60), (60, 160, 90), (150, 90, 180)]
    for index in range(turns):
        prompt = PROMPTS[index % len(PROMPTS)]
        turn = Turn.objects.create(project=project, prompt=prompt, seed=index, compare=True, base_version=base)
        a, b = names[index % len(names)], names[(index + 1) % len(names)]
        pair_gens = []
        for candidate, name in enumerate((a, b), start=1):
            files = _files(prompt, index + candidate, broken=(index == 2 and candidate == 2))
            version = create_version(project=project, files=files, parent=base)
            generation = Generation.objects.create(
                turn=turn, kind=Generation.Kind.COMPARE, model_version=versions[name], candidate=candidate,
                seed=index * 10 + candidate, status=Generation.Status.DONE, app_version=version,
                request_messages=[{"role": "system", "content": "You are Kiln."},
                                  {"role": "user", "content": f"## Request\n{prompt}"}],
                raw_output="I made your app.\n" + "".join(f'<file path="{p}">{c}</file>\n' for p, c in files.items()),
                prompt_tokens=900 + index, completion_tokens=400 + 13 * index,
                time_to_first_token_ms=200 + index, duration_ms=4000 + 100 * index,
            )
            shot = _screenshot(f"t{index}c{candidate}", colours[(index + candidate) % len(colours)])
            build = _build(version, failed=(index == 2 and candidate == 2), smoke_failed=(index == 4 and candidate == 2),
                           shot=shot, index=index)
            # Spread over the last days, so the dashboard has days to draw.
            when = timezone.now() - timedelta(days=index % DAYS)
            Generation.objects.filter(pk=generation.pk).update(created_at=when)
            Build.objects.filter(pk=build.pk).update(created_at=when)
            pair_gens.append(generation)
        winner = pair_gens[0] if STRENGTHS[a] >= STRENGTHS[b] else pair_gens[1]
        record_verdict(user=owner if index % 2 else other, generation=winner, verdict="accept",
                       reason="looks right" if index % 3 == 0 else "")
        made["pairs"] += 1
    # A tie between the candidates of one more turn.
    turn = Turn.objects.create(project=project, prompt="a habit tracker", seed=99, compare=True, base_version=base)
    tied = [Generation.objects.create(turn=turn, kind=Generation.Kind.COMPARE, model_version=versions[n],
                                      candidate=c, seed=990 + c, status=Generation.Status.DONE,
                                      raw_output="Here it is.", request_messages=[{"role": "user", "content": "x"}])
            for c, n in enumerate(names[:2], start=1)]
    Feedback.objects.create(user=owner, generation=tied[0], verdict=Feedback.Verdict.TIE)
    # Automatic negatives without any vote: a lazy placeholder, and an answer cut off.
    for index, (kind, message) in enumerate(((OutputDefect.Kind.LAZY_PLACEHOLDER, "'// rest unchanged' in app/main.jsx"),
                                             (OutputDefect.Kind.CUT_OFF, "the answer hit the length limit"))):
        turn = Turn.objects.create(project=project, prompt=f"{PROMPTS[index]} (negative)", seed=200 + index)
        generation = Generation.objects.create(
            turn=turn, model_version=versions[names[-1 - index]], seed=200 + index, status=Generation.Status.DONE,
            raw_output="<file path=\"app/main.jsx\">// rest unchanged</file>",
            request_messages=[{"role": "user", "content": f"## Request\n{turn.prompt}"}])
        OutputDefect.objects.create(generation=generation, kind=kind, message=message, path="app/main.jsx")
        made["negatives"] += 1
    made["leaderboard_votes"] = _extra_votes(project, owner, versions, extra_votes, rng)
    return made


def _extra_votes(project, user, versions, count: int, rng: random.Random) -> int:
    """Picks between random pairs of versions, the winner drawn with the Bradley-Terry probability of
    STRENGTHS. Bulk-created: a leaderboard needs many and they need no builds."""
    from feedback.models import PreferencePair

    names = list(STRENGTHS)
    turns = Turn.objects.bulk_create([Turn(project=project, prompt=f"vote {i}", seed=1000 + i, compare=True)
                                      for i in range(count)])
    generations = Generation.objects.bulk_create([
        Generation(turn=turn, kind=Generation.Kind.COMPARE, model_version=versions[name], candidate=c, seed=c,
                   status=Generation.Status.DONE, raw_output=f"answer {c}")
        for turn in turns for c, name in enumerate(rng.sample(names, 2), start=1)
    ])
    pairs = []
    for first, second in zip(generations[::2], generations[1::2]):
        p_first = 1 / (1 + math.exp(STRENGTHS[second.model_version.name] - STRENGTHS[first.model_version.name]))
        chosen, rejected = (first, second) if rng.random() < p_first else (second, first)
        pairs.append(PreferencePair(prompt=[], chosen=[], rejected=[], chosen_generation=chosen,
                                    rejected_generation=rejected, source=PreferencePair.Source.PICK))
    PreferencePair.objects.bulk_create(pairs)
    for offset in range(DAYS):
        Generation.objects.filter(turn__in=turns[offset::DAYS]).update(created_at=timezone.now() - timedelta(days=offset))
    return len(pairs)
