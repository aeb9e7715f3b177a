"""The streaming parser of the model's output protocol (generation/protocol.py)."""

import random
import re

import pytest

from generation.blueprint.responder import respond
from generation.errors import ProtocolError
from generation.protocol import (
    EditApplied,
    FileCompleted,
    FileDeleted,
    FileDelta,
    FileStarted,
    ProtocolIssue,
    StreamParser,
    TextDelta,
    event_to_frame,
    normalise_path,
    parse,
)

JSX = """import { useState } from "react";

export default function App() {
  const [n, setN] = useState(0);
  return (
    <div className="app">
      <h1>Count: {n}</h1>
      <button onClick={() => setN(n + 1)}>+1</button>
      {n > 2 && n < 5 ? <p>between</p> : null}
      <file-viewer />
    </div>
  );
}"""


def feed_in_pieces(text: str, cuts: list[int], finish_reason=None) -> tuple[StreamParser, list]:
    parser, events, start = StreamParser(), [], 0
    for cut in sorted(set(cuts)) + [len(text)]:
        events += parser.feed(text[start:cut])
        start = cut
    events += parser.finish(finish_reason)
    return parser, events


def assert_same_parse(a: StreamParser, b: StreamParser) -> None:
    assert a.files == b.files
    assert list(a.files) == list(b.files)
    assert a.explanation == b.explanation
    assert a.issues == b.issues


# --- Files and text ---------------------------------------------------------------------------------


def test_it_separates_explanation_from_files():
    parser = parse('Here is your app.\n<file path="src/App.jsx">\n' + JSX + "\n</file>\nEnjoy!\n")

    assert parser.files == {"src/App.jsx": JSX}
    assert parser.explanation == "Here is your app.\n\nEnjoy!"
    assert parser.issues == []


def test_jsx_tags_inside_a_file_are_content():
    parser = parse(f'<file path="src/App.jsx">\n{JSX}\n</file>')

    content = parser.files["src/App.jsx"]
    assert '<div className="app">' in content and "</div>" in content and "<file-viewer />" in content
    assert content == JSX


def test_exactly_one_newline_is_stripped_at_each_end():
    parser = parse(
        '<file path="a.txt">\n\nline\n\n</file><file path="b.txt">same line</file>'
        '<file path="c.txt">\r\nwindows\r\n</file>'
    )

    assert parser.files == {"a.txt": "\nline\n", "b.txt": "same line", "c.txt": "windows"}


def test_file_deltas_arrive_before_the_closing_tag():
    parser = StreamParser()
    events = parser.feed('Intro\n<file path="src/App.jsx">\nconst a = 1;\nconst b = <div>2</div>;\n')

    assert FileStarted("src/App.jsx") in events
    streamed = "".join(e.text for e in events if isinstance(e, FileDelta))
    assert streamed.startswith("const a = 1;\nconst b = <div>2</div>;")
    assert not any(isinstance(e, FileCompleted) for e in events)

    events = parser.feed("</file>")
    assert events[-1] == FileCompleted("src/App.jsx", "const a = 1;\nconst b = <div>2</div>;")


def test_only_a_possible_closing_tag_is_held_back():
    parser = StreamParser()
    parser.feed('<file path="a.js">\n')

    events = parser.feed("let x = 1 </fi")
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == "let x = 1 "

    events = parser.feed("nal>")  # "</final>" was content after all
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == "</final>"


def test_deltas_join_to_the_completed_content():
    text = respond(
        [{"role": "user", "content": "a recipe book with ingredients, cooking time and rating"}], seed=5
    )
    _, events = feed_in_pieces(text, list(range(0, len(text), 7)))

    completed = {e.path: e.content for e in events if isinstance(e, FileCompleted)}
    for path, content in completed.items():
        assert "".join(e.text for e in events if isinstance(e, FileDelta) and e.path == path) == content


def test_text_deltas_carry_the_explanation():
    parser, events = feed_in_pieces('Hello <b>world</b> 1 < 2\n<file path="a">x</file>\nBye', [3, 8, 20])

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello <b>world</b> 1 < 2\n\nBye"
    assert parser.explanation == "Hello <b>world</b> 1 < 2\n\nBye"


# --- Paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("./a//b.js", "a/b.js"),
        ("src/App.jsx", "src/App.jsx"),
        (" src/./x.css ", "src/x.css"),
        ("%2e%2e/secret", "%2e%2e/secret"),  # not decoded: a harmless literal folder name
    ],
)
def test_it_normalises_paths(raw, expected):
    assert normalise_path(raw) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("/etc/passwd", "absolute"),
        ("../x", "'..'"),
        ("a/../../b", "'..'"),
        ("a/../b", "'..'"),
        ("src\\App.jsx", "backslash"),
        ("a\x00b", "NUL"),
        ("a\nb.js", "control character"),
        ("a\x1bb.js", "control character"),
        ("", "empty"),
        ("   ", "empty"),
        ("C:/Windows/win.ini", "drive letter"),
        ("c:evil", "drive letter"),
        ("src/", "folder"),
        (".", "does not name a file"),
        ("~/x", "home folder"),
        ("a" * 201, "longer than 200"),
        ("/".join(["d"] * 13) + "/f.js", "nested"),
        ("a|b", "not allowed"),
    ],
)
def test_it_rejects_unsafe_paths_with_a_clear_message(raw, reason):
    with pytest.raises(ProtocolError, match="(?i)" + re.escape(reason)):
        normalise_path(raw)


@pytest.mark.parametrize(
    "raw",
    ["/etc/passwd", "../x", "a/../../b", "src\\App.jsx", "a\x00b", "", "C:/boot.ini", "a" * 300, "x\tb"],
)
def test_a_file_with_a_bad_path_is_dropped_and_reported(raw):
    text = f'Intro\n<file path="{raw}">\nsecret content\n</file>\n<file path="ok.js">\nfine\n</file>\nDone'
    parser = parse(text)

    assert parser.files == {"ok.js": "fine"}
    assert "secret content" not in parser.explanation
    assert parser.explanation == "Intro\n\nDone"
    [issue] = parser.issues
    assert issue.path == raw.replace("\x00", "\ufffd")  # storable: no NUL
    assert "not written" in issue.message and issue.kind == "path" and issue.fatal


def test_a_file_without_a_path_is_dropped_and_reported():
    parser = parse("<file>\nsecret\n</file>\n<file name='x.js'>\nalso\n</file>")

    assert parser.files == {}
    assert [i.message for i in parser.issues] == [
        "A <file> tag has no path attribute; its content was dropped."
    ] * 2


def test_nul_bytes_in_content_drop_the_file():
    parser = parse('<file path="bin.dat">\nab\x00cd\n</file>\n<file path="ok.txt">\nok\n</file>')

    assert parser.files == {"ok.txt": "ok"}
    assert parser.issues == [
        ProtocolIssue('"bin.dat" contains a NUL byte; the file was not written.', "bin.dat", "binary", True)
    ]


def test_the_same_path_twice_keeps_the_last_version_and_says_so():
    parser = parse('<file path="a.js">\none\n</file>\n<file path="./a.js">\ntwo\n</file>')

    assert parser.files == {"a.js": "two"}
    assert parser.issues == [
        ProtocolIssue(
            '"a.js" was written more than once; the last version is kept.', "a.js", "duplicate", False
        )
    ]
    assert not parser.has_fatal


def test_single_quoted_and_unquoted_paths_work():
    parser = parse("<file path='a.js'>\n1\n</file><file path=b/c.js>\n2\n</file>")

    assert parser.files == {"a.js": "1", "b/c.js": "2"}


# --- Cut-off and malformed output --------------------------------------------------------------------


def test_a_cut_off_file_is_reported_and_not_completed():
    parser = StreamParser()
    events = parser.feed(
        'Intro\n<file path="app.json">\n{}\n</file>\n<file path="src/App.jsx">\nexport default'
    )
    events += parser.finish("length")

    assert parser.files == {"app.json": "{}"}
    assert not any(isinstance(e, FileCompleted) and e.path == "src/App.jsx" for e in events)
    [issue] = parser.issues
    assert issue.path == "src/App.jsx" and issue.kind == "cut_off" and issue.fatal
    assert "length limit" in issue.message and "not written" in issue.message


def test_a_cut_off_file_without_length_reason_does_not_blame_the_limit():
    parser = parse('<file path="a.js">\nlet', finish_reason="stop")

    [issue] = parser.issues
    assert "cut off" in issue.message and "length limit" not in issue.message
    assert issue.kind == "unclosed" and issue.fatal


def test_a_response_ending_inside_an_opening_tag_is_reported():
    parser = parse('Text <file path="a.js', finish_reason="length")

    assert parser.files == {}
    assert "middle of a tag" in parser.issues[0].message and parser.issues[0].kind == "cut_off"


def test_a_partial_tag_name_at_the_end_is_text():
    assert parse("a < b and <fi").explanation == "a < b and <fi"


def test_a_forgotten_closing_tag_drops_the_file_as_possibly_incomplete():
    parser = parse('<file path="a.js">\nconst a = 1;\n<file path="b.js">\nconst b = 2;\n</file>')

    assert parser.files == {"b.js": "const b = 2;"}
    [issue] = parser.issues
    assert issue.path == "a.js" and issue.kind == "nested" and issue.fatal
    assert "not closed" in issue.message


def test_a_stray_closing_tag_is_reported_not_shown():
    parser = parse("Hello</file> world")

    assert parser.explanation == "Hello world"
    assert "without a matching opening tag" in parser.issues[0].message
    assert parser.issues[0].kind == "stray_close" and not parser.has_fatal


def test_feed_after_finish_is_an_error():
    parser = StreamParser()
    parser.finish()
    with pytest.raises(RuntimeError):
        parser.feed("x")


# --- Chunking never changes the result ---------------------------------------------------------------

TRICKY = (
    'Intro with <b>html</b> and a < b.\r\n<file path="./src//App.jsx">\r\n' + JSX + "\r\n</file>\n"
    '<file path="../evil.js">\nrm -rf\n</file>\n<file path="a.js">\nx </fi </file </filex>\n\n</file>'
    '<file path="a.js">dup</file><file path="n.txt">\n\x00\n</file>\n<edit path="e.js">\nzz\n</edit>'
    '<delete path="d.js"/>Stray </file> end\n<file path="no-close.js">\nabc\n<file path="z.js">\nz\n</file>\n'
    '<file path="cut.js">\npartial </fil'
)


def test_splits_of_blueprint_output_parse_like_the_whole():
    text = respond(
        [{"role": "user", "content": "a todo list where I can add, tick and delete tasks"}], seed=2
    )
    whole = parse(text)
    assert {"app.json", "index.html", "src/main.jsx", "src/App.jsx"} <= set(whole.files) and not whole.issues

    # Every split in and around each tag (where a parser can go wrong), and every 11th elsewhere.
    cuts = set(range(0, len(text) + 1, 11))
    for tag in re.finditer(r"</?file[^>]*>", text):
        cuts.update(range(max(0, tag.start() - 4), min(len(text), tag.end() + 4) + 1))
    for cut in sorted(cuts):
        parser, _ = feed_in_pieces(text, [cut])
        assert_same_parse(parser, whole)


@pytest.mark.parametrize("finish_reason", [None, "length"])
def test_every_split_of_tricky_output_parses_like_the_whole(finish_reason):
    whole = parse(TRICKY, finish_reason)
    assert whole.issues  # the text really exercises the error paths

    for cut in range(len(TRICKY) + 1):
        parser, _ = feed_in_pieces(TRICKY, [cut], finish_reason)
        assert_same_parse(parser, whole)


def test_random_many_piece_splits_parse_like_the_whole():
    rng = random.Random(1234)
    blueprint = respond(
        [{"role": "user", "content": "track my workouts with date, exercise, sets and reps"}], seed=9
    )
    for text in (TRICKY, blueprint):
        whole = parse(text, "length")
        for _ in range(150):
            cuts = [rng.randrange(len(text) + 1) for _ in range(rng.choice([2, 10, 60, 400]))]
            parser, _ = feed_in_pieces(text, cuts, "length")
            assert_same_parse(parser, whole)


def test_one_character_at_a_time_parses_like_the_whole():
    whole = parse(TRICKY)
    parser, _ = feed_in_pieces(TRICKY, list(range(len(TRICKY))))
    assert_same_parse(parser, whole)


# --- Frames -------------------------------------------------------------------------------------------


def test_events_become_browser_frames():
    assert event_to_frame(TextDelta("hi")) == {"type": "text", "text": "hi"}
    assert event_to_frame(FileStarted("a.js")) == {"type": "file_start", "path": "a.js"}
    assert event_to_frame(FileDelta("a.js", "x")) == {"type": "file_delta", "path": "a.js", "text": "x"}
    assert event_to_frame(FileCompleted("a.js", "é")) == {"type": "file_done", "path": "a.js", "size": 2}
    assert event_to_frame(ProtocolIssue("bad", None, "syntax", True)) == {
        "type": "protocol_error",
        "message": "bad",
        "path": None,
        "kind": "syntax",
        "fatal": True,
    }
    assert event_to_frame(EditApplied("a.js", "@@ -1 +1 @@", "x")) == {
        "type": "edit",
        "path": "a.js",
        "diff": "@@ -1 +1 @@",
    }
    assert event_to_frame(FileDeleted("a.js")) == {"type": "file_delete", "path": "a.js"}
