"""The incremental parser for the model's output protocol (see docs/app-format.md).

The model writes explanation text with whole files in between::

    Some explanation for the chat.
    <file path="src/App.jsx">
    ...whole file...
    </file>

`StreamParser.feed()` takes the text in whatever pieces the model server sends, even a split in the
middle of a tag or of "</file>", and returns events as soon as they are certain: text for the chat,
a file starting, pieces of its content, a file completed, a protocol issue. It holds back only the
few characters that could still turn out to be part of a tag, so the browser sees files form while
they stream. Every decision depends on the text alone, never on where the pieces were cut, so feeding
a response in any pieces gives the same files, explanation and issues as feeding it whole.

Rules, chosen to be simple and safe:

- A tag is recognised only when its name is followed by whitespace, ">" or "/": "<file", "<edit",
  "<delete" open blocks; "</file>" closes a file. Anything else that looks like a tag is text outside
  a file and content inside one (JSX is full of "<div>").
- Content drops exactly one newline after the opening tag and one before "</file>".
- Paths go through `normalise_path`; a file with a bad path is read to its end and dropped, with an
  issue naming the path and the reason. So is a file whose content has a NUL byte or is too large.
- The same path twice: the later file wins (a model that rewrites a file means its last version),
  and an issue says the file was written twice.
- A "<file" tag at the start of a line inside a file means the model forgot "</file>": the open file
  is completed as written, with an issue, and the new file starts.
- At the end of the stream an open file is cut off: it is NOT completed, and the issue says so (and
  that the response hit the length limit when finish_reason is "length").
- "<edit>" and "<delete/>" blocks are not applied yet: each is read to its end and reported as an
  issue. They are recognised here so that adding them later is a new block kind, not a new parser.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from generation.errors import ProtocolError

MAX_PATH_CHARS = 200
MAX_PATH_DEPTH = 12
MAX_TAG_CHARS = 1000  # an opening tag longer than this is not a tag
MAX_FILE_CHARS = 2_000_000

EDITS_NOT_SUPPORTED = "edit blocks are not supported yet"


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
class ProtocolIssue:
    message: str  # user-facing
    path: str | None = None


Event = TextDelta | FileStarted | FileDelta | FileCompleted | ProtocolIssue


def event_to_frame(event: Event) -> dict:
    """The JSON-able frame the browser receives for a parser event."""
    if isinstance(event, TextDelta):
        return {"type": "text", "text": event.text}
    if isinstance(event, FileStarted):
        return {"type": "file_start", "path": event.path}
    if isinstance(event, FileDelta):
        return {"type": "file_delta", "path": event.path, "text": event.text}
    if isinstance(event, FileCompleted):
        return {"type": "file_done", "path": event.path, "size": len(event.content.encode("utf-8"))}
    if isinstance(event, ProtocolIssue):
        return {"type": "protocol_error", "message": event.message, "path": event.path}
    raise TypeError(f"not a protocol event: {event!r}")


# --- Paths -----------------------------------------------------------------------------------------

# Characters that are unsafe or meaningless in a file name on some system Kiln may write to.
_FORBIDDEN_CHARS = set('<>:"|?*')
_DRIVE = re.compile(r"^[A-Za-z]:")


def normalise_path(raw: str) -> str:
    """Return the app-relative, normalised form of `raw` ("./a//b.js" -> "a/b.js").

    Raises ProtocolError, with a message fit for the user, for anything that is not a plain relative
    path inside the app: absolute paths, ".." segments (every one, even those that would stay
    inside), backslashes, NUL and other control characters, drive letters, empty or over-long paths.
    Percent-escapes are not decoded: "%2e%2e" is a harmless literal name.
    """
    shown = _shown(raw)
    path = raw.strip(" ")
    if not path:
        raise ProtocolError("A file has an empty path.")
    if "\x00" in path:
        raise ProtocolError(f"File path {shown} contains a NUL byte.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in path):
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


# --- The parser ------------------------------------------------------------------------------------

_BLOCK_NAMES = ("file", "edit", "delete")
_CLOSE_NAMES = ("file", "edit")
_TAG_DELIMITERS = set(" \t\r\n>/")
_ATTRIBUTE = re.compile(r"""([A-Za-z_][\w-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")

# Inside a block: its closing tag, or a new opening tag at the start of a line (a forgotten close).
_CLOSERS = {name: re.compile(r"(\r?\n)?</" + name + ">") for name in _CLOSE_NAMES}
_NEXT_BLOCK = re.compile(r"\r?\n<(?:" + "|".join(_BLOCK_NAMES) + r")[\s/>]")


def _holdback_sentinels(name: str) -> tuple[str, ...]:
    opens = tuple(f"{nl}<{b} " for nl in ("\n", "\r\n") for b in _BLOCK_NAMES)
    return (f"\r\n</{name}>", f"\n</{name}>", f"</{name}>") + opens


_SENTINELS = {name: _holdback_sentinels(name) for name in _CLOSE_NAMES}


def _holdback(buf: str, sentinels: tuple[str, ...]) -> int:
    """How many trailing characters of buf could be the start of one of the sentinels."""
    longest = min(len(buf), max(len(s) for s in sentinels) - 1)
    for k in range(longest, 0, -1):
        tail = buf[-k:]
        if any(s.startswith(tail) for s in sentinels):
            return k
    return 0


@dataclass
class _Block:
    """The block being read: a file (path None when rejected, content dropped) or an edit."""

    kind: str
    path: str | None
    shown_path: str
    rejected: bool = False
    at_start: bool = True  # the one newline after the opening tag is not yet dropped
    parts: list[str] = field(default_factory=list)
    size: int = 0


class StreamParser:
    """Turns the model's streamed text into events. See the module docstring for the rules."""

    def __init__(self):
        self.files: dict[str, str] = {}
        self.issues: list[ProtocolIssue] = []
        self._text_parts: list[str] = []
        self._buf = ""
        self._block: _Block | None = None
        self._finished = False

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

    def feed(self, chunk: str) -> list[Event]:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._buf += chunk
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def finish(self, finish_reason: str | None = None) -> list[Event]:
        """End of the stream: flush what was held back and report a block left open."""
        if self._finished:
            return []
        events: list[Event] = []
        while self._step(events):
            pass
        self._finished = True
        cut = " because the response hit the length limit" if finish_reason == "length" else ""
        block = self._block
        if block is not None:
            # A rejected block was reported when it was rejected; what was held back is dropped.
            if block.kind == "file" and not block.rejected:
                self._issue(
                    events,
                    f"{block.shown_path} was cut off{cut}: the response ended before </file>, "
                    "so the file was not written.",
                    block.path,
                )
            self._block = None
        elif self._buf.startswith("<") and self._tag_name(self._buf):
            self._issue(events, f"The response ended in the middle of a tag{cut}: {_shown(self._buf)}.")
        elif self._buf:
            self._text(events, self._buf)
        self._buf = ""
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
        # Look for ">" only within the size limit, so the answer never depends on how much has arrived.
        end = buf.find(">", 0, MAX_TAG_CHARS)
        if end == -1:
            if len(buf) < MAX_TAG_CHARS:
                return False
            self._issue(events, f"A <{name.lstrip('/')}> tag was never closed with '>'; it was left as text.")
            self._text(events, "<")
            self._buf = buf[1:]
            return True
        tag, self._buf = buf[: end + 1], buf[end + 1 :]
        self._open(events, name, tag)
        return True

    @staticmethod
    def _tag_name(buf: str) -> str | None:
        """For a buffer starting with "<": the tag name ("file", "/file", ...) if it is one of ours,
        "" if more text is needed to tell, None if it is not one of ours."""
        for name in _BLOCK_NAMES + tuple("/" + n for n in _CLOSE_NAMES):
            head = "<" + name
            if len(buf) <= len(head):
                if head.startswith(buf):
                    return ""
                continue
            if buf.startswith(head) and buf[len(head)] in _TAG_DELIMITERS:
                return name
        return None

    def _open(self, events: list[Event], name: str, tag: str) -> None:
        if name.startswith("/"):
            self._issue(events, f"Found {tag.strip()} without a matching opening tag; it was ignored.")
            return
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

        if name in ("edit", "delete"):
            target = f" for {shown}" if raw_path is not None else ""
            self._issue(events, f"<{name}> block{target} ignored: {EDITS_NOT_SUPPORTED}.", raw_path)
            if name == "edit" and not self_closing:  # skip its body; a <delete/> has none
                self._block = _Block(kind="edit", path=None, shown_path=shown, rejected=True)
            return

        if self_closing:
            self._issue(
                events,
                f"The <file/> tag for {shown} has no content; write <file ...>content</file>.",
                raw_path,
            )
            return
        if raw_path is None:
            self._issue(events, "A <file> tag has no path attribute; its content was dropped.")
            self._block = _Block(kind="file", path=None, shown_path=shown, rejected=True)
            return
        try:
            path = normalise_path(raw_path)
        except ProtocolError as exc:
            self._issue(events, f"{exc} The file was not written.", raw_path)
            self._block = _Block(kind="file", path=raw_path, shown_path=shown, rejected=True)
            return
        self._block = _Block(kind="file", path=path, shown_path=_shown(path))
        events.append(FileStarted(path))

    def _step_block(self, events: list[Event]) -> bool:
        block = self._block
        buf = self._buf
        if block.at_start:
            if not buf or buf == "\r":
                return False
            if buf.startswith("\r\n"):
                buf = buf[2:]
            elif buf.startswith("\n"):
                buf = buf[1:]
            block.at_start = False
            self._buf = buf

        close_name = "file" if block.kind == "file" else "edit"
        close = _CLOSERS[close_name].search(buf)
        nxt = _NEXT_BLOCK.search(buf)
        if nxt and (close is None or nxt.start() < close.start()):
            self._content(events, block, buf[: nxt.start()])
            self._buf = buf[nxt.start() :].lstrip("\r\n")
            self._end_block(events, block, forgotten_close=True)
            return True
        if close:
            self._content(events, block, buf[: close.start()])
            self._buf = buf[close.end() :]
            self._end_block(events, block)
            return True
        keep = _holdback(buf, _SENTINELS[close_name])
        self._content(events, block, buf[: len(buf) - keep])
        self._buf = buf[len(buf) - keep :]
        return False

    def _content(self, events: list[Event], block: _Block, text: str) -> None:
        if not text or block.rejected:
            return
        if "\x00" in text:
            block.rejected = True
            self._issue(
                events, f"{block.shown_path} contains a NUL byte; the file was not written.", block.path
            )
            return
        block.size += len(text)
        if block.size > MAX_FILE_CHARS:
            block.rejected = True
            self._issue(
                events,
                f"{block.shown_path} is larger than {MAX_FILE_CHARS} characters; the file was not written.",
                block.path,
            )
            return
        block.parts.append(text)
        events.append(FileDelta(block.path, text))

    def _end_block(self, events: list[Event], block: _Block, forgotten_close: bool = False) -> None:
        self._block = None
        if block.kind != "file" or block.rejected:
            return
        if forgotten_close:
            self._issue(
                events,
                f"{block.shown_path} was not closed with </file> before the next tag; "
                "it was kept as written.",
                block.path,
            )
        content = "".join(block.parts)
        if block.path in self.files:
            self._issue(
                events,
                f"{block.shown_path} was written more than once; the last version is kept.",
                block.path,
            )
        self.files[block.path] = content
        events.append(FileCompleted(block.path, content))

    def _text(self, events: list[Event], text: str) -> None:
        self._text_parts.append(text)
        events.append(TextDelta(text))

    def _issue(self, events: list[Event], message: str, path: str | None = None) -> None:
        issue = ProtocolIssue(message, path)
        self.issues.append(issue)
        events.append(issue)


def parse(text: str, finish_reason: str | None = None) -> StreamParser:
    """Parse a whole response at once (for stored outputs and tests)."""
    parser = StreamParser()
    parser.feed(text)
    parser.finish(finish_reason)
    return parser
