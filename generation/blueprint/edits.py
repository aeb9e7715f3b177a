"""Turns a change of a file into SEARCH/REPLACE blocks for an <edit>, the way a careful model would
write them: one block per changed region, quoting a few unchanged lines around it so it matches
exactly one place. Every set of blocks is checked by applying it with the parser's own rules
(generation.protocol.apply_search_replace) before it is written, so an edit the blueprint model
sends always applies; when no set of blocks works, the caller writes the file whole instead.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from generation.errors import EditNotApplied
from generation.protocol import SearchReplace, apply_search_replace

CONTEXT_LINES = (2, 3, 5, 8, 13)
# Lines that would end or confuse an <edit> block if quoted in one.
_UNQUOTABLE = re.compile(
    r"^\s*(?:<{5,9}\s*SEARCH|={5,9}|>{5,9}\s*REPLACE)\s*$|</edit>|^<(?:file|edit|delete)[\s/>]"
)


def search_replace_blocks(old: str, new: str, current: str) -> list[SearchReplace] | None:
    """Blocks that turn `current` into `new`, made from the difference between `old` (the file as the
    writer wrote it before the change) and `new`. When `current` is `old`, applying them gives exactly
    `new`; when the user changed the file by hand elsewhere, those changes are kept. [] when there is
    nothing to change, None when no blocks apply cleanly (write the file whole)."""
    if old == new:
        return []
    a, b = old.split("\n"), new.split("\n")
    if any(_UNQUOTABLE.search(line) for line in a + b):
        return None
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for context in CONTEXT_LINES:
        blocks = [
            SearchReplace(a[group[0][1] : group[-1][2]], b[group[0][3] : group[-1][4]])
            for group in matcher.get_grouped_opcodes(context)
        ]
        if not blocks or any(not any(line.strip() for line in block.search) for block in blocks):
            continue
        try:
            result = apply_search_replace(current, blocks, "the file")
        except EditNotApplied:
            continue
        if current != old or result == new:
            return blocks
    return None


def render_edit(path: str, blocks: list[SearchReplace]) -> str:
    body = "".join(
        "<<<<<<< SEARCH\n"
        + "".join(line + "\n" for line in block.search)
        + "=======\n"
        + "".join(line + "\n" for line in block.replace)
        + ">>>>>>> REPLACE\n"
        for block in blocks
    )
    return f'<edit path="{path}">\n{body}</edit>'


def render_file(path: str, content: str) -> str:
    return f'<file path="{path}">\n{content}\n</file>'
