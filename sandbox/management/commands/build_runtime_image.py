"""`manage.py build_runtime_image`: make sure the preview runtime image exists; print its tag.

Run by `./kiln start` and CI before anything else needs a preview. Fast (one engine call) when the
image for the current inputs is already there.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from sandbox import docker_driver
from sandbox.errors import SandboxError
from sandbox.image import STEPS, ensure_runtime_image


class Command(BaseCommand):
    help = "Build (or find cached) the preview runtime image and print its tag."

    def handle(self, *args, **options):
        started = time.monotonic()
        with tqdm(total=len(STEPS), desc="runtime image", unit="step", file=self.stderr._out) as bar:

            def progress(step: str) -> None:
                bar.set_description(step)
                bar.update(1)

            try:
                tag = ensure_runtime_image(progress=progress)
                runtime = docker_driver.runtime_name()
            except SandboxError as error:
                raise CommandError(f"{error}\n{error.log}".strip()) from error
            bar.n = bar.total
            bar.set_description("done")
        self.stderr.write(f"runtime: {runtime}; took {time.monotonic() - started:.1f} s")
        self.stdout.write(tag)
