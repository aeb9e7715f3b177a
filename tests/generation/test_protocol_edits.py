"""Edits, deletes, fatal and non-fatal issues, placeholders, code in the chat, and the result API of
the output parser (generation/protocol.py; docs/protocol.md)."""

import json
from pathlib import Path

import pytest

from generation.frames import from_parser_event
from generation.protocol import (
    FATAL_KINDS,
    MAX_FILE_BYTES,
    EditApplied,
    FileDeleted,
    StreamParser,
    find_placeholder,
    parse,
)

BASE = {
    "app.json": '{"name": "Todo"}\n',
    "src/App.jsx": (
        "export default function App() {\n"
        "  const items = [];\n"
        "  return (\n"
        '    <div className="app">\n'
        "      <h1>Todo</h1>\n"
        "    </div>\n"
        "  );\n"
        "}\n"
    ),
    "src/old.js": "export const old = 1;\n",
}


def edit(path: str, *blocks: tuple[str, str]) -> str:
    body = "".join(f"<<<<<<< SEARCH\n{s}\n=======\n{r}\n>>>>>>> REPLACE\n" for s, r in blocks)
    return f'<edit path="{path}">\n{body}</edit>\n'


def feed_in_pieces(text: str, size: int, base=None, finish_reason=None) -> StreamParser:
    parser = StreamParser(base)
    for start in range(0, len(text), size):
        parser.feed(text[start : start + size])
    parser.finish(finish_reason)
    return parser


# --- Edits ------------------------------------------------------------------------------------------


def test_an_edit_applies_to_the_previous_version_and_shows_a_diff():
    parser = StreamParser(BASE)
    events = parser.feed(
        "Renamed the heading.\n" + edit("src/App.jsx", ("      <h1>Todo</h1>", "      <h1>Chores</h1>"))
    )
    events += parser.finish("stop")

    [applied] = [e for e in events if isinstance(e, EditApplied)]
    assert applied.path == "src/App.jsx"
    assert "-      <h1>Todo</h1>\n+      <h1>Chores</h1>" in applied.diff
    assert applied.diff.startswith("--- a/src/App.jsx\n+++ b/src/App.jsx")
    assert applied.content == BASE["src/App.jsx"].replace("Todo</h1>", "Chores</h1>")
    assert parser.result_files() == {**BASE, "src/App.jsx": applied.content}
    assert parser.files == {"src/App.jsx": applied.content}
    assert parser.changed_paths == ["src/App.jsx"] and parser.deleted == []
    assert parser.issues == [] and not parser.has_fatal
    assert parser.explanation == "Renamed the heading."


def test_an_edit_shows_as_soon_as_its_block_closes():
    parser = StreamParser(BASE)
    text = edit("src/App.jsx", ("  const items = [];", "  const items = [1];"))
    before_close = parser.feed(text[: text.index("</edit>")])
    assert not any(isinstance(e, EditApplied) for e in before_close)
    assert not any(isinstance(e, EditApplied) for e in parser.feed("</edit>"))  # its line may go on
    assert any(isinstance(e, EditApplied) for e in parser.feed("\n"))


def test_several_blocks_apply_in_order_and_may_build_on_each_other():
    parser = parse(
        edit(
            "src/App.jsx",
            ("  const items = [];", "  const items = [];\n  const count = 0;"),
            ("  const count = 0;", "  const count = items.length;"),
        ),
        base_files=BASE,
    )

    assert parser.issues == []
    assert "  const items = [];\n  const count = items.length;\n" in parser.result_files()["src/App.jsx"]


def test_an_edit_matches_ignoring_trailing_whitespace():
    base = {"a.js": "let a = 1;   \nlet b = 2;\n"}
    parser = parse(edit("a.js", ("let a = 1;\nlet b = 2;", "let a = 3;\nlet b = 4;")), base_files=base)

    assert parser.issues == []
    assert parser.result_files()["a.js"] == "let a = 3;\nlet b = 4;\n"


def test_an_edit_with_other_indentation_is_applied_reindented():
    parser = parse(
        edit(
            "src/App.jsx",
            (
                '<div className="app">\n  <h1>Todo</h1>',
                '<main className="app">\n  <h1>Todo</h1>\n  <p>Hi</p>',
            ),
        ),
        base_files=BASE,
    )

    assert parser.issues == []
    assert (
        '    <main className="app">\n      <h1>Todo</h1>\n      <p>Hi</p>\n    </div>'
        in parser.result_files()["src/App.jsx"]
    )


def test_an_edit_may_change_part_of_a_line():
    parser = parse(edit("app.json", ('"Todo"', '"Chores"')), base_files=BASE)

    assert parser.result_files()["app.json"] == '{"name": "Chores"}\n'


def test_an_edit_applies_to_a_file_written_earlier_in_the_same_answer():
    text = '<file path="src/new.js">\nexport const a = 1;\n</file>\n' + edit(
        "src/new.js", ("export const a = 1;", "export const a = 2;")
    )
    parser = parse(text, base_files=BASE)

    assert parser.issues == []
    assert parser.result_files()["src/new.js"] == "export const a = 2;"
    assert parser.changed_paths == ["src/new.js"]


def test_a_search_that_does_not_match_fails_clearly_and_changes_nothing():
    text = edit(
        "src/App.jsx",
        ("  const items = [];", "  const items = [1];"),
        ("      <h2>Nothing like this</h2>\n      <p>at all</p>", "x"),
    )
    parser = parse(text, base_files=BASE)

    [issue] = parser.issues
    assert issue.kind == "edit_no_match" and issue.fatal and issue.path == "src/App.jsx"
    assert issue.message.startswith('The edit to "src/App.jsx" was not applied: block 2 of 2 was not found')
    assert "<h2>Nothing like this</h2>" in issue.message and "<p>at all</p>" in issue.message
    assert parser.result_files() == BASE  # the first block was not half-applied
    assert parser.has_fatal and parser.fatal_issues == [issue]


def test_a_search_that_matches_several_places_is_refused():
    base = {"a.js": "x = 1;\ny = 2;\nx = 1;\n"}
    parser = parse(edit("a.js", ("x = 1;", "x = 3;")), base_files=base)

    [issue] = parser.issues
    assert issue.kind == "edit_no_match" and "matches 2 places" in issue.message
    assert parser.result_files() == base


def test_an_edit_to_a_missing_file_is_fatal():
    parser = parse(edit("src/Nope.jsx", ("a", "b")), base_files=BASE)

    [issue] = parser.issues
    assert issue.kind == "edit_missing_file" and issue.fatal and "no such file" in issue.message
    assert parser.result_files() == BASE


def test_an_edit_after_deleting_the_file_is_an_edit_to_a_missing_file():
    parser = parse('<delete path="src/old.js"/>\n' + edit("src/old.js", ("old", "new")), base_files=BASE)

    assert [i.kind for i in parser.issues] == ["edit_missing_file"]
    assert "deleted earlier" in parser.issues[0].message


@pytest.mark.parametrize(
    "body, words",
    [
        ("just some text\n", "text outside a SEARCH/REPLACE block"),
        ("", "no SEARCH/REPLACE block"),
        ("<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n", 'no "======="'),
        ("<<<<<<< SEARCH\na\n=======\nb\n", "not finished"),
        ("<<<<<<< SEARCH\n\n=======\nb\n>>>>>>> REPLACE\n", "empty SEARCH"),
    ],
)
def test_a_malformed_edit_body_is_fatal_and_says_what_is_wrong(body, words):
    parser = parse(f'<edit path="src/App.jsx">\n{body}</edit>', base_files=BASE)

    [issue] = parser.issues
    assert issue.kind == "edit_syntax" and issue.fatal and words in issue.message
    assert parser.result_files() == BASE


def test_code_fences_around_blocks_are_tolerated():
    text = '<edit path="app.json">\n```\n<<<<<<< SEARCH\n"Todo"\n=======\n"Chores"\n>>>>>>> REPLACE\n```\n</edit>'
    assert parse(text, base_files=BASE).issues == []


# --- Deletes ----------------------------------------------------------------------------------------


def test_a_delete_removes_the_file_from_the_result():
    parser = StreamParser(BASE)
    events = parser.feed('Removed the old helper.\n<delete path="./src/old.js"/>\n') + parser.finish()

    assert FileDeleted("src/old.js") in events
    assert "src/old.js" not in parser.result_files()
    assert parser.deleted == ["src/old.js"] and parser.changed_paths == ["src/old.js"]
    assert not parser.issues


def test_deleting_a_missing_file_is_reported_but_not_fatal():
    parser = parse('<delete path="src/ghost.js"/>\n<delete path="src/old.js"></delete>', base_files=BASE)

    [issue] = parser.issues
    assert issue.kind == "delete_missing" and not issue.fatal and "no such file" in issue.message
    assert parser.deleted == ["src/old.js"]


def test_a_delete_with_a_path_trick_deletes_nothing():
    parser = parse('<delete path="../app.json"/><delete/>', base_files=BASE)

    assert [i.kind for i in parser.issues] == ["path", "syntax"]
    assert parser.result_files() == BASE


# --- Fatal and non-fatal ----------------------------------------------------------------------------


def test_a_file_that_would_also_be_a_folder_is_refused():
    parser = parse('<file path="src">\nx\n</file>', base_files=BASE)

    [issue] = parser.issues
    assert issue.kind == "path" and issue.fatal and "folder" in issue.message
    assert "src" not in parser.result_files()


def test_a_file_over_the_size_limit_is_not_written():
    big = "x" * (MAX_FILE_BYTES + 1)
    parser = feed_in_pieces(f'<file path="big.js">\n{big}\n</file>\n<file path="ok.js">\nok\n</file>', 50_000)

    assert parser.files == {"ok.js": "ok"}
    [issue] = parser.issues
    assert issue.kind == "too_large" and issue.fatal and "400 KB" in issue.message


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\ud800"])
def test_binary_content_is_not_written(bad):
    parser = parse(f'<file path="a.js">\nab{bad}cd\n</file>')

    assert parser.files == {}
    assert [(i.kind, i.fatal) for i in parser.issues] == [("binary", True)]


def test_nul_and_lone_surrogates_in_the_chat_become_replacement_characters():
    parser = parse("Hello \x00 \ud800 world")

    assert parser.explanation == "Hello \ufffd \ufffd world"
    json.dumps(parser.explanation).encode("utf-8")


def test_a_response_cut_by_the_length_limit_is_fatal_even_between_files():
    parser = parse('<file path="a.js">\nx\n</file>\n', finish_reason="length")

    [issue] = parser.issues
    assert issue.kind == "cut_off" and issue.fatal and "length limit" in issue.message


def test_nested_blocks_are_fatal():
    parser = parse('<edit path="app.json">\n<<<<<<< SEARCH\n<file path="x.js">\ny\n</file>', base_files=BASE)

    assert [i.kind for i in parser.issues][:1] == ["nested"]
    assert parser.has_fatal


def test_every_fatal_kind_is_documented():
    doc = Path("docs/protocol.md").read_text()
    for kind in FATAL_KINDS | {"duplicate", "stray_close", "delete_missing", "code_in_chat"}:
        assert f"`{kind}`" in doc


# --- Placeholders -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "// rest of the code unchanged",
        "// ... existing code ...",
        "  // ... (same as before)",
        "<!-- unchanged -->",
        "/* ...rest of the styles */",
        "{/* other fields unchanged */}",
        "...",
        "// code omitted for brevity",
        "/* The rest of the component stays the same */",
    ],
)
def test_a_lazy_placeholder_in_a_file_is_fatal(line):
    parser = parse(f'<file path="src/App.jsx">\nimport x from "y";\n{line}\nexport default x;\n</file>')

    [issue] = parser.issues
    assert issue.kind == "lazy_placeholder" and issue.fatal and "line 2" in issue.message


@pytest.mark.parametrize(
    "line",
    [
        "const all = [...items, { ...draft }];",
        "<p>Loading...</p>",
        "// loading...",
        "// keep the list unchanged when the request fails",
        "// Other fields",
        "{/* Header */}",
        "return <span>…</span>;",
    ],
)
def test_real_code_with_ellipses_is_not_a_placeholder(line):
    assert find_placeholder("src/App.jsx", line) is None


def test_placeholders_are_looked_for_in_code_files_only():
    assert find_placeholder("README.md", "...") is None
    assert find_placeholder("notes.txt", "// rest of the code unchanged") is None


def test_a_placeholder_written_by_an_edit_is_fatal_but_one_already_there_is_not():
    lazy = edit("src/App.jsx", ("  const items = [];", "  // ... existing code ..."))
    assert [i.kind for i in parse(lazy, base_files=BASE).issues] == ["lazy_placeholder"]

    base = {"a.js": "// ... existing code ...\nlet a = 1;\n"}
    kept = edit("a.js", ("// ... existing code ...\nlet a = 1;", "// ... existing code ...\nlet a = 2;"))
    assert parse(kept, base_files=base).issues == []


# --- Code in the chat and unknown tags --------------------------------------------------------------

FENCED = "Here you go:\n```jsx\nexport default function App() {\n  return <h1>Hi</h1>;\n}\n```\n"


def test_code_in_the_chat_without_files_is_fatal():
    parser = parse(FENCED)

    [issue] = parser.issues
    assert issue.kind == "code_in_chat" and issue.fatal and "no file was written" in issue.message


def test_code_in_the_chat_beside_files_is_recorded_but_not_fatal():
    parser = parse(FENCED + '<file path="a.js">\nx\n</file>')

    [issue] = parser.issues
    assert issue.kind == "code_in_chat" and not issue.fatal


def test_unfenced_code_lines_in_the_chat_count_too():
    text = "import React from 'react';\nconst a = 1;\nfunction f() {\n  return a;\n}\n"
    assert [i.kind for i in parse(text).issues] == ["code_in_chat"]


def test_prose_with_a_little_markup_is_not_code():
    text = "I added a `due` field and a <b>bold</b> heading.\nOpen the preview to try it; it works."
    assert parse(text).issues == []


def test_a_tag_kiln_does_not_know_is_fatal():
    parser = parse('Here:\n<create path="src/App.jsx">\nx\n</create>\n<File path="a.js">y</File>')

    kinds = [i.kind for i in parser.issues]
    assert kinds[0] == "unknown_tag" and parser.has_fatal
    assert "<create>" in parser.issues[0].message and "<File>" in parser.issues[0].message


# --- Result and frames ------------------------------------------------------------------------------

MIXED = (
    "Changes below.\n"
    '<file path="src/styles.css">\nbody { color: red; }\n</file>\n'
    + edit(
        "src/App.jsx",
        ("      <h1>Todo</h1>", "      <h1>Chores</h1>"),
        ("  const items = [];", '  const items = ["a"];'),
    )
    + '<delete path="src/old.js"/>\n'
    + '<file path="src/styles.css">\nbody { color: blue; }\n</file>\n'
    + "Done."
)


def test_the_result_has_writes_edits_and_deletes_in_order():
    parser = parse(MIXED, base_files=BASE)

    assert [(i.kind, i.fatal) for i in parser.issues] == [("duplicate", False)]
    result = parser.result_files()
    assert result["src/styles.css"] == "body { color: blue; }"
    assert "<h1>Chores</h1>" in result["src/App.jsx"] and 'const items = ["a"];' in result["src/App.jsx"]
    assert "src/old.js" not in result and result["app.json"] == BASE["app.json"]
    assert parser.changed_paths == ["src/styles.css", "src/App.jsx", "src/old.js"]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13, 64])
def test_edits_and_deletes_parse_the_same_in_any_pieces(size):
    whole = parse(MIXED, base_files=BASE)
    parser = feed_in_pieces(MIXED, size, BASE)

    assert parser.result_files() == whole.result_files()
    assert parser.issues == whole.issues and parser.explanation == whole.explanation
    assert parser.changed_paths == whole.changed_paths and parser.deleted == whole.deleted


def test_every_event_becomes_a_json_frame():
    parser = StreamParser(BASE)
    events = parser.feed(MIXED) + parser.finish("length")
    frames = [from_parser_event(e) for e in events]

    json.dumps(frames)
    kinds = {f["type"] for f in frames}
    assert {"text", "file_start", "file_delta", "file_done", "edit", "file_delete", "protocol_error"} <= kinds
    [edit_frame] = [f for f in frames if f["type"] == "edit"]
    assert edit_frame["path"] == "src/App.jsx" and "+      <h1>Chores</h1>" in edit_frame["diff"]
    assert all({"kind", "fatal"} <= set(f) for f in frames if f["type"] == "protocol_error")
