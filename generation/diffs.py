"""Line diffs of files, as the page and the review console show them: Python's difflib, one unified
diff per file, line by line with a kind so a page can colour it without parsing text. Pure functions
on text: builder (versions, history) and feedback (the review console) both use them."""

import difflib

CONTEXT_LINES = 3
# A file's diff shown in a page is cut after this many lines (a whole rewritten bundle would not help
# anyone read it); the result says so.
MAX_DIFF_LINES = 2_000


def file_diff(path: str, a: str, b: str) -> dict:
    """{"added", "removed", "lines": [[kind, text]], "truncated"}; kind is "hunk" (an @@ line), "add",
    "del" or "ctx"."""
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


def diff_files(before: dict[str, str], after: dict[str, str]) -> dict:
    """{"files": [{"path", "status", ...file_diff}], "unchanged"}: every file added, removed or changed
    between two sets of files (path -> text), in path order."""
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    files = []
    for path in changed:
        status = "added" if path not in before else "removed" if path not in after else "changed"
        files.append({"path": path, "status": status, **file_diff(path, before.get(path, ""), after.get(path, ""))})
    return {"files": files, "unchanged": len(before.keys() & after.keys()) - sum(f["status"] == "changed" for f in files)}
