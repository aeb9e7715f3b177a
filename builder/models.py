import hashlib
import json

from django.conf import settings
from django.db import models


class Project(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class Turn(models.Model):
    """One request of the user: a prompt applied to the project's version at that moment."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="turns")
    prompt = models.TextField()
    # The version this turn builds on (None for the first turn): every candidate starts from it.
    base_version = models.ForeignKey(
        "AppVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Routing and sampling are derived from this seed, so a turn can be replayed exactly.
    seed = models.BigIntegerField()
    # The user asked for two candidates side by side (from two different model versions).
    compare = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Turn {self.pk}: {self.prompt[:40]}"


class Blob(models.Model):
    """File content, stored once per distinct content (content-addressed by SHA-256)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    content = models.TextField()

    @staticmethod
    def digest(content: str) -> str:
        return hashlib.sha256(content.encode("utf-8")).hexdigest()


class AppVersion(models.Model):
    """An immutable snapshot of an app's files. Never updated after creation."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # {path: sha256 of a Blob}
    manifest = models.JSONField()
    digest = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"v{self.pk} ({len(self.manifest)} files)"

    @staticmethod
    def manifest_digest(manifest: dict) -> str:
        return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()

    def files(self) -> dict[str, str]:
        blobs = Blob.objects.in_bulk(list(self.manifest.values()))
        return {path: blobs[sha].content for path, sha in sorted(self.manifest.items())}
