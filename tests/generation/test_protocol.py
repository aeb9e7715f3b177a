"""The streaming parser of the model's output protocol (generation/protocol.py)."""

import random
import re

import pytest

from generation.frames import from_parser_event
from generation.blueprint.responder import respond
from generation.errors import ProtocolError
from generation.prompts import compact_answer
from generation.protocol import (
    MAX_ANSWER_CHARS,
    MAX_HOLDBACK_CHARS,
    MAX_ISSUES,
    RAW_OUTPUT_KEEP_CHARS,
    EditApplied,
    FileCompleted,
    FileDeleted,
    FileDelta,
    FileStarted,
    ProtocolIssue,
    StreamParser,
    TextDelta,
    bounded_raw_output,
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
        '<file path="a.txt">\n\nline\n\n</file>\n<file path="b.txt">same line</file>\n'
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

    # The closing tag counts once its line ends (the model's next token, or the end of the answer).
    assert not any(isinstance(e, FileCompleted) for e in parser.feed("</file>"))
    events = parser.feed("\nDone.")
    assert FileCompleted("src/App.jsx", "const a = 1;\nconst b = <div>2</div>;") in events


def test_only_a_possible_closing_tag_is_held_back():
    parser = StreamParser()
    parser.feed('<file path="a.js">\n')

    events = parser.feed("let x = 1 </fi")  # in the middle of a line: content at once
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == "let x = 1 </fi"

    events = parser.feed("le>\n</fi")  # at a line start it could still close the file
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == "le>"

    events = parser.feed("nal>")  # "</final>" was content after all
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == "\n</final>"

    events = parser.feed("\n</file>  ")  # the closing tag, but its line may still go on
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == ""
    events = parser.feed(" and more\n")  # it did: content
    assert "".join(e.text for e in events if isinstance(e, FileDelta)) == "\n</file>   and more"


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
    parser = parse("<file path='a.js'>\n1\n</file>\n<file path=b/c.js>\n2\n</file>")

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


def test_a_stray_closing_tag_on_its_own_line_is_reported_not_shown():
    parser = parse("Hello\n</file>\nworld")

    assert parser.explanation == "Hello\n\nworld"
    assert "without a matching opening tag" in parser.issues[0].message
    assert parser.issues[0].kind == "stray_close" and not parser.has_fatal


def test_a_closing_tag_in_the_middle_of_chat_text_is_text():
    parser = parse("Use </file> to end a file block.\n  </file>\n</file> too")

    assert parser.explanation == "Use </file> to end a file block.\n  </file>\n</file> too"
    assert parser.issues == []


def test_feed_after_finish_is_an_error():
    parser = StreamParser()
    parser.finish()
    with pytest.raises(RuntimeError):
        parser.feed("x")


# --- A closing tag counts only on a line of its own (issue 9, hole 3) ---------------------------------

# The answer from the issue: its JSX quotes "</file>", which cut src/App.jsx to 52 characters.
ISSUE_JSX = """export default function App() {
  return (
    <main>
      <p>{"Use </file> to end a file block"}</p>
      <p>Edits end with </edit>, deletes are one tag.</p>
    </main>
  );
}"""
ISSUE_ANSWER = (
    f'Here is the help page.\n<file path="src/App.jsx">\n{ISSUE_JSX}\n</file>\nIt explains the tags.\n'
)


def test_a_closing_tag_inside_a_line_of_jsx_does_not_cut_the_file():
    whole = parse(ISSUE_ANSWER, "stop")

    assert whole.files == {"src/App.jsx": ISSUE_JSX}
    assert whole.explanation == "Here is the help page.\n\nIt explains the tags."
    assert whole.issues == [] and not whole.has_fatal
    for cut in range(len(ISSUE_ANSWER) + 1):  # and the same for every split of the stream
        parser, events = feed_in_pieces(ISSUE_ANSWER, [cut], "stop")
        assert_same_parse(parser, whole)
        assert "".join(e.text for e in events if isinstance(e, FileDelta)) == ISSUE_JSX


def test_an_earlier_answer_quoting_a_closing_tag_is_compacted_where_its_block_ends():
    # The model's next context shows earlier answers without their files (generation/prompts.py); the
    # file must end where the parser ends it, or the rest of the JSX would reach the model as chat.
    assert (
        compact_answer(ISSUE_ANSWER) == "Here is the help page.\n[wrote src/App.jsx]\nIt explains the tags.\n"
    )
    assert compact_answer('<file path="a.txt">one</file>\nok') == "[wrote a.txt]\nok"


def test_a_closing_tag_inside_a_line_of_an_edit_is_content():
    base = {"src/App.jsx": "export const HELP = 'help';\n"}
    answer = (
        "<edit path=\"src/App.jsx\">\n<<<<<<< SEARCH\nexport const HELP = 'help';\n=======\n"
        "export const HELP = 'End a file with </file> and an edit with </edit>';\n>>>>>>> REPLACE\n</edit>\n"
    )

    parser = parse(answer, "stop", base_files=base)

    assert parser.issues == []
    assert parser.files == {
        "src/App.jsx": "export const HELP = 'End a file with </file> and an edit with </edit>';\n"
    }


def test_a_closing_tag_may_have_blanks_after_it_but_nothing_else():
    parser = parse('<file path="a.txt">\none\n</file> \t \r\n<file path="b.txt">\ntwo\n</file>' + " " * 16)
    assert parser.files == {"a.txt": "one", "b.txt": "two"} and parser.issues == []

    # More blanks than MAX_CLOSE_BLANKS, or text after it: a line of the file, so the file never closes.
    for line in ["</file>" + " " * 17, "</file> and more", "</file></div>"]:
        parser = parse(f'<file path="a.txt">\none\n{line}\n')
        [issue] = parser.issues
        assert issue.kind == "unclosed" and issue.fatal and parser.files == {}


def test_an_indented_closing_tag_is_content():
    content = "<ul>\n  </file>\n\t</edit>\n</ul>"
    parser = parse(f'<file path="a.html">\n{content}\n</file>\n')

    assert parser.files == {"a.html": content} and parser.issues == []


def test_one_line_and_empty_blocks_still_work():
    parser = parse(
        '<file path="a.txt">hello</file>\n<file path="b.txt"></file>\n<file path="c.txt">\n</file>\n'
        '<file path="d.txt">say </file> twice</file>\n'
    )

    assert parser.files == {"a.txt": "hello", "b.txt": "", "c.txt": "", "d.txt": "say </file> twice"}
    assert parser.issues == []


def test_a_closing_tag_followed_by_more_on_its_line_leaves_the_file_open_and_says_why():
    parser = parse('<file path="a.js">\nconst a = 1;</file>\n<file path="b.js">\nconst b = 2;\n</file>\n')

    assert parser.files == {"b.js": "const b = 2;"}
    [issue] = parser.issues
    assert issue.kind == "nested" and issue.fatal and issue.path == "a.js"
    assert issue.message.endswith(
        "The </file> on its line 1 did not end it: a closing tag counts only on a line of its own."
    )

    parser = parse('<file path="a.js">\nconst a = 1;\nexport default a;</file>')
    [issue] = parser.issues
    assert issue.kind == "unclosed" and issue.fatal and "on its line 2 did not end it" in issue.message


def test_a_line_of_a_file_that_is_exactly_a_closing_tag_fails_the_answer_and_says_why():
    answer = (
        '<file path="README.md">\n# Blocks\nA file block ends with\n</file>\non a line of its own.\n</file>\n'
    )
    parser = StreamParser()
    parser.feed(answer[: answer.rindex("</file>")])
    assert not parser.has_fatal  # the first </file> ended README.md: nothing is wrong yet

    events = parser.feed("</file>\n")
    # Known the moment the second </file> ends its line, not only at the end of the answer.
    assert parser.has_fatal
    [issue] = [e for e in events if isinstance(e, ProtocolIssue)]
    assert issue.kind == "closed_early" and issue.fatal and issue.path == "README.md"
    assert issue.message == (
        '"README.md" was cut short: its line 3 is exactly </file>, which ends a file, so the text after '
        "that line went to the chat until the next </file>. A line inside a file may not be exactly "
        "</file> (indent it or write it another way), so this answer was not kept."
    )
    assert parser.finish("stop") == []


def test_a_second_closing_tag_right_after_a_block_fails_the_answer():
    parser = parse('<file path="a.js">\nconst a = 1;\n</file>\n\n</file>\n')

    [issue] = parser.issues
    assert issue.kind == "closed_early" and issue.fatal
    assert issue.message.startswith('"a.js" is followed by a second </file>, so its line 2 (exactly </file>)')

    parser = parse(
        '<edit path="a.js">\n<<<<<<< SEARCH\n1\n=======\n2\n>>>>>>> REPLACE\n</edit>\n</edit>\n',
        base_files={"a.js": "1"},
    )
    assert [i.kind for i in parser.issues] == ["closed_early"]
    assert "second </edit>" in parser.issues[0].message and "inside an edit" in parser.issues[0].message


def test_a_stray_closing_tag_after_another_block_is_not_fatal():
    parser = parse(
        '<file path="a.js">\n1\n</file>\n<delete path="b.js"/>\n</file>\n', base_files={"b.js": "x"}
    )

    assert [(i.kind, i.fatal) for i in parser.issues] == [("stray_close", False)]


def test_files_still_show_as_they_form_with_a_bounded_hold_back():
    text = '<file path="src/App.jsx">\n' + ISSUE_JSX + "\n</file>\n"
    parser, shown = StreamParser(), ""
    start = text.index(">") + 2
    for end in range(1, len(text) + 1):
        shown += "".join(e.text for e in parser.feed(text[end - 1]) if isinstance(e, FileDelta))
        if start <= end <= start + len(ISSUE_JSX):
            assert len(text[start:end]) - len(shown) <= MAX_HOLDBACK_CHARS
    assert shown == ISSUE_JSX


TRICKY_LINES = (
    'Use </file> here.\n</file>\n<file path="a.js">\nx </file> y\n</file>  \n</file>\n'
    '<file path="b.txt">one line</file>\n<file path="c.txt"></file>\r\n'
    '<file path="d.md">\nA\n</file>\nmore text\n</file>\n<edit path="a.js">\n<<<<<<< SEARCH\nx </file> y\n'
    "=======\nz </edit> w\n>>>>>>> REPLACE\n</edit>\t\r\n"
    '<file path="e.txt">\n'
    + "</file>"
    + " " * 17
    + "\n</file>"
    + " " * 16
    + '\n<file path="f.txt">\nf\n</file>'
)


@pytest.mark.parametrize("finish_reason", [None, "stop", "length"])
def test_every_split_of_closing_tag_cases_parses_like_the_whole(finish_reason):
    whole = parse(TRICKY_LINES, finish_reason)
    assert {i.kind for i in whole.issues} >= {"stray_close", "closed_early"}
    assert whole.files["e.txt"] == "</file>" + " " * 17 and whole.files["f.txt"] == "f"

    for cut in range(len(TRICKY_LINES) + 1):
        parser, _ = feed_in_pieces(TRICKY_LINES, [cut], finish_reason)
        assert_same_parse(parser, whole)
    parser, _ = feed_in_pieces(TRICKY_LINES, list(range(len(TRICKY_LINES))), finish_reason)
    assert_same_parse(parser, whole)


# --- Fatal as soon as known; a bounded answer (issue 9, hole 4) -----------------------------------------


def test_a_fatal_issue_is_visible_after_the_feed_that_found_it():
    parser = StreamParser()
    parser.feed('<file path="big.js">\n')
    parser.feed("x" * 399_000)
    assert not parser.has_fatal

    parser.feed("x" * 2_000)
    assert parser.has_fatal and parser.fatal_issues[0].kind == "too_large"


def test_an_answer_over_the_limit_is_fatal_during_feed_and_reading_stops():
    parser = StreamParser()
    chunk = "All work and no play makes a very long chat answer. " * 20_000  # 1 MB
    events = []
    for _ in range(50):  # a 50 MB answer
        events += parser.feed(chunk)
        if parser.has_fatal:
            break

    assert parser.has_fatal and parser.stopped
    assert parser._read == MAX_ANSWER_CHARS  # exactly the limit was read
    [issue] = [e for e in events if isinstance(e, ProtocolIssue)]
    assert issue.kind == "too_large" and issue.fatal
    assert issue.message == (
        "The answer is longer than 2,000,000 characters, far more than any app needs; Kiln stopped "
        "reading it there and nothing was kept."
    )
    assert parser.feed(chunk) == [] and parser.finish("stop") == []


def test_the_answer_limit_does_not_depend_on_the_pieces():
    text = "z" * (MAX_ANSWER_CHARS - 30) + '\n<file path="a.txt">\nlast words\n</file>\n'
    whole = parse(text)
    pieces, _ = feed_in_pieces(text, list(range(0, len(text), 300_001)))

    assert_same_parse(pieces, whole)
    assert [i.kind for i in whole.issues] == ["too_large"] and whole.files == {}


def test_an_answer_at_the_limit_is_read_whole():
    files = "".join(f'<file path="f{n}.txt">\n' + "y" * 399_000 + "\n</file>\n" for n in range(5))
    text = files + "z" * (MAX_ANSWER_CHARS - len(files))

    parser = parse(text)
    assert parser.issues == [] and not parser.stopped and len(parser.files) == 5


def test_a_flood_of_issues_is_bounded_and_fatal_as_soon_as_it_passes_the_limit():
    text = 'Hi\n<file path="a.js">\n1\n</file>\n' + '<delete path="gone.js"/>\n' * 60 + "Bye\n"
    whole = parse(text, "stop")

    assert len(whole.issues) == MAX_ISSUES + 1 and whole.stopped and whole.has_fatal
    assert {i.kind for i in whole.issues[:MAX_ISSUES]} == {"delete_missing"}  # not fatal on their own
    assert whole.issues[-1] == ProtocolIssue(
        "The answer has more than 50 problems with Kiln's file protocol; Kiln stopped reading it there "
        "and nothing was kept.",
        None,
        "too_many_issues",
        True,
    )
    assert "Bye" not in whole.explanation
    for cut in range(0, len(text) + 1, 3):
        parser, _ = feed_in_pieces(text, [cut], "stop")
        assert_same_parse(parser, whole)


def test_raw_output_is_kept_whole_up_to_the_bound_and_cut_with_a_note_beyond():
    assert RAW_OUTPUT_KEEP_CHARS >= MAX_ANSWER_CHARS  # an answer that can become a version is never cut
    assert bounded_raw_output("short answer") == ("short answer", "")

    raw = "x" * (50 * 1024 * 1024)
    kept, note = bounded_raw_output(raw)
    assert kept == raw[:RAW_OUTPUT_KEEP_CHARS]
    assert note == "[Kiln kept only the first 2,000,000 of the 52,428,800 characters it read of this answer.]"


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
    assert from_parser_event(TextDelta("hi")) == {"type": "text", "text": "hi"}
    assert from_parser_event(FileStarted("a.js")) == {"type": "file_start", "path": "a.js"}
    assert from_parser_event(FileDelta("a.js", "x")) == {"type": "file_delta", "path": "a.js", "text": "x"}
    assert from_parser_event(FileCompleted("a.js", "é")) == {"type": "file_done", "path": "a.js", "size": 2}
    assert from_parser_event(ProtocolIssue("bad", None, "syntax", True)) == {
        "type": "protocol_error",
        "message": "bad",
        "path": None,
        "kind": "syntax",
        "fatal": True,
    }
    assert from_parser_event(EditApplied("a.js", "@@ -1 +1 @@", "x")) == {
        "type": "edit",
        "path": "a.js",
        "diff": "@@ -1 +1 @@",
    }
    assert from_parser_event(FileDeleted("a.js")) == {"type": "file_delete", "path": "a.js"}
