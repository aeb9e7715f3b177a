"""What changed between two versions of a project: files added, removed and changed, each changed file
as a unified diff (Python's difflib), line by line so the page can colour it without parsing text.

Manifests name content by hash, so unchanged files are found without loading them, and only the blobs
of changed files are read.
"""

import difflib

from builder.models import AppVersion, Blob

CONTEXT_LINES = 3
# A file's diff shown in the page is cut after this many lines (a whole rewritten bundle would not help
# anyone read it); the response says so.
MAX_DIFF_LINES = 2_000
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
        files.append({"path": path, "status": status, **_file_diff(path, a, b)})
    return {
        "from": old.id if old else None,
        "to": new.id,
        "files": files,
        "unchanged": len(before.keys() & after.keys()) - sum(f["status"] == "changed" for f in files),
    }


def _file_diff(path: str, a: str, b: str) -> dict:
    lines, added, removed = [], 0, 0
    diff = difflib.unified_diff(
        a.splitlines(), b.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=CONTEXT_LINES
    )
    for line in diff:
        if line.startswith(("---", "+++")) and not lines:
            continue  # the two file headers; the path is shown above the diff
        if line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind, added = "add", added + 1
        elif line.startswith("-"):
            kind, removed = "del", removed + 1
        else:
            kind = "ctx"
        lines.append([kind, line])
    return {
        "added": added,
        "removed": removed,
        "lines": lines[:MAX_DIFF_LINES],
        "truncated": len(lines) > MAX_DIFF_LINES,
    }
