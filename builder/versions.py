"""Immutable, content-addressed app versions. A data-layer module: the generation room calls it to
store what a model wrote, so it imports nothing from builder's services, views or consumers."""

from django.db import transaction

from builder.models import AppVersion, Blob, Project


@transaction.atomic
def create_version(*, project: Project, files: dict[str, str], parent: AppVersion | None) -> AppVersion:
    """Store `files` as a new version. Content is stored once per distinct text; the version only
    names blobs, so versions are cheap and never change after creation."""
    manifest = {}
    for path, content in files.items():
        sha = Blob.digest(content)
        Blob.objects.get_or_create(sha256=sha, defaults={"content": content})
        manifest[path] = sha
    return AppVersion.objects.create(
        project=project,
        parent=parent,
        manifest=manifest,
        digest=AppVersion.manifest_digest(manifest),
    )
