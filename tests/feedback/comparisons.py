"""Side-by-side comparisons nobody has voted on yet: what the blind vote page offers staff.

builder.review_demo's seed gives every comparison a vote (the queue and the leaderboard need them), so
the blind-vote tests add their own on top of it: compare turns whose two candidates come from two
model versions, each with a build and a screenshot under SANDBOX_DIR. Run in-process (pytest) or in a
stack's shell (`stack.django("from tests.feedback.comparisons import add; ...")`).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from builder.models import Project, Turn
from builder.review_demo import png
from builder.versions import create_version
from generation.models import Generation, ModelVersion
from sandbox.models import Build

PROMPTS = ["a reading list with ratings", "a packing list for trips", "a timesheet for a small team"]
COLOURS = [(70, 120, 200), (200, 90, 60), (60, 160, 90), (150, 90, 180), (210, 170, 40), (90, 90, 90)]


def add(count: int, *, versions: tuple[str, str] = ("kiln-7b-dpo-r2", "qwen-7b-base")) -> list[int]:
    """`count` unvoted compare turns; returns their ids, oldest first."""
    owner, _ = get_user_model().objects.get_or_create(username="olivia")
    project = Project.objects.create(owner=owner, name="Comparisons to vote on")
    models = [ModelVersion.objects.get_or_create(name=n, defaults={"backend": "openai"})[0] for n in versions]
    turn_ids = []
    for index in range(count):
        prompt = PROMPTS[index % len(PROMPTS)]
        turn = Turn.objects.create(project=project, prompt=prompt, seed=500 + index, compare=True)
        for candidate, model in enumerate(models, start=1):
            files = {"app.json": f'{{"name": "{prompt}", "entities": ["Item"]}}\n',
                     "app/main.jsx": f"export default function App() {{ return <h1>{prompt} {candidate}</h1>; }}\n"}
            version = create_version(project=project, files=files, parent=None)
            Generation.objects.create(
                turn=turn, kind=Generation.Kind.COMPARE, model_version=model, candidate=candidate,
                seed=500 + 10 * index + candidate, status=Generation.Status.DONE, app_version=version,
                request_messages=[{"role": "system", "content": "You are Kiln."},
                                  {"role": "user", "content": f"## Request\n{prompt}"}],
                raw_output="".join(f'<file path="{p}">{c}</file>\n' for p, c in files.items()),
                explanation=f"A {prompt}, candidate {candidate}.", completion_tokens=300 + candidate,
                time_to_first_token_ms=150 + candidate, duration_ms=3000 + candidate,
            )
            shot = Path("comparisons") / f"turn{turn.id}-{candidate}.png"
            (Path(settings.SANDBOX_DIR) / shot).parent.mkdir(parents=True, exist_ok=True)
            (Path(settings.SANDBOX_DIR) / shot).write_bytes(
                png(320, 200, (250, 250, 247), COLOURS[(index * 2 + candidate) % len(COLOURS)]))
            Build.objects.create(app_version=version, status=Build.Status.READY, build_passed=True, smoke_passed=True,
                                 smoke_status=Build.Smoke.PASSED, screenshot=str(shot),
                                 scores={"build_passed": True, "smoke_passed": True, "console_errors": 0})
        turn_ids.append(turn.id)
    return turn_ids
