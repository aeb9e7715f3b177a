"""The incremental parser for the model's output protocol (docs/protocol.md has the grammar and every
error with its message).

The model writes explanation text with whole files, edits and deletions in between::

    Some explanation for the chat.
    <file path="src/App.jsx">
    ...whole file...
    </file>
    <edit path="src/api.js">
    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE
    </edit>
    <delete path="src/old.js"/>

`StreamParser(base_files).feed()` takes the text in whatever pieces the model server sends, even a
split in the middle of a tag or of "</file>", and returns events as soon as they are certain: text for
the chat, a file starting, pieces of its content, a file completed, an edit applied (with its diff), a
file deleted, a protocol issue. It holds back only the few characters that could still turn out to be
part of a tag (inside a block at most MAX_HOLDBACK_CHARS), so the browser sees files form while they
stream. Every decision depends on the text alone, never on where the pieces were cut, so feeding a
response in any pieces gives the same files, explanation, issues and result as feeding it whole.

Each issue has a `kind` and says whether it is `fatal`: a fatal issue means the response must not
become a version, because part of what the model meant was not applied (a file dropped, an edit that
did not match, a file cut off or shortened with a placeholder). Non-fatal issues (a file written twice,
a stray closing tag, deleting a file that is not there) are reported and recorded, and the rest of the
response stands. `result_files()` is the base files with this response's writes, edits and deletes
applied, in order; callers keep it only when `has_fatal` is false. `has_fatal` is true right after the
feed() that found the first fatal issue, so a caller can stop reading the model there; an answer over
MAX_ANSWER_CHARS is such an issue, and `bounded_raw_output` bounds what is stored of the raw text.

Rules, chosen to be simple and safe:

- A tag is recognised only when its name is followed by whitespace, ">" or "/": "<file", "<edit",
  "<delete" open blocks; "</file>" and "</edit>" close them. An opening tag ends at the first ">" and
  may not contain "<". Anything else that looks like a tag is text outside a block and content inside
  one (JSX is full of "<div>").
- A closing tag counts only on a line of its own: "</file>" or "</edit>" at the start of a line with
  nothing but blanks (at most MAX_CLOSE_BLANKS) after it before the line break or the end of the
  answer, or ending the line of a one-line block (`<file path="a.txt">hello</file>`). Anywhere else,
  as in `"Use </file> to end a file block"` in JSX, it is content (or chat text). A line of a file that
  would be exactly "</file>" is indented (the system prompt teaches it); if it is not, the block ends
  there, and the second "</file>" that follows is the fatal issue `closed_early`, never a quietly
  shortened file.
- Content drops exactly one newline after the opening tag and one before the closing tag.
- Paths go through `normalise_path`; a block with a bad path is read to its end and dropped.
- A block tag at the start of a line inside a block means the model nested blocks or forgot to close
  one: the open block is dropped (it may be incomplete) and the new block starts.
- At the end of the stream an open block is cut off and dropped.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from generation.errors import EditNotApplied, ProtocolError

MAX_PATH_CHARS = 200
MAX_PATH_DEPTH = 12
MAX_TAG_CHARS = 1000  # an opening tag longer than this is not a tag
MAX_FILE_BYTES = 400_000  # UTF-8 bytes of one file's content
MAX_EDIT_BYTES = 2 * MAX_FILE_BYTES  # the body of one <edit> block
MAX_FILES = 300  # files in the result
MAX_FILE_CHARS = MAX_FILE_BYTES  # the old name
# Spaces or tabs allowed after a closing tag on its line. A bound, so that what the parser holds back
# while it waits for the line to end is bounded too (MAX_HOLDBACK_CHARS).
MAX_CLOSE_BLANKS = 16
# The most content the parser holds back inside a block: "\r\n</file>" and its blanks, waiting to
# see whether they end the line (and so the block). Everything before it has been sent as FileDelta.
MAX_HOLDBACK_CHARS = len("\r\n</file>") + MAX_CLOSE_BLANKS
# The longest answer read. Three files of 380 KB are a legal answer (1.14 M characters); at about 4
# characters a token, 2 M characters is 500,000 tokens, 30 times MODEL_MAX_TOKENS' default. A model
# (or a model server ignoring max_tokens) that goes on past it is stopped there: a fatal issue during
# feed(), and the parser reads nothing more.
MAX_ANSWER_CHARS = 2_000_000
# The most of an answer's raw text Kiln stores (Generation.raw_output). Every answer that can become a
# version is at most MAX_ANSWER_CHARS long, so it is always kept whole (it is training data); only an
# answer refused for its size is cut, and `bounded_raw_output` says so. Without this bound one 50 MB
# answer put 50 MB in the database and on its admin page.
RAW_OUTPUT_KEEP_CHARS = MAX_ANSWER_CHARS
# The most issues one answer reports. Each is a frame for the browser and a row of protocol_errors and
# of OutputDefect; an answer of 2 M characters of stray "</file>" lines would otherwise make 250,000.
MAX_ISSUES = 50

ANSWER_TOO_LARGE = (
    "The answer is longer than {limit:,} characters, far more than any app needs; Kiln stopped "
    "reading it there and nothing was kept."
)
TOO_MANY_ISSUES = (
    "The answer has more than {limit} problems with Kiln's file protocol; Kiln stopped reading it "
    "there and nothing was kept."
)
RAW_OUTPUT_CUT = "[Kiln kept only the first {kept:,} of the {read:,} characters it read of this answer.]"
EARLY_CLOSE = (
    "{path} was cut short: its line {line} is exactly </{kind}>, which ends {a_kind}, so the text after "
    "that line went to the chat until the next </{kind}>. A line inside {a_kind} may not be exactly "
    "</{kind}> (indent it or write it another way), so this answer was not kept."
)
SECOND_CLOSE = (
    "{path} is followed by a second </{kind}>, so its line {line} (exactly </{kind}>) may have been a "
    "line of it that ended it early. A line inside {a_kind} may not be exactly </{kind}> (indent it or "
    "write it another way), so this answer was not kept."
)
CLOSE_MID_LINE = (
    " The </{kind}> on its line {line} did not end it: a closing tag counts only on a line of its own."
)

# Issue kinds. FATAL_KINDS are always fatal; code_in_chat is fatal only when nothing was written.
PATH = "path"
SYNTAX = "syntax"
UNCLOSED = "unclosed"
NESTED = "nested"
STRAY_CLOSE = "stray_close"
DUPLICATE = "duplicate"
EDIT_SYNTAX = "edit_syntax"
EDIT_NO_MATCH = "edit_no_match"
EDIT_MISSING_FILE = "edit_missing_file"
DELETE_MISSING = "delete_missing"
BINARY = "binary"
TOO_LARGE = "too_large"
CUT_OFF = "cut_off"
LAZY_PLACEHOLDER = "lazy_placeholder"
CODE_IN_CHAT = "code_in_chat"
UNKNOWN_TAG = "unknown_tag"
CLOSED_EARLY = "closed_early"
TOO_MANY = "too_many_issues"

FATAL_KINDS = frozenset(
    {
        PATH,
        SYNTAX,
        UNCLOSED,
        NESTED,
        EDIT_SYNTAX,
        EDIT_NO_MATCH,
        EDIT_MISSING_FILE,
        BINARY,
        TOO_LARGE,
        CUT_OFF,
        LAZY_PLACEHOLDER,
        UNKNOWN_TAG,
        CLOSED_EARLY,
        TOO_MANY,
    }
)
NON_FATAL_KINDS = frozenset({STRAY_CLOSE, DUPLICATE, DELETE_MISSING})
ISSUE_KINDS = FATAL_KINDS | NON_FATAL_KINDS | {CODE_IN_CHAT}


# --- Events ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    text: str  # explanation text outside tags


@dataclass(frozen=True)
class FileStarted:
    path: str


@dataclass(frozen=True)
class FileDelta:
    path: str
    text: str  # a piece of the content of the file being written


@dataclass(frozen=True)
class FileCompleted:
    path: str
    content: str


@dataclass(frozen=True)
class EditApplied:
    path: str
    diff: str  # unified diff of the file before and after the edit
    content: str  # the whole file after the edit


@dataclass(frozen=True)
class FileDeleted:
    path: str


@dataclass(frozen=True)
class ProtocolIssue:
    message: str  # user-facing
    path: str | None = None
    kind: str = SYNTAX
    fatal: bool = True  # the response must not become a version


Event = TextDelta | FileStarted | FileDelta | FileCompleted | EditApplied | FileDeleted | ProtocolIssue


# --- Paths -----------------------------------------------------------------------------------------

# Characters that are unsafe or meaningless in a file name on some system Kiln may write to.
_FORBIDDEN_CHARS = set('<>:"|?*')
_DRIVE = re.compile(r"^[A-Za-z]:")


def normalise_path(raw: str) -> str:
    """Return the app-relative, normalised form of `raw` ("./a//b.js" -> "a/b.js").

    Raises ProtocolError, with a message fit for the user, for anything that is not a plain relative
    path inside the app: absolute paths, ".." segments (every one, even those that would stay
    inside), backslashes, NUL and other control characters, drive letters, empty or over-long paths.
    Percent-escapes are not decoded: "%2e%2e" is a harmless literal name. The result is a fixed
    point: normalise_path(normalise_path(p)) == normalise_path(p).
    """
    shown = _shown(raw)
    path = raw.strip(" ")
    if not path:
        raise ProtocolError("A file has an empty path.")
    if "\x00" in path:
        raise ProtocolError(f"File path {shown} contains a NUL byte.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in path):
        raise ProtocolError(f"File path {shown} contains a control character.")
    if "\\" in path:
        raise ProtocolError(f"File path {shown} contains a backslash; use forward slashes.")
    if _DRIVE.match(path):
        raise ProtocolError(
            f"File path {shown} starts with a drive letter; paths must be relative to the app."
        )
    if path.startswith("/"):
        raise ProtocolError(f"File path {shown} is absolute; paths must be relative to the app.")
    if path.startswith("~"):
        raise ProtocolError(
            f"File path {shown} points into a home folder; paths must be relative to the app."
        )
    bad = sorted(set(path) & _FORBIDDEN_CHARS)
    if bad:
        raise ProtocolError(f"File path {shown} contains the character {bad[0]!r}, which is not allowed.")
    if len(path) > MAX_PATH_CHARS:
        raise ProtocolError(f"File path {shown} is longer than {MAX_PATH_CHARS} characters.")
    if path.endswith("/"):
        raise ProtocolError(f"File path {shown} names a folder, not a file.")
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise ProtocolError(f"File path {shown} contains '..'; paths must stay inside the app.")
    if not segments:
        raise ProtocolError(f"File path {shown} does not name a file.")
    if any(s != s.strip() for s in segments):
        raise ProtocolError(f"File path {shown} has a name that starts or ends with a space.")
    if len(segments) > MAX_PATH_DEPTH:
        raise ProtocolError(f"File path {shown} is nested more than {MAX_PATH_DEPTH} folders deep.")
    return "/".join(segments)


def _shown(raw: str) -> str:
    """The path as it is safe to show: quoted, control characters escaped, long ones shortened."""
    text = raw if len(raw) <= 80 else raw[:77] + "..."
    return '"' + "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text) + '"'


def _shown_line(line: str, limit: int = 100) -> str:
    line = line if len(line) <= limit else line[: limit - 3] + "..."
    return "".join(ch if ch.isprintable() or ch == "\t" else repr(ch)[1:-1] for ch in line)


# --- Content checks --------------------------------------------------------------------------------

# Raw control characters (other than tab, newlines, form feed) and lone surrogates: not source text.
_BINARY = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")

_CODE_EXTENSIONS = (
    ".js",
    ".jsx",
    ".mjs",
    ".cjs",
    ".ts",
    ".tsx",
    ".css",
    ".html",
    ".htm",
    ".json",
    ".vue",
    ".svelte",
)
# A whole-line comment in JS / CSS / JSX / HTML, with its text.
_COMMENT_LINE = re.compile(r"^\s*(?:\{\s*/\*+|/\*+|//+|<!--|\*+(?!/))\s*(.*?)\s*(?:\*+/\s*\}?|-->)?\s*$")
_ELLIPSIS = re.compile(r"\.{3,}|…")
_CODE_NOUNS = (
    r"(?:code|file|component|components|function|functions|styles?|css|markup|html|jsx|implementation|"
    r"content|contents|app|logic|fields?|form|list|imports?|module|page|class|methods?|handlers?|"
    r"helpers?|rules?|routes?|hooks?|effects?|state|props|properties|elements?|items?|cases?|"
    r"sections?|body|template|stuff|lines?|parts?)"
)
_LAZY_SUFFIX = (
    r"(?:(?:is|are|remains?|stays?|goes|go|as|is kept|are kept|kept)\s+)?"
    r"(?:unchanged|the same|as before|as is|here|omitted|untouched|not shown|same as before|elided)"
)
_LAZY_COMMENTS = [
    # "rest of the code unchanged", "...rest of the component", "the rest remains the same"
    re.compile(
        r"^(?:and |the )?rest(?: of (?:the |this |your |my )?(?:\w+ ){0,2}"
        + _CODE_NOUNS
        + r"(?: "
        + _LAZY_SUFFIX
        + r")?"
        r"| " + _LAZY_SUFFIX + r")$"
    ),
    # "existing code", "previous implementation", "other fields unchanged", "same handlers as before"
    re.compile(
        r"^(?:the |all |your )?(?:existing|previous|original|old|remaining) (?:code|implementation|logic|content|contents)$"
    ),
    re.compile(
        r"^(?:keep(?:ing)? )?(?:the |all |your )?(?:existing|previous|original|old|remaining|unchanged|other|same)(?: \w+)? "
        + _CODE_NOUNS
        + r" "
        + _LAZY_SUFFIX
        + r"$"
    ),
    re.compile(
        r"^keep(?:ing)? (?:the |all |your )?(?:existing|previous|original|rest of the|same) (?:\w+ )?"
        + _CODE_NOUNS
        + r"(?: (?:here|as is|unchanged|the same|as before))?$"
    ),
    # "unchanged", "styles unchanged", "everything else stays the same", "same as before"
    re.compile(
        r"^(?!(?:keep|keeps|leave|leaves|left|kept|return|returns|if|when|so|must|should|make|makes)\b)"
        r"(?:[\w-]+ ){0,3}(?:is |are |remains? |stays? )?(?:unchanged|the same as before|same as (?:before|above|previous(?:ly)?|earlier|the original|original))$"
    ),
    re.compile(r"^no changes?(?: (?:here|below|above|needed|to this (?:file|part|section)))?$"),
    re.compile(
        r"\bfor brevity\b|\b(?:code|content|implementation|details|lines?) (?:omitted|elided|truncated)\b"
    ),
    re.compile(
        r"^(?:add|insert|put|paste) (?:the |your |all )?(?:rest|remaining|other|existing|previous|same)\b.*\bhere$"
    ),
]


def find_placeholder(path: str, text: str, *, ignore: frozenset[str] = frozenset()) -> tuple[int, str] | None:
    """The first line of `text` that stands in for code instead of being code ("// ... existing code
    ...", "/* rest of the styles unchanged */", "<!-- unchanged -->", a lone "..."), as (line number,
    line), or None. Only whole-line comments and lone ellipses count, so a spread (`...items`), an
    ellipsis in UI text ("Loading...") or an ordinary comment is never taken for one. Lines whose
    stripped text is in `ignore` are skipped (an edit's unchanged lines). Non-code files are skipped.
    """
    if not path.lower().endswith(_CODE_EXTENSIONS):
        return None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped in ignore:
            continue
        if re.fullmatch(r"(?:\.\.\.|…)\s*,?", stripped):
            return number, stripped
        comment = _COMMENT_LINE.match(line)
        if not comment:
            continue
        raw = comment.group(1).strip().lower()
        if not raw:
            continue
        bare = _ELLIPSIS.sub("", raw).strip(" ()[]:-,.")
        starts = _ELLIPSIS.match(raw) is not None
        ends = re.search(r"(?:\.{3,}|…)[\s)\]]*$", raw) is not None
        if _ELLIPSIS.search(raw) and (not bare or (starts and ends)):
            return number, stripped  # "// ...", "{/* … */}", "// ... other handlers ..."
        words = _ELLIPSIS.sub(" ", raw)
        words = re.sub(r"[()\[\]:,.;!]", " ", words)
        words = re.sub(r"\s+", " ", words).strip()
        if words and any(pattern.search(words) for pattern in _LAZY_COMMENTS):
            return number, stripped
    return None


_FENCE = re.compile(r"^\s*(?:```|~~~)")
_CODE_LINE = re.compile(
    r"""^(?:
        (?:import|export)\s.+
      | (?:const|let|var|function|class|return|async\s+function|if\s*\(|for\s*\(|while\s*\(|switch\s*\()\b.*
      | .*[;{]
      | [})\]]+[;,)]*
      | <[A-Za-z][\w.-]*(?:\s[^<>]*)?/?>.*
      | </[A-Za-z][\w.-]*>
      | [\w-]+\s*:\s*[^:]+;
    )\s*$""",
    re.VERBOSE,
)


def count_code_in_text(text: str) -> tuple[int, int]:
    """(lines inside fenced code blocks, code-looking lines outside them) of explanation text."""
    fenced = loose = 0
    inside = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            inside = not inside
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if inside:
            fenced += 1
        elif _CODE_LINE.match(stripped):
            loose += 1
    return fenced, loose


_FOREIGN_TAG = re.compile(
    r"<\s*((?:file|files|create|write|update|modify|patch|replace|rename|remove|delete|edit|new[-_]?file|code|artifact)"
    r"[\w-]*)\b[^<>\n]*\bpath\s*=",
    re.IGNORECASE,
)


# --- Edits -----------------------------------------------------------------------------------------

_SEARCH_MARK = re.compile(r"<{5,9}\s*SEARCH")
_DIVIDER_MARK = re.compile(r"={5,9}")
_REPLACE_MARK = re.compile(r">{5,9}\s*REPLACE")


@dataclass(frozen=True)
class SearchReplace:
    search: list[str]  # lines, without line ends
    replace: list[str]


def parse_edit_body(body: str, shown_path: str) -> list[SearchReplace]:
    """The SEARCH/REPLACE blocks of an <edit> body. Raises EditNotApplied (kind edit_syntax)."""
    blocks: list[SearchReplace] = []
    state, search, replace = "out", [], []
    for line in body.split("\n"):
        line = line.removesuffix("\r")
        mark = line.strip()
        if state == "out":
            if _SEARCH_MARK.fullmatch(mark):
                state, search = "search", []
            elif mark and not _FENCE.match(mark):
                raise EditNotApplied(
                    f"The edit to {shown_path} was not applied: it has text outside a SEARCH/REPLACE "
                    f'block ("{_shown_line(mark, 60)}"). Each block is "<<<<<<< SEARCH", the old lines, '
                    '"=======", the new lines, ">>>>>>> REPLACE".',
                    "edit_syntax",
                )
        elif state == "search":
            if _DIVIDER_MARK.fullmatch(mark):
                state, replace = "replace", []
            elif _SEARCH_MARK.fullmatch(mark) or _REPLACE_MARK.fullmatch(mark):
                raise EditNotApplied(
                    f'The edit to {shown_path} was not applied: block {len(blocks) + 1} has no "=======" '
                    "between its SEARCH and REPLACE parts.",
                    "edit_syntax",
                )
            else:
                search.append(line)
        elif _REPLACE_MARK.fullmatch(mark):
            blocks.append(SearchReplace(search, replace))
            state = "out"
        elif _SEARCH_MARK.fullmatch(mark):
            raise EditNotApplied(
                f"The edit to {shown_path} was not applied: block {len(blocks) + 1} does not end with "
                '">>>>>>> REPLACE".',
                "edit_syntax",
            )
        else:
            replace.append(line)
    if state != "out":
        raise EditNotApplied(
            f"The edit to {shown_path} was not applied: block {len(blocks) + 1} is not finished "
            '(every block ends with ">>>>>>> REPLACE").',
            "edit_syntax",
        )
    if not blocks:
        raise EditNotApplied(
            f"The edit to {shown_path} was not applied: it has no SEARCH/REPLACE block.", "edit_syntax"
        )
    for number, block in enumerate(blocks, start=1):
        if not any(line.strip() for line in block.search):
            raise EditNotApplied(
                f"The edit to {shown_path} was not applied: block {number} has an empty SEARCH part; "
                "quote the lines to change (write a new file whole with <file>).",
                "edit_syntax",
            )
    return blocks


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _find(lines: list[str], search: list[str], key) -> list[int]:
    wanted = [key(s) for s in search]
    n = len(wanted)
    return [
        i
        for i in range(len(lines) - n + 1)
        if key(lines[i]) == wanted[0] and [key(x) for x in lines[i : i + n]] == wanted
    ]


def _exact(line: str) -> str:
    return line


def _no_trailing(line: str) -> str:
    return line.rstrip()


def _no_indent(line: str) -> str:
    return line.strip()


def apply_search_replace(content: str, blocks: list[SearchReplace], shown_path: str) -> str:
    """Apply SEARCH/REPLACE blocks in order. Each SEARCH must match exactly one place: exactly (whole
    lines, then anywhere), else ignoring trailing whitespace, else ignoring indentation (the new lines
    are then re-indented to the file's indentation). Raises EditNotApplied naming the file and quoting
    the SEARCH text when a block matches nowhere or in several places; nothing is applied then."""
    for number, block in enumerate(blocks, start=1):
        where = f"block {number} of {len(blocks)}" if len(blocks) > 1 else "its SEARCH text"
        lines = content.split("\n")
        applied = None
        for key in (_exact, None, _no_trailing, _no_indent):
            if key is None:  # an exact match inside lines ("a fragment of a line")
                text = "\n".join(block.search)
                count = content.count(text) if text else 0
                if count == 1:
                    applied = content.replace(text, "\n".join(block.replace), 1)
                    break
                if count > 1:
                    _ambiguous(shown_path, where, block, count)
                continue
            found = _find(lines, block.search, key)
            if len(found) > 1:
                _ambiguous(shown_path, where, block, len(found))
            if found:
                start = found[0]
                old = lines[start : start + len(block.search)]
                new = list(block.replace)
                if key is _no_indent:
                    new = _reindent(block.search, old, new)
                if old and all(line.endswith("\r") for line in old if line):
                    new = [line if line.endswith("\r") else line + "\r" for line in new]
                applied = "\n".join(lines[:start] + new + lines[start + len(block.search) :])
                break
        if applied is None:
            raise EditNotApplied(
                f"The edit to {shown_path} was not applied: {where} was not found in the file, even "
                f"ignoring whitespace. It begins:\n{_quote(block.search)}",
                "edit_no_match",
            )
        content = applied
    return content


def _ambiguous(shown_path: str, where: str, block: SearchReplace, count: int) -> None:
    raise EditNotApplied(
        f"The edit to {shown_path} was not applied: {where} matches {count} places in the file; "
        f"quote more lines so it matches exactly one. It begins:\n{_quote(block.search)}",
        "edit_no_match",
    )


def _quote(lines: list[str]) -> str:
    shown = [line for line in lines if line.strip()][:3]
    more = "\n    ..." if len([line for line in lines if line.strip()]) > 3 else ""
    return "\n".join("    " + _shown_line(line) for line in shown) + more


def _reindent(search: list[str], matched: list[str], replace: list[str]) -> list[str]:
    """The REPLACE lines moved from the SEARCH text's indentation to the file's."""
    pairs = [(s, m) for s, m in zip(search, matched) if s.strip()]
    if not pairs:
        return replace
    was, now = _indent(pairs[0][0]), _indent(pairs[0][1])
    out = []
    for line in replace:
        if not line.strip():
            out.append(line)
        elif line.startswith(was):
            out.append(now + line[len(was) :])
        else:
            out.append(line)
    return out


def unified_diff(path: str, before: str, after: str) -> str:
    return "\n".join(
        difflib.unified_diff(before.split("\n"), after.split("\n"), f"a/{path}", f"b/{path}", lineterm="")
    )


# --- The parser ------------------------------------------------------------------------------------

_BLOCK_NAMES = ("file", "edit", "delete")
_FEED_SLICE = 4096
_CLOSE_NAMES = ("file", "edit")
_TAG_NAMES = _BLOCK_NAMES + tuple("/" + n for n in _BLOCK_NAMES)
_TAG_DELIMITERS = set(" \t\r\n>/")
_TAG_END = re.compile(r"[<>]")
_ATTRIBUTE = re.compile(r"""([A-Za-z_][\w-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def _close_pattern(name: str, eof: bool) -> str:
    """A closing tag that ends its line: only blanks (at most MAX_CLOSE_BLANKS) between it and the line
    break, or the end of the answer once the stream has ended."""
    line_end = r"(?=\n|\Z)" if eof else r"(?=\n)"
    return f"</{name}>[ \\t\\r]{{0,{MAX_CLOSE_BLANKS}}}{line_end}"


# Keyed by (block kind, stream ended). Only a decided match counts: before the end of the stream a
# closing tag must be followed by its line break, so a split never changes what the text means.
# Inside a block, at a line start: the block's closing tag on a line of its own (group 1), or a block
# tag (the model nested blocks or forgot to close one).
_LINE_TAG = {
    (name, eof): re.compile(
        r"\r?\n(?:(" + _close_pattern(name, eof) + r")|<(?:" + "|".join(_BLOCK_NAMES) + r")[\s/>])"
    )
    for name in _CLOSE_NAMES
    for eof in (False, True)
}
# A closing tag that ends the line it is on: on a one-line block's line, or (matched at the start of a
# line) a closing tag in the chat text.
_CLOSE_ENDING_LINE = {
    (name, eof): re.compile(_close_pattern(name, eof)) for name in _CLOSE_NAMES for eof in (False, True)
}


def _could_close(tail: str, name: str) -> bool:
    """Could `tail` (text after a line start, or a "<" on a one-line block's line) still become the
    closing tag `</name>` ending its line, once more text arrives?"""
    closer = f"</{name}>"
    if len(tail) <= len(closer):
        return closer.startswith(tail)
    rest = tail[len(closer) :]
    return tail.startswith(closer) and len(rest) <= MAX_CLOSE_BLANKS and not rest.strip(" \t\r")


def _could_start_line(tail: str, name: str) -> bool:
    """Could `tail`, the text after the last line break, still become a tag that counts at a line start:
    the block's closing tag on a line of its own, or a block tag (which waits for its delimiter)?"""
    return _could_close(tail, name) or any(f"<{b}".startswith(tail) for b in _BLOCK_NAMES)


def _holdback(text: str, name: str) -> int:
    """How many trailing characters of a block's text to hold back: a line start that may still become
    a closing tag or a block tag, or a "\r" that may start a "\r\n". At most MAX_HOLDBACK_CHARS."""
    nl = text.rfind("\n")
    if nl != -1 and _could_start_line(text[nl + 1 :], name):
        return len(text) - (nl - 1 if nl > 0 and text[nl - 1] == "\r" else nl)
    return 1 if text.endswith("\r") else 0


def _holdback_first_line(text: str, name: str) -> int:
    """The same on a one-line block's line (`<file path="a.txt">hello</file>`), where the closing tag
    may follow content: hold back a "<" that may still become it."""
    lt = text.rfind("<", max(0, len(text) - (len(name) + 3 + MAX_CLOSE_BLANKS)))
    if lt != -1 and _could_close(text[lt:], name):
        return len(text) - lt
    return 1 if text.endswith("\r") else 0


@dataclass
class _Block:
    """The block being read: a file or an edit (rejected: read to its end, content dropped)."""

    kind: str
    path: str | None
    shown_path: str
    rejected: bool = False
    at_start: bool = True  # the one newline after the opening tag is not yet dropped
    # The content began at a line start (a newline followed the opening tag) and nothing of it has
    # been consumed yet: its first character starts a line, so "</file>" there ends an empty file.
    fresh: bool = False
    # The content began on the opening tag's line and has no line break yet: a one-line block, which a
    # closing tag ending that line ends (`<file path="a.txt">hello</file>`).
    first_line: bool = False
    parts: list[str] = field(default_factory=list)
    size: int = 0
    newlines: int = 0  # line breaks in the content read so far (rejected or not)
    close_line: int = 0  # the line of the block's body its closing tag stood on


class StreamParser:
    """Turns the model's streamed text into events. See the module docstring for the rules.

    `base_files` are the app's files before this response (the previous version): edits apply to
    them, deletes remove from them, and `result_files()` starts from them.
    """

    def __init__(self, base_files: dict[str, str] | None = None):
        self.base_files: dict[str, str] = dict(base_files or {})
        self.files: dict[str, str] = {}  # written or edited by this response, whole new content
        self.deleted: list[str] = []  # deleted by this response (and not written again)
        self.changed_paths: list[str] = []  # written, edited or deleted, in the order first touched
        self.issues: list[ProtocolIssue] = []
        self._current: dict[str, str] = dict(self.base_files)
        self._written: set[str] = set()  # written whole or deleted: a second time is a duplicate
        self._text_parts: list[str] = []
        self._buf = ""
        self._block: _Block | None = None
        self._finished = False
        self._eof = False  # finish() has begun: the end of the answer ends a line too
        self._read = 0  # characters fed
        self._stopped = False  # over MAX_ANSWER_CHARS or MAX_ISSUES: nothing more is read
        self._fatal = False
        self._line_start = True  # the next character of chat text starts a line
        # The block ended last by its closing tag, while only chat text has followed it: a second
        # closing tag of its kind on a line of its own means its first one may have been content.
        self._last_closed: _Block | None = None
        self._text_since_close = False  # chat text other than blanks since _last_closed ended

    # --- results

    @property
    def explanation(self) -> str:
        """All text outside tags, without leading/trailing blank lines and with runs of blank lines
        (left where files were) folded into one."""
        text = "".join(self._text_parts)
        lines = [line.rstrip() for line in text.splitlines()]
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        while out and not out[-1]:
            out.pop()
        return "\n".join(out)

    def result_files(self) -> dict[str, str]:
        """The base files with this response's writes, edits and deletes applied, in order. Only
        whole files and fully applied edits are in it; keep it as a version only when not has_fatal."""
        return dict(self._current)

    @property
    def fatal_issues(self) -> list[ProtocolIssue]:
        return [issue for issue in self.issues if issue.fatal]

    @property
    def has_fatal(self) -> bool:
        """True from the moment a fatal issue is known: right after the feed() that found it (a file
        over its size limit, binary content, an edit that did not apply, an answer over
        MAX_ANSWER_CHARS, ...), not only after finish(). A caller may then stop reading the stream:
        the answer cannot become a version whatever follows."""
        return self._fatal

    @property
    def stopped(self) -> bool:
        """The answer passed MAX_ANSWER_CHARS or MAX_ISSUES: feed() reads nothing more, finish() adds
        nothing (and has_fatal is true)."""
        return self._stopped

    # --- feeding

    def feed(self, chunk: str) -> list[Event]:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if self._stopped:
            return []
        over = len(chunk) > MAX_ANSWER_CHARS - self._read
        if over:  # read exactly the first MAX_ANSWER_CHARS, however the answer was split
            chunk = chunk[: MAX_ANSWER_CHARS - self._read]
        self._read += len(chunk)
        events: list[Event] = []
        # In slices, so that the buffer stays small whatever the chunk: each step copies what is left
        # of it, which made one 2 MB chunk full of "<" take seconds. The result is the same (any split
        # of the text parses alike).
        for start in range(0, len(chunk), _FEED_SLICE):
            self._buf += chunk[start : start + _FEED_SLICE]
            while not self._stopped and self._step(events):
                pass
        if over:
            self._stop(events, ANSWER_TOO_LARGE.format(limit=MAX_ANSWER_CHARS), TOO_LARGE)
        return events

    def finish(self, finish_reason: str | None = None) -> list[Event]:
        """End of the stream: flush what was held back, report a block left open, and check the
        whole answer (cut off by the length limit, code in the chat, tags Kiln does not know)."""
        if self._finished:
            return []
        self._finished = True
        if self._stopped:  # the answer was refused; what followed was never read
            return []
        events: list[Event] = []
        self._eof = True
        while not self._stopped and self._step(events):
            pass
        if self._stopped:
            return events
        length = finish_reason == "length"
        block = self._block
        if block is not None:
            self._block = None
            what = "file" if block.kind == "file" else "edit"
            if length:
                self._issue(
                    events,
                    f"The response hit the length limit in the middle of the {what} {block.shown_path}, "
                    f"so the {what} was not {'written' if what == 'file' else 'applied'}.",
                    block.path if not block.rejected else None,
                    CUT_OFF,
                )
            elif not block.rejected:
                self._issue(
                    events,
                    f"{block.shown_path} was cut off: the response ended before </{block.kind}>, "
                    f"so the {what} was not {'written' if what == 'file' else 'applied'}."
                    + _mid_line_close_hint(block),
                    block.path,
                    UNCLOSED,
                )
        elif self._buf.startswith("<") and self._tag_name(self._buf):
            if length:
                self._issue(
                    events, "The response hit the length limit in the middle of a tag.", None, CUT_OFF
                )
            else:
                self._issue(
                    events, f"The response ended in the middle of a tag: {_shown(self._buf)}.", None, UNCLOSED
                )
        elif self._buf:
            self._text(events, self._buf)
        self._buf = ""
        if length and not any(issue.kind == CUT_OFF for issue in self.issues):
            self._issue(
                events,
                "The response was cut off by the length limit, so it may be incomplete; nothing was kept.",
                None,
                CUT_OFF,
            )
        self._check_explanation(events)
        return events

    # --- internals --------------------------------------------------------------------------------

    def _step(self, events: list[Event]) -> bool:
        """Consume what can be decided from the buffer; False when more text is needed."""
        if self._block is None:
            return self._step_text(events)
        return self._step_block(events)

    def _step_text(self, events: list[Event]) -> bool:
        buf = self._buf
        lt = buf.find("<")
        if lt == -1:
            if buf:
                self._text(events, buf)
                self._buf = ""
            return False
        if lt > 0:
            self._text(events, buf[:lt])
            self._buf = buf = buf[lt:]
        name = self._tag_name(buf)
        if name is None:  # definitely not one of our tags: an ordinary "<" in the text
            self._text(events, "<")
            self._buf = buf[1:]
            return True
        if name == "":  # could still become a tag
            return False
        if name in ("/file", "/edit"):
            return self._step_close_in_text(events, name[1:])
        # The tag ends at the first ">"; a "<" first means it was not a tag. Look only within the size
        # limit, so the answer never depends on how much has arrived.
        end = _TAG_END.search(buf, 1, MAX_TAG_CHARS)
        if end is None:
            if len(buf) < MAX_TAG_CHARS:
                return False
            self._issue(
                events,
                f"A <{name.lstrip('/')}> tag was never closed with '>'; it was left as text.",
                None,
                SYNTAX,
            )
            self._text(events, "<")
            self._buf = buf[1:]
            return True
        if buf[end.start()] == "<":
            self._text(events, "<")
            self._buf = buf[1:]
            return True
        tag, self._buf = buf[: end.start() + 1], buf[end.start() + 1 :]
        self._open(events, name, tag)
        return True

    def _step_close_in_text(self, events: list[Event], kind: str) -> bool:
        """A closing tag in the chat text counts only on a line of its own; anywhere else it is text
        ("Use </file> to end a file block")."""
        buf = self._buf
        if self._line_start:
            match = _CLOSE_ENDING_LINE[kind, self._eof].match(buf)
            if match:
                self._buf = buf[match.end() :]
                self._stray_close(events, kind)
                return True
            if not self._eof and _could_close(buf, kind):
                return False
        self._text(events, "<")
        self._buf = buf[1:]
        return True

    def _stray_close(self, events: list[Event], kind: str) -> None:
        """A closing tag on a line of its own with no block open. Right after a block of its kind
        (with only chat text between) it means that block's own closing tag may have been a line of
        its content: the block was cut short, and the rest of it went to the chat."""
        last, self._last_closed = self._last_closed, None
        self._line_start = False
        if last is None or last.kind != kind:
            self._issue(
                events, f"Found </{kind}> without a matching opening tag; it was ignored.", None, STRAY_CLOSE
            )
            return
        a_kind = "a file" if kind == "file" else "an edit"
        template = EARLY_CLOSE if self._text_since_close else SECOND_CLOSE
        message = template.format(path=last.shown_path, line=last.close_line, kind=kind, a_kind=a_kind)
        self._issue(events, message, last.path, CLOSED_EARLY)

    @staticmethod
    def _tag_name(buf: str) -> str | None:
        """For a buffer starting with "<": the tag name ("file", "/file", ...) if it is one of ours,
        "" if more text is needed to tell, None if it is not one of ours."""
        for name in _TAG_NAMES:
            head = "<" + name
            if len(buf) <= len(head):
                if head.startswith(buf):
                    return ""
                continue
            if buf.startswith(head) and buf[len(head)] in _TAG_DELIMITERS:
                return name
        return None

    def _open(self, events: list[Event], name: str, tag: str) -> None:
        self._line_start = False
        if name == "/delete":
            return  # "<delete ...></delete>": the closing tag of a block with no body
        self._last_closed = None
        inner = tag[len(name) + 1 : -1]
        self_closing = inner.rstrip().endswith("/")
        if self_closing:
            inner = inner.rstrip()[:-1]
        attrs: dict[str, str] = {}
        for match in _ATTRIBUTE.finditer(inner):
            value = next(v for v in match.groups()[1:] if v is not None)
            attrs.setdefault(match.group(1).lower(), value)
        raw_path = attrs.get("path")
        shown = _shown(raw_path) if raw_path is not None else "a file"

        if name == "delete":
            if raw_path is None:
                self._issue(
                    events, "A <delete/> tag has no path attribute; nothing was deleted.", None, SYNTAX
                )
                return
            try:
                path = normalise_path(raw_path)
            except ProtocolError as exc:
                self._issue(events, f"{exc} Nothing was deleted.", raw_path, PATH)
                return
            self._delete(events, path)
            return

        if self_closing:
            self._issue(
                events,
                f"The <{name}/> tag for {shown} has no content; write <{name} ...>...</{name}>.",
                raw_path,
                SYNTAX,
            )
            return
        dropped = "its content was dropped" if name == "file" else "it was not applied"
        if raw_path is None:
            self._issue(events, f"A <{name}> tag has no path attribute; {dropped}.", None, SYNTAX)
            self._block = _Block(kind=name, path=None, shown_path=shown, rejected=True)
            return
        try:
            path = normalise_path(raw_path)
        except ProtocolError as exc:
            what = "The file was not written." if name == "file" else "The edit was not applied."
            self._issue(events, f"{exc} {what}", raw_path, PATH)
            self._block = _Block(kind=name, path=raw_path, shown_path=shown, rejected=True)
            return
        shown = _shown(path)
        if name == "edit":
            self._block = _Block(kind="edit", path=path, shown_path=shown)
            if path not in self._current:
                self._block.rejected = True
                gone = " (it was deleted earlier in this answer)" if path in self.deleted else ""
                self._issue(
                    events,
                    f"Cannot edit {shown}: the app has no such file{gone}. Edits apply to the current files; "
                    "write a new file whole with <file>.",
                    path,
                    EDIT_MISSING_FILE,
                )
            return
        conflict = self._folder_conflict(path)
        if conflict is None and path not in self._current and len(self._current) >= MAX_FILES:
            conflict = f"{shown} would be file number {MAX_FILES + 1}; an app has at most {MAX_FILES} files."
            kind = TOO_LARGE
        else:
            kind = PATH
        if conflict:
            self._issue(events, f"{conflict} The file was not written.", path, kind)
            self._block = _Block(kind="file", path=path, shown_path=shown, rejected=True)
            return
        self._block = _Block(kind="file", path=path, shown_path=shown)
        events.append(FileStarted(path))

    def _folder_conflict(self, path: str) -> str | None:
        """A file may not also be a folder: "src" and "src/App.jsx" cannot both exist."""
        prefix = path + "/"
        for other in self._current:
            if other.startswith(prefix):
                return f"{_shown(path)} is a folder of the app ({_shown(other)} is in it), so it cannot be a file."
            if path.startswith(other + "/"):
                return f"{_shown(path)} would be inside {_shown(other)}, which is a file."
        return None

    def _step_block(self, events: list[Event]) -> bool:
        """Read a block's content up to its closing tag. The closing tag counts only on a line of its
        own (or ending a one-line block's line); a block tag at a line start ends the block as not
        closed. Only a line start that may still become one of those is held back."""
        block = self._block
        buf = self._buf
        if block.at_start:
            if not buf or buf == "\r":
                return False
            if buf.startswith("\r\n"):
                buf = buf[2:]
                block.fresh = True
            elif buf.startswith("\n"):
                buf = buf[1:]
                block.fresh = True
            else:
                block.first_line = True
            block.at_start = False
            self._buf = buf

        if block.first_line:
            nl = buf.find("\n")
            close = _CLOSE_ENDING_LINE[block.kind, self._eof].search(buf, 0, len(buf) if nl == -1 else nl + 1)
            if close:
                block.close_line = 1
                self._content(events, block, buf[: close.start()])
                self._close_block(events, block, close.end())
                return True
            if nl == -1:
                keep = 0 if self._eof else _holdback_first_line(buf, block.kind)
                self._content(events, block, buf[: len(buf) - keep])
                self._buf = buf[len(buf) - keep :]
                return False
            block.first_line = False  # the line ended; from here on tags count at line starts

        # Fresh content begins at a line start: read it as if a line break came before it.
        offset = 1 if block.fresh else 0
        text = "\n" + buf if block.fresh else buf
        found = _LINE_TAG[block.kind, self._eof].search(text)
        if found is None:
            keep = 0 if self._eof else min(_holdback(text, block.kind), len(buf))
            if keep < len(buf):
                block.fresh = False
            self._content(events, block, buf[: len(buf) - keep])
            self._buf = buf[len(buf) - keep :]
            return False
        start = max(found.start() - offset, 0)  # the line break before the tag is not content
        self._content(events, block, buf[:start])
        if found.group(1):
            # The line the closing tag is on: lines of content, plus the one its line break ended.
            block.close_line = block.newlines + 1 + (found.start() >= offset)
            self._close_block(events, block, found.end() - offset)
            return True
        self._buf = buf[start:].lstrip("\r\n")
        self._block = None
        self._line_start = True
        if not block.rejected:
            what = "file was not written" if block.kind == "file" else "edit was not applied"
            self._issue(
                events,
                f"{block.shown_path} was not closed with </{block.kind}> before the next tag (nested or "
                f"unfinished block), so the {what}." + _mid_line_close_hint(block),
                block.path,
                NESTED,
            )
        return True

    def _close_block(self, events: list[Event], block: _Block, end: int) -> None:
        """The block's closing tag (and the blanks after it) ends at buf[end]; its line break is next."""
        self._buf = self._buf[end:]
        self._line_start = False
        self._end_block(events, block)
        self._last_closed = block
        self._text_since_close = False

    def _content(self, events: list[Event], block: _Block, text: str) -> None:
        block.newlines += text.count("\n")
        if not text or block.rejected:
            return
        what = "the file was not written" if block.kind == "file" else "the edit was not applied"
        limit = MAX_FILE_BYTES if block.kind == "file" else MAX_EDIT_BYTES
        bad = _BINARY.search(text)
        # Whichever comes first in the content decides, so the pieces it arrived in never matter.
        before = text if bad is None else text[: bad.start()]
        if bad and block.size + len(before.encode("utf-8", "surrogatepass")) <= limit:
            block.rejected = True
            char = "a NUL byte" if bad.group() == "\x00" else f"binary data ({repr(bad.group())[1:-1]})"
            self._issue(events, f"{block.shown_path} contains {char}; {what}.", block.path, BINARY)
            return
        block.size += len(text.encode("utf-8", "surrogatepass"))
        if block.size > limit:
            block.rejected = True
            self._issue(
                events,
                f"{block.shown_path} is larger than {limit // 1000} KB; {what}.",
                block.path,
                TOO_LARGE,
            )
            return
        block.parts.append(text)
        if block.kind == "file":
            events.append(FileDelta(block.path, text))

    def _end_block(self, events: list[Event], block: _Block) -> None:
        self._block = None
        if block.rejected:
            return
        content = "".join(block.parts)
        if block.kind == "edit":
            self._apply_edit(events, block.path, content)
            return
        path = block.path
        if path in self._written:
            self._issue(
                events,
                f"{block.shown_path} was written more than once; the last version is kept.",
                path,
                DUPLICATE,
            )
        self._check_placeholder(events, path, content)
        self._written.add(path)
        self._set(path, content)
        events.append(FileCompleted(path, content))

    def _apply_edit(self, events: list[Event], path: str, body: str) -> None:
        shown = _shown(path)
        before = self._current[path]
        try:
            blocks = parse_edit_body(body, shown)
            after = apply_search_replace(before, blocks, shown)
        except EditNotApplied as exc:
            self._issue(events, str(exc), path, exc.kind)
            return
        if len(after.encode("utf-8")) > MAX_FILE_BYTES:
            self._issue(
                events,
                f"{shown} would be larger than {MAX_FILE_BYTES // 1000} KB after the edit; it was not applied.",
                path,
                TOO_LARGE,
            )
            return
        old_lines = frozenset(line.strip() for block in blocks for line in block.search)
        self._check_placeholder(
            events, path, "\n".join(line for b in blocks for line in b.replace), ignore=old_lines
        )
        self._set(path, after)
        events.append(EditApplied(path, unified_diff(path, before, after), after))

    def _delete(self, events: list[Event], path: str) -> None:
        shown = _shown(path)
        if path not in self._current:
            again = " (it was already deleted)" if path in self.deleted else ""
            self._issue(
                events, f"Cannot delete {shown}: the app has no such file{again}.", path, DELETE_MISSING
            )
            return
        if path in self._written:
            self._issue(
                events, f"{shown} was written and deleted in the same answer; it is deleted.", path, DUPLICATE
            )
        self._written.add(path)
        del self._current[path]
        self.files.pop(path, None)
        if path not in self.deleted:
            self.deleted.append(path)
        if path not in self.changed_paths:
            self.changed_paths.append(path)
        events.append(FileDeleted(path))

    def _set(self, path: str, content: str) -> None:
        self._current[path] = content
        self.files[path] = content
        if path in self.deleted:
            self.deleted.remove(path)
        if path not in self.changed_paths:
            self.changed_paths.append(path)

    def _check_placeholder(self, events: list[Event], path: str, text: str, ignore=frozenset()) -> None:
        found = find_placeholder(path, text, ignore=ignore)
        if found:
            number, line = found
            where = f"line {number}" if not ignore else "an edit"
            self._issue(
                events,
                f'{_shown(path)} has a placeholder instead of code ({where}: "{_shown_line(line, 80)}"). '
                "Every file must be written in full, so this answer was not kept.",
                path,
                LAZY_PLACEHOLDER,
            )

    def _check_explanation(self, events: list[Event]) -> None:
        text = self.explanation
        foreign = []
        for match in _FOREIGN_TAG.finditer(text):
            if match.group(1) not in foreign:
                foreign.append(match.group(1))
        if foreign:
            names = ", ".join(f"<{name}>" for name in foreign[:3])
            self._issue(
                events,
                f"The answer has a tag Kiln could not read or does not know ({names}); only "
                '<file path="...">, <edit path="..."> and <delete path="..."/> are applied, so that part '
                "was shown as text.",
                None,
                UNKNOWN_TAG,
            )
        fenced, loose = count_code_in_text(text)
        wrote = bool(self.changed_paths)
        if fenced >= (2 if wrote else 1) or loose >= (5 if wrote else 3):
            lines = fenced + loose
            tail = (
                "; it was not applied to the app."
                if wrote
                else ", and no file was written, so there is nothing to build."
            )
            self._issue(
                events,
                f"The answer put code in the chat ({lines} line{'s' if lines != 1 else ''}) instead of in "
                f"<file> or <edit> blocks{tail}",
                None,
                CODE_IN_CHAT,
                fatal=not wrote,
            )

    def _text(self, events: list[Event], text: str) -> None:
        # NUL and lone surrogates cannot be stored or sent as UTF-8; the chat shows U+FFFD instead.
        if "\x00" in text or _has_surrogate(text):
            text = _UNSTORABLE.sub("\ufffd", text)
        self._text_parts.append(text)
        events.append(TextDelta(text))
        if text:
            self._line_start = text.endswith("\n")
            if self._last_closed is not None and not self._text_since_close and text.strip():
                self._text_since_close = True

    def _issue(
        self, events: list[Event], message: str, path: str | None, kind: str, fatal: bool | None = None
    ) -> None:
        if self._stopped:
            return
        if len(self.issues) >= MAX_ISSUES:
            self._stop(events, TOO_MANY_ISSUES.format(limit=MAX_ISSUES), TOO_MANY)
            return
        if path is not None and _UNSTORABLE.search(path):
            path = _UNSTORABLE.sub("\ufffd", path)  # a rejected raw path, kept showable and storable
        issue = ProtocolIssue(message, path, kind, kind in FATAL_KINDS if fatal is None else fatal)
        self.issues.append(issue)
        self._fatal = self._fatal or issue.fatal
        events.append(issue)

    def _stop(self, events: list[Event], message: str, kind: str) -> None:
        """A fatal issue after which nothing more of the answer is read."""
        if self._stopped:
            return
        issue = ProtocolIssue(message, None, kind, True)
        self.issues.append(issue)
        events.append(issue)
        self._fatal = self._stopped = True


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _mid_line_close_hint(block: _Block) -> str:
    """For a block that was never closed: point at a closing tag in its content that did not count
    because it was not on a line of its own (the likely reason)."""
    if block.rejected:
        return ""
    content = "".join(block.parts)
    at = content.find(f"</{block.kind}>")
    if at == -1:
        return ""
    return CLOSE_MID_LINE.format(kind=block.kind, line=content.count("\n", 0, at) + 1)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text) if not text.isascii() else False


def parse(
    text: str, finish_reason: str | None = None, base_files: dict[str, str] | None = None
) -> StreamParser:
    """Parse a whole response at once (for stored outputs and tests)."""
    parser = StreamParser(base_files)
    parser.feed(text)
    parser.finish(finish_reason)
    return parser


def bounded_raw_output(raw: str) -> tuple[str, str]:
    """What to store of an answer's raw text: (at most RAW_OUTPUT_KEEP_CHARS of it, a note saying it
    was cut, or "" when it is whole). An answer that can become a version is never cut."""
    if len(raw) <= RAW_OUTPUT_KEEP_CHARS:
        return raw, ""
    return raw[:RAW_OUTPUT_KEEP_CHARS], RAW_OUTPUT_CUT.format(kept=RAW_OUTPUT_KEEP_CHARS, read=len(raw))
