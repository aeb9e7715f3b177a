"""manage.py sweep_previews: the startup sweep (./kiln start runs it before starting the workers)."""

from django.core.management.base import BaseCommand

from builder import pipeline


class Command(BaseCommand):
    help = "Remove this Kiln instance's orphan preview containers and folders; mark their builds."

    def handle(self, *args, **options):
        done = pipeline.sweep()
        self.stdout.write(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in done.items()))
