"""`manage.py build_editor`: bundle the code editor (CodeMirror) into static/vendor/ unless it is
already built from the current inputs (builder.editor_bundle). Run by `./kiln setup`."""

import time

from django.core.management.base import BaseCommand, CommandError

from builder.editor_bundle import BUNDLE, EditorBuildError, ensure_bundle


class Command(BaseCommand):
    help = "Bundle CodeMirror into static/vendor/codemirror.js (cached by a hash of its inputs)."

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            built = ensure_bundle()
        except EditorBuildError as error:
            raise CommandError(f"{error}\n{error.log}".strip()) from error
        what = "built" if built else "up to date"
        self.stderr.write(f"code editor bundle {what}: {BUNDLE} ({time.monotonic() - started:.1f} s)")
