"""Property-based test of the output parser: thousands of generated and mutated answers, each fed in
random pieces cut at token boundaries, must never crash, never yield a path outside the app, and parse
exactly as the whole text does.

Answers are built from real blueprint outputs (first answers and follow-up edits), then mutated: cut,
duplicated, hostile tags and markers injected, "../" and NUL put into paths, random unicode, markers
swapped or deleted. The number of cases run is printed in the terminal summary (tests/generation/
conftest.py) and checked here; KILN_FUZZ_EXAMPLES scales every test (default: 10,400 in all) and
KILN_FUZZ_RANDOM=1 draws new cases instead of the fixed ones.
"""

from __future__ import annotations

import json
import os
import posixpath
import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.frames import from_parser_event
from generation.blueprint.responder import respond
from generation.blueprint.server import split_tokens
from generation.prompts import build_messages
from generation.protocol import (
    ISSUE_KINDS,
    MAX_FILE_BYTES,
    EditApplied,
    FileCompleted,
    FileDeleted,
    FileDelta,
    FileStarted,
    ProtocolIssue,
    StreamParser,
    normalise_path,
    parse,
)

SCALE = float(os.environ.get("KILN_FUZZ_EXAMPLES", "10400")) / 10400
CASES: dict[str, int] = {}  # test name -> cases run; read by conftest.py for the summary


def _fuzz_settings(examples: int):
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        # The same cases on every run, so a failure is reproducible; KILN_FUZZ_RANDOM=1 explores new ones.
        derandomize=os.environ.get("KILN_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# --- Material: real blueprint answers ---------------------------------------------------------------

PROMPTS = [
    "a todo list where I can add, tick and delete tasks",
    "a recipe book with ingredients, cooking time and rating",
    "an expense tracker with amount, date, category and paid",
    "a bug tracker with title, severity, status (open, fixed) and description",
]
FOLLOW_UPS = ["add a due date", "make it dark", "sort by priority", "rename tasks to chores"]


def _material():
    firsts, bases, follow_ups = [], [], []
    for i, prompt in enumerate(PROMPTS):
        answer = respond([{"role": "user", "content": prompt}], seed=i)
        files = parse(answer).files
        firsts.append(answer)
        bases.append(files)
        for request in FOLLOW_UPS[: 2 if i else 4]:
            messages = build_messages(history=[(prompt, answer)], files=files, prompt=request)
            follow_ups.append((len(bases) - 1, respond(messages, seed=i)))
    return firsts, bases, follow_ups


FIRSTS, BASES, FOLLOW_UP_ANSWERS = _material()

HOSTILE = [
    '<file path="../../etc/passwd">\nroot\n</file>\n',
    '<file path="/abs.js">x</file>',
    '<file path="src\\\\win.js">x</file>',
    '<file path="src">\nfolder?\n</file>\n',
    '<file path="a<b.js">x</file>',
    '<file path="">\n',
    "<file>\n",
    "</file>",
    "</edit>",
    "</delete>",
    '<edit path="src/App.jsx">\n',
    '<edit path="app.json">\n<<<<<<< SEARCH\n{\n=======\n{\n>>>>>>> REPLACE\n</edit>\n',
    '<edit path="missing.js">\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n</edit>\n',
    "<<<<<<< SEARCH\n",
    "=======\n",
    ">>>>>>> REPLACE\n",
    '<delete path="src/App.jsx"/>',
    '<delete path="../app.json"/>',
    '<delete path="nope.js"/>\n',
    "\n<file ",
    "\n<edit ",
    "<fi",
    "\x00",
    "\ud800",
    "\x07",
    "\r\n",
    "// ... existing code ...\n",
    "```jsx\nconst a = 1;\n```\n",
    '<create path="x.js">y</create>',
    "...",
    "\u202e\u200b\ufeff",
    "é😀中",
    # Closing tags that count only on a line of their own (and the blanks a line may end with).
    "</file>  \n",
    "\n</file>\t\r\n",
    "\n</edit> \n",
    '"Use </file> to end a file block"',
    "\n</file> and more\n",
    "\n</file>" + " " * 17 + "\n",
    '<file path="one.txt">one line</file>\n',
    '<file path="empty.txt"></file>',
    "\r",
]
MARKERS = re.compile(r"</?(?:file|edit|delete)\b[^>]*>|<{7} SEARCH|={7}|>{7} REPLACE|\n")
EVIL_PATHS = [
    "../x.js",
    "/etc/x",
    "a/../../b",
    "C:/x",
    "~/x",
    "src/\x00.js",
    "a\\b",
    "",
    "src/./../..",
    "\ud800.js",
    "src/",
]


# --- Strategies -------------------------------------------------------------------------------------


def _slice_files(rng: random.Random, files: dict[str, str]) -> str:
    """A few whole or shortened <file> blocks taken from a real answer's files."""
    parts = []
    for path in rng.sample(sorted(files), rng.randint(1, 3)):
        lines = files[path].split("\n")
        start = rng.randrange(len(lines))
        content = "\n".join(lines[start : start + rng.randint(1, 60)]) if len(lines) > 60 else files[path]
        parts.append(f'<file path="{path}">\n{content}\n</file>')
    return "Here is the change.\n" + "\n".join(parts) + "\nDone.\n"


def _edits(rng: random.Random, files: dict[str, str]) -> str:
    """<edit> blocks against the base files (mostly applicable), plus a delete now and then."""
    parts = ["I changed a few things."]
    for path in rng.sample(sorted(files), rng.randint(1, 2)):
        lines = files[path].split("\n")
        blocks = []
        for _ in range(rng.randint(1, 3)):
            start = rng.randrange(len(lines))
            old = lines[start : start + rng.randint(1, 4)]
            new = [line.replace("a", "A", 1) for line in old] + (["// added"] if rng.random() < 0.3 else [])
            if rng.random() < 0.2:
                old = [line.strip() for line in old]  # whitespace-tolerant path
            blocks.append(
                "<<<<<<< SEARCH\n" + "\n".join(old) + "\n=======\n" + "\n".join(new) + "\n>>>>>>> REPLACE\n"
            )
        parts.append(f'<edit path="{path}">\n' + "".join(blocks) + "</edit>")
    if rng.random() < 0.3:
        parts.append(f'<delete path="{rng.choice(sorted(files))}"/>')
    return "\n".join(parts) + "\n"


def _mutate(rng: random.Random, text: str, extra: str) -> str:
    kind = rng.randrange(8)
    i = rng.randrange(len(text) + 1)
    if kind == 0:  # cut
        return text[:i]
    if kind == 1:  # duplicate a slice
        j = min(len(text), i + rng.randint(1, 400))
        k = rng.randrange(len(text) + 1)
        return text[:k] + text[i:j] + text[k:]
    if kind == 2:  # inject something hostile
        return text[:i] + rng.choice(HOSTILE) + text[i:]
    if kind == 3:  # a path trick in an existing tag
        paths = list(re.finditer(r'path="([^"]*)"', text))
        if paths:
            m = rng.choice(paths)
            return text[: m.start(1)] + rng.choice(EVIL_PATHS) + text[m.end(1) :]
        return text
    if kind == 4:  # random unicode
        return text[:i] + extra + text[i:]
    markers = list(MARKERS.finditer(text))
    if not markers:
        return text
    if kind == 5:  # delete a marker
        m = rng.choice(markers)
        return text[: m.start()] + text[m.end() :]
    if kind == 6:  # swap two markers
        a, b = (
            sorted(rng.sample(markers, 2), key=lambda m: m.start())
            if len(markers) > 1
            else (markers[0], markers[0])
        )
        if a is b:
            return text
        return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]
    m = rng.choice(markers)  # duplicate a marker
    return text[: m.start()] + m.group() + text[m.start() :]


@st.composite
def answers(draw, source: str):
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    base_index = rng.randrange(len(BASES))
    base = BASES[base_index]
    if source == "first":
        text = _slice_files(rng, rng.choice([base, *BASES]))
        if rng.random() < 0.1:
            text = rng.choice(FIRSTS)  # now and then a whole real answer
        base = {} if rng.random() < 0.5 else base
    elif source == "follow_up":
        base_index, text = rng.choice(FOLLOW_UP_ANSWERS)
        base = BASES[base_index]
    else:
        text = _edits(rng, base)
    mutations = draw(st.integers(0, 4))
    extra = draw(st.text(min_size=1, max_size=8))
    for _ in range(mutations):
        text = _mutate(rng, text, extra)
    finish_reason = rng.choice(["stop", "stop", "length", None])
    return text, base, finish_reason, mutations, rng.random()


# --- The properties ---------------------------------------------------------------------------------


def _pieces(text: str, r: float) -> list[str]:
    """The text in random pieces cut at token boundaries (as the model server sends them)."""
    rng = random.Random(r)
    tokens = split_tokens(text)
    if "".join(tokens) != text:  # characters split_tokens does not cover: cut anywhere instead
        tokens = list(text)
    keep = rng.choice([0.05, 0.2, 0.6])
    pieces, current = [], ""
    for token in tokens:
        current += token
        if rng.random() < keep:
            pieces.append(current)
            current = ""
    return pieces + [current]


def _run(parser: StreamParser, pieces: list[str], finish_reason) -> list:
    events = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.finish(finish_reason)
    return events


def _inside_app(path: str) -> bool:
    return (
        normalise_path(path) == path
        and not path.startswith("/")
        and ".." not in path.split("/")
        and "\\" not in path
        and "\x00" not in path
        and posixpath.normpath(posixpath.join("/app", path)).startswith("/app/")
    )


def check(case) -> None:
    text, base, finish_reason, mutations, r = case
    whole = StreamParser(base)
    whole_events = _run(whole, [text], finish_reason)
    parser = StreamParser(base)
    events = _run(parser, _pieces(text, r), finish_reason)

    # Incremental == whole.
    assert parser.files == whole.files and list(parser.files) == list(whole.files)
    assert parser.explanation == whole.explanation
    assert parser.issues == whole.issues
    assert parser.result_files() == whole.result_files()
    assert parser.deleted == whole.deleted and parser.changed_paths == whole.changed_paths
    landmarks = (FileStarted, FileCompleted, EditApplied, FileDeleted, ProtocolIssue)
    assert [e for e in events if isinstance(e, landmarks)] == [
        e for e in whole_events if isinstance(e, landmarks)
    ]
    streamed: dict[str, str] = {}
    for e in events:  # the deltas of each file join to what it completed with
        if isinstance(e, FileStarted):
            streamed[e.path] = ""
        elif isinstance(e, FileDelta):
            streamed[e.path] += e.text
        elif isinstance(e, FileCompleted):
            assert streamed[e.path] == e.content

    # No path outside the app, anywhere.
    result = parser.result_files()
    paths = set(parser.files) | set(result) | set(parser.deleted) | set(parser.changed_paths)
    paths |= {
        e.path
        for e in events
        if isinstance(e, (FileStarted, FileCompleted, EditApplied, FileDeleted, FileDelta))
    }
    assert all(_inside_app(p) for p in paths), paths
    assert all(len(c.encode("utf-8")) <= MAX_FILE_BYTES for c in parser.files.values())

    # Frames are JSON that can be sent and stored as UTF-8.
    json.dumps([from_parser_event(e) for e in events], ensure_ascii=False).encode("utf-8")
    json.dumps(parser.explanation, ensure_ascii=False).encode("utf-8")

    # Issues are well-formed; a cut-off answer never passes; a clean real answer has no issue.
    assert all(i.kind in ISSUE_KINDS and i.message for i in parser.issues)
    if finish_reason == "length":
        assert parser.has_fatal
    if not parser.has_fatal:
        assert not any(i.kind == "cut_off" for i in parser.issues)
    return mutations, finish_reason


def _fuzz(name: str, source: str, examples: int) -> None:
    count = 0

    @_fuzz_settings(examples)
    @given(case=answers(source))
    def run(case):
        nonlocal count
        count += 1
        check(case)
        text, base, finish_reason, mutations, _ = case
        if mutations == 0 and finish_reason != "length" and source != "edits":
            assert parse(text, finish_reason, base).issues == [], "a real answer must parse cleanly"

    run()
    CASES[name] = count
    assert count >= int(examples * SCALE)


def test_fuzz_first_answers():
    _fuzz("first answers", "first", 4000)


def test_fuzz_follow_up_edit_answers():
    _fuzz("follow-up edit answers", "follow_up", 3200)


def test_fuzz_generated_edits_and_deletes():
    _fuzz("generated edits and deletes", "edits", 3200)


# --- Content that merely mentions the tags is kept whole ---------------------------------------------

# Line fragments: the tags in every position a line of JSX, HTML or Markdown may put them.
FRAGMENTS = [
    "</file>",
    "</edit>",
    "<file",
    "<edit ",
    "<delete/>",
    '<file path="x.js">',
    "  ",
    "\t",
    "\r",
    ">",
    "<",
    '{"Use </file> to end a file block"}',
    "<p>",
    "</p>",
    "x",
    "const a = 1;",
    "<<<<<<< SEARCH",
    "=======",
]
LINES = st.lists(st.sampled_from(FRAGMENTS), max_size=6).map("".join) | st.text(max_size=12)
_COUNTS_AT_LINE_START = re.compile(r"</file>[ \t\r]*|<(?:file|edit|delete)(?:[\s/>].*)?", re.DOTALL)
_BINARY = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")


def _as_content(lines: list[str]) -> str:
    """The lines as a file may hold them: a line the protocol reads as a tag (a closing tag on a line of
    its own, a block tag at a line start) indented by one space, as the system prompt teaches; no
    binary; no "\r" at the very end (it would belong to the line break before </file>)."""
    lines = [" " + line if _COUNTS_AT_LINE_START.fullmatch(line) else line for line in lines]
    return _BINARY.sub("?", "\n".join(lines)).rstrip("\r")


def test_fuzz_content_mentioning_tags_is_kept_whole():
    count = 0

    @_fuzz_settings(1000)
    @given(lines=st.lists(LINES, max_size=12), r=st.floats(0, 1))
    def run(lines, r):
        nonlocal count
        count += 1
        content = _as_content(lines)
        text = f'Intro.\n<file path="notes.txt">\n{content}\n</file>\nOutro.\n'
        rng = random.Random(r)
        cuts = sorted(rng.randrange(len(text) + 1) for _ in range(rng.choice([1, 5, 40])))
        parser, events, start = StreamParser(), [], 0
        for cut in [*cuts, len(text)]:
            events += parser.feed(text[start:cut])
            start = cut
        events += parser.finish("stop")

        assert parser.files == {"notes.txt": content}, text
        assert parser.issues == [] and parser.explanation == "Intro.\n\nOutro."
        assert "".join(e.text for e in events if isinstance(e, FileDelta)) == content

    run()
    CASES["content mentioning the tags"] = count
    assert count >= int(1000 * SCALE)
