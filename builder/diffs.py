"""What changed between two versions of a project: files added, removed and changed, each changed file
as a unified diff (Python's difflib), line by line so the page can colour it without parsing text.

Manifests name content by hash, so unchanged files are found without loading them, and only the blobs
of changed files are read.
"""

from builder.models import AppVersion, Blob
from generation.diffs import file_diff

DIFFERENT_PROJECTS = "Pick two versions of the same project to compare."


def diff_versions(old: AppVersion | None, new: AppVersion) -> dict:
    """{"from", "to", "files": [{"path", "status", "added", "removed", "lines": [[kind, text]],
    "truncated"}], "unchanged"}: `old` None compares with an empty app (the first version).
    `kind` is "hunk" (an @@ line), "add", "del" or "ctx"."""
    before = old.manifest if old else {}
    after = new.manifest
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    blobs = Blob.objects.in_bulk(
        [sha for path in changed for sha in (before.get(path), after.get(path)) if sha]
    )
    files = []
    for path in changed:
        a = blobs[before[path]].content if path in before else ""
        b = blobs[after[path]].content if path in after else ""
        status = "added" if path not in before else "removed" if path not in after else "changed"
        files.append({"path": path, "status": status, **file_diff(path, a, b)})
    return {
        "from": old.id if old else None,
        "to": new.id,
        "files": files,
        "unchanged": len(before.keys() & after.keys()) - sum(f["status"] == "changed" for f in files),
    }


# The chat's line under each turn: enough paths to say what changed, bounded like the project state.
CHANGE_PATHS_BYTES = 600


def change_summary(before: dict[str, str] | None, after: dict[str, str]) -> dict:
    """What a version changed from the one before it, from the two manifests alone (no content read):
    {"added" | "edited" | "deleted": {"count", "paths"}}, paths sorted and listed while they fit in
    CHANGE_PATHS_BYTES together (the counts are always whole). `before` None: the first version."""
    before = before or {}
    groups = {
        "added": sorted(after.keys() - before.keys()),
        "edited": sorted(path for path in after.keys() & before.keys() if after[path] != before[path]),
        "deleted": sorted(before.keys() - after.keys()),
    }
    used = 0
    summary = {}
    for name, paths in groups.items():
        listed = []
        for path in paths:
            used += len(path.encode("utf-8")) + 4
            if used > CHANGE_PATHS_BYTES:
                break
            listed.append(path)
        summary[name] = {"count": len(paths), "paths": listed}
    return summary
