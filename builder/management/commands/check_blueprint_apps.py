"""The offline model's yardstick (generation/blueprint/yardstick.json), scored through the real pipeline.

Each prompt is answered by the blueprint model; its app.json is checked against the entities, fields,
kinds and links a person expects; then the app is bundled in the runtime image, previewed, and
smoke-tested in Chromium, which must also find the expected entities and fields on the page. Each
follow-up is applied to its base app as the edits the model sends; the expected change must be in the
result (and on the page), with no junk field. The score is printed by kind of prompt and follow-up.
"""

import time
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from builder.models import Project
from builder.versions import create_version
from generation.blueprint import relevance, writer, yardstick
from generation.blueprint.responder import respond
from generation.prompts import build_messages
from generation.protocol import parse
from sandbox import builds, lifecycle, slots, smoke
from sandbox.access import content_security_policy

CHECK_USER = "blueprint-check"
NOT_BUILT = "the app did not build or pass the smoke test: {detail}"
NOT_ON_PAGE = "the page shows {shown} of the {expected} names it should ({terms})"


class Command(BaseCommand):
    help = (
        "Score the offline blueprint model on its yardstick: 60+ prompts (entities, fields, types, links) "
        "and 40+ follow-ups (the expected change, no junk field), each app built, previewed and "
        "smoke-tested in Chromium."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", action="append", help="Only prompts and follow-ups of these kinds.")
        parser.add_argument(
            "--sample",
            type=int,
            default=0,
            help="Only this many prompts and about two thirds as many follow-ups, spread over the kinds.",
        )
        parser.add_argument(
            "--no-docker",
            action="store_true",
            help="Check the answers only (no build, preview or smoke test).",
        )
        parser.add_argument(
            "--build-every",
            type=int,
            default=1,
            help="Build and smoke-test every Nth case only (the rest: answers only).",
        )
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, kind=None, sample=0, no_docker=False, build_every=1, seed=1, **options):
        data = yardstick.load()
        prompts = _pick([c for c in data["prompts"] if not kind or c["kind"] in kind], sample)
        follow_ups = _pick(
            [c for c in data["follow_ups"] if not kind or c["kind"] in kind],
            (sample * 2 + 2) // 3 if sample else 0,
        )
        self.user, _ = get_user_model().objects.get_or_create(
            username=CHECK_USER, defaults={"is_active": False}
        )
        self.docker, self.seed = not no_docker, seed
        out = self.stderr._out
        prompt_rows = [
            self.check_prompt(case, build=self.docker and i % build_every == 0)
            for i, case in enumerate(tqdm(prompts, desc="prompts", unit="app", file=out))
        ]
        follow_rows = [
            self.check_follow_up(case, build=self.docker and i % build_every == 0)
            for i, case in enumerate(tqdm(follow_ups, desc="follow-ups", unit="edit", file=out))
        ]
        self.report("prompts", prompt_rows)
        self.report("follow-ups", follow_rows)
        junk = sum(1 for row in follow_rows for p in row["problems"] if p.startswith("junk"))
        built = [row for row in prompt_rows + follow_rows if row["built"] is not None]
        broken = [row for row in built if not row["built"]]
        self.stdout.write(
            f"\nprompts right: {_share(prompt_rows)}; follow-ups applied: {_share(follow_rows)}; "
            f"junk fields: {junk}; built and smoke-tested: {len(built) - len(broken)} of {len(built)}"
            + ("" if self.docker else " (--no-docker: answers only)")
        )
        if broken:
            raise CommandError(f"{len(broken)} app(s) did not build or pass the smoke test.")

    # --- one case --------------------------------------------------------------------------------

    def check_prompt(self, case: dict, *, build: bool) -> dict:
        started = time.monotonic()
        answer = respond([{"role": "user", "content": case["prompt"]}], seed=self.seed)
        parser = parse(answer, finish_reason="stop")
        files = parser.result_files()
        read = writer.read_app(files)
        problems = [f"protocol: {issue.message}" for issue in parser.issues]
        if read is None:
            problems.append("no app.json the model can read back")
        else:
            plan = read[0]
            problems += yardstick.check_prompt(case, plan.app_json(), parser.explanation)
            problems += yardstick.check_style(case, plan)
        built = None
        if build and read is not None:
            terms = _page_terms(case["entities"], read[0])
            built, detail = self.build(files, terms, relevance.expected_terms(case["prompt"]))
            if detail:
                problems.append(detail)
        return {
            "kind": case["kind"],
            "text": case["prompt"],
            "problems": problems,
            "built": built,
            "seconds": time.monotonic() - started,
        }

    def check_follow_up(self, case: dict, *, build: bool) -> dict:
        started = time.monotonic()
        answer = respond([{"role": "user", "content": case["base"]}], seed=self.seed)
        files = parse(answer).files
        before = writer.read_app(files)[0]
        messages = build_messages(history=[(case["base"], answer)], files=files, prompt=case["request"])
        reply = respond(messages, seed=self.seed)
        parser = parse(reply, finish_reason="stop", base_files=files)
        problems = [f"protocol: {issue.message}" for issue in parser.issues]
        result = parser.result_files()
        read = writer.read_app(result)
        after = read[0] if read else None
        problems += yardstick.check_follow_up(case, before, after, reply)
        built = None
        if build and after is not None and parser.changed_paths:
            built, detail = self.build(result, _new_terms(before, after), None)
            if detail:
                problems.append(detail)
        return {
            "kind": case["kind"],
            "text": case["request"],
            "problems": problems,
            "built": built,
            "seconds": time.monotonic() - started,
        }

    def build(self, files: dict[str, str], page_terms: list[str], prompt_terms: list[str] | None):
        """(worked, problem) for one app through bundle, preview and smoke test; the terms it must show
        are checked on the page by a second smoke run with them. Everything it made is removed."""
        with transaction.atomic():
            project = Project.objects.create(owner=self.user, name="yardstick")
            version = create_version(project=project, files=files, parent=None)
            build = builds.create_build(app_version=version)  # not queued: no worker takes it from us
        try:
            builds.build_and_preview(build.id)
            build.refresh_from_db()
            if not (build.build_passed and build.smoke_passed):
                return False, NOT_BUILT.format(detail=(build.error or build.smoke_message)[:300])
            scores = smoke.run(
                socket_path=lifecycle.socket_path(build),
                app_json=smoke.app_json_of(slots.slot_dir(build.slot) / "app"),
                screenshot=settings.SANDBOX_DIR / "shots" / f"yardstick-{build.id}.png",
                csp=content_security_policy(),
                expected_terms=page_terms,
            )
            if scores.get("terms_shown") != len(page_terms):
                return True, NOT_ON_PAGE.format(
                    shown=scores.get("terms_shown"), expected=len(page_terms), terms=", ".join(page_terms)
                )
            return True, ""
        finally:
            lifecycle.stop_preview(build, reason="yardstick")
            lifecycle.delete_project_data(project_id=project.id)
            project.delete()

    # --- the table ----------------------------------------------------------------------------------

    def report(self, title: str, rows: list[dict]) -> None:
        by_kind = defaultdict(list)
        for row in rows:
            by_kind[row["kind"]].append(row)
        self.stdout.write(f"\n{title} by kind:")
        for kind_, group in by_kind.items():
            self.stdout.write(f"  {kind_:<16} {_share(group)}")
        failing = [row for row in rows if row["problems"]]
        if failing:
            self.stdout.write(f"\n{title} that fail:")
        for row in failing:
            self.stdout.write(f"  [{row['kind']}] {row['text'][:70]!r}: {'; '.join(row['problems'])[:300]}")


def _pick(cases: list[dict], n: int) -> list[dict]:
    """n cases spread evenly over the list (and so over its kinds); all of them when n is 0."""
    if not n or n >= len(cases):
        return cases
    return [cases[round(i * (len(cases) - 1) / max(1, n - 1))] for i in range(n)]


def _share(rows: list[dict]) -> str:
    right = sum(1 for row in rows if not row["problems"])
    return f"{right}/{len(rows)} ({100 * right / len(rows):.0f} %)" if rows else "0/0"


def _page_terms(expected: dict, plan) -> list[str]:
    """What the page must show for the expected entities and fields: their names as the app words them."""
    terms = []
    for name, fields in expected.items():
        entity = plan.get(name.split("|")[0])
        if entity is None:
            continue
        terms.append(entity.many.lower())
        for field in entity.fields:
            if any(
                field.name == f or field.name.startswith(f + "_") or field.name.endswith("_" + f)
                for f in fields
            ):
                terms.append(field.label.split(" (")[0].lower())
    return terms


def _new_terms(before, after) -> list[str]:
    """What a follow-up added that the page must show: new things, fields, figures and their labels."""
    terms = []
    for entity in after.entities:
        old = before.get(entity.name)
        if old is None:
            terms.append(entity.many.lower())
            continue
        terms += [f.label.split(" (")[0].lower() for f in entity.fields if old.field(f.name) is None]
        terms += [s["label"].lower() for s in entity.stats if s not in old.stats]
    return terms
