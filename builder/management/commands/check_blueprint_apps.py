import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from builder.models import Project
from builder.versions import create_version
from generation.blueprint.catalogue import PROMPTS
from generation.blueprint.responder import respond
from generation.protocol import parse
from sandbox import access, builds, lifecycle
from sandbox.models import Build

CHECK_USER = "blueprint-check"


class Command(BaseCommand):
    help = (
        "Run every app kind of the offline model's catalogue through the real pipeline: write it, "
        "bundle it in the runtime image, start its preview and smoke-test it in Chromium."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", action="append", help="Only these kinds (repeatable).")

    def handle(self, *args, kind=None, **options):
        prompts = [(k, p) for k, p in PROMPTS if not kind or k in kind]
        user, _ = get_user_model().objects.get_or_create(username=CHECK_USER, defaults={"is_active": False})
        rows = []
        for app_kind, prompt in tqdm(prompts, desc="app kinds", unit="app", file=self.stderr._out):
            rows.append((app_kind, *self.check_app(user, prompt)))
        self.stdout.write(f"\n{'kind':<18} {'build':<6} {'smoke':<6} {'seconds':>7}  notes")
        for app_kind, build, seconds in rows:
            notes = build.error or build.smoke_message
            self.stdout.write(f"{app_kind:<18} {_mark(build.build_passed):<6} {_mark(build.smoke_passed):<6} "
                              f"{seconds:>7.1f}  {notes[:90]}")
        working = sum(1 for _, build, _ in rows if build.build_passed and build.smoke_passed)
        self.stdout.write(f"\n{working} of {len(rows)} app kinds built and passed the smoke test.")
        if working < len(rows):
            raise CommandError("Some app kinds did not work.")

    def check_app(self, user, prompt: str) -> tuple[Build, float]:
        """One app through build and smoke test; everything it made is removed afterwards."""
        started = time.monotonic()
        parser = parse(respond([{"role": "user", "content": prompt}], seed=1), finish_reason="stop")
        with transaction.atomic():
            project = Project.objects.create(owner=user, name=f"check: {prompt[:60]}")
            version = create_version(project=project, files=parser.result_files(), parent=None)
            # Not request_build: a running build worker must not take this build from us.
            build = Build.objects.create(app_version=version, preview_token=access.new_preview_token())
        builds.build_and_preview(build.id)
        build.refresh_from_db()
        seconds = time.monotonic() - started
        lifecycle.delete_project_data(project_id=project.id)
        project.delete()
        return build, seconds


def _mark(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "-"}[passed]
