"""A project as it looks after long use, made straight in the database: the tests of opening a project
and bench/project_open.py both use it (the bench through `manage.py shell` against a running stack)."""

import random

from django.db import transaction

from builder.models import AppVersion, Blob, Project, Turn
from generation.models import Generation, ModelVersion
from generation.prompts import build_messages
from sandbox.models import Build

BIG_FILE_BYTES = 300_000
EXPLANATION = "I added the feature you asked for, kept the rest of the app as it was, and checked the layout. "


def big_file(index: int, size: int = BIG_FILE_BYTES) -> str:
    """`size` bytes of plausible source: a long generated data table, different for each index."""
    line = f"  {{ id: {index}_N, name: 'item N of table {index}', price: N.99, tags: ['a', 'b'] }},\n"
    body = "".join(line.replace("N", str(n)) for n in range(size // len(line) + 1))
    return f"export const TABLE_{index} = [\n{body}"[:size]


def small_app(turn: int) -> dict[str, str]:
    return {
        "app.json": '{"name": "Todo", "entities": [{"name": "Task", "fields": {"title": "string"}}]}',
        "index.html": "<!doctype html><div id=root></div><script type=module src=src/main.jsx></script>",
        "src/main.jsx": "import App from './App.jsx';\nReactDOM.createRoot(root).render(<App />);\n",
        "src/App.jsx": f"export default function App() {{\n  return <h1>Todo, turn {turn}</h1>;\n}}\n",
    }


@transaction.atomic
def make_project(*, owner, name: str, turns: int, big_files: int = 3, compare_every: int = 10,
                 heavy_turns: int = 30) -> Project:
    """A project of `turns` finished turns, each with a built version holding the small app plus
    `big_files` files of 300 KB (stored once: blobs are content-addressed); every `compare_every`-th
    turn is a comparison of two candidates. The last `heavy_turns` turns' generations weigh what real
    ones do: the request holds the app's prior files, the raw answer a rewritten big file."""
    project = Project.objects.create(owner=owner, name=name)
    model, _ = ModelVersion.objects.get_or_create(name="default", defaults={"backend": "openai"})
    big = {f"src/data/table{i}.js": big_file(i) for i in range(big_files)}
    for content in big.values():
        Blob.objects.get_or_create(sha256=Blob.digest(content), defaults={"content": content})
    rng = random.Random(turns)
    parent = None
    for number in range(1, turns + 1):
        turn = Turn.objects.create(
            project=project, prompt=f"Turn {number}: add a filter for tasks due this week, number {number}",
            seed=rng.randrange(1 << 31), base_version=parent, compare=number % compare_every == 0,
        )
        for candidate in (1, 2) if turn.compare else (1,):
            files = {**small_app(number * 10 + candidate), **big}
            manifest = {path: Blob.digest(content) for path, content in files.items()}
            small = {path: content for path, content in files.items() if path not in big}
            Blob.objects.bulk_create(
                [Blob(sha256=Blob.digest(c), content=c) for c in small.values()], ignore_conflicts=True
            )
            version = AppVersion.objects.create(
                project=project, parent=parent, manifest=manifest, digest=AppVersion.manifest_digest(manifest)
            )
            heavy = number > turns - heavy_turns
            answer = "".join(f'<file path="{path}">{content}</file>\n' for path, content in files.items()
                             if path in small or (heavy and path == "src/data/table0.js"))
            Generation.objects.create(
                turn=turn, model_version=model, candidate=candidate, seed=candidate,
                kind=Generation.Kind.COMPARE if turn.compare else Generation.Kind.FIRST,
                status=Generation.Status.DONE, explanation=EXPLANATION * 3, app_version=version,
                raw_output=EXPLANATION + answer,
                request_messages=build_messages(
                    history=[], files=parent.files() if heavy and parent else {}, prompt=turn.prompt
                ),
            )
            Build.objects.create(
                app_version=version, status=Build.Status.READY, build_passed=True, smoke_passed=True,
                smoke_status=Build.Smoke.PASSED,
                smoke_message="Smoke test passed: 1 heading, 0 console errors.",
                preview_token=f"t{project.id}x{version.id}",
            )
        parent = version
    return project


@transaction.atomic
def make_regenerated_turn(*, owner, name: str, prompt: str, candidates: int) -> Project:
    """A project of one turn regenerated until it has `candidates` finished candidates."""
    project = Project.objects.create(owner=owner, name=name)
    model, _ = ModelVersion.objects.get_or_create(name="default", defaults={"backend": "openai"})
    turn = Turn.objects.create(project=project, prompt=prompt, seed=1)
    for candidate in range(1, candidates + 1):
        files = small_app(candidate)
        for content in files.values():
            Blob.objects.get_or_create(sha256=Blob.digest(content), defaults={"content": content})
        manifest = {path: Blob.digest(content) for path, content in files.items()}
        version = AppVersion.objects.create(project=project, manifest=manifest,
                                            digest=AppVersion.manifest_digest(manifest))
        Generation.objects.create(
            turn=turn, model_version=model, candidate=candidate, seed=candidate, status=Generation.Status.DONE,
            kind=Generation.Kind.FIRST if candidate == 1 else Generation.Kind.REGENERATE,
            explanation=f"Candidate {candidate}. " + EXPLANATION, app_version=version,
        )
    return project
