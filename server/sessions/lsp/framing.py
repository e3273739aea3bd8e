"""Cutting the client's byte stream into message bodies, robustly (the LSP base
protocol: ``Content-Length: N\\r\\n`` headers, a blank line, N bytes of JSON).

Why not pygls's reader (``pygls.io_.run_async``): it trusts every header.
A ``Content-Length`` that is too short, too long, missing, negative or on
LF-only lines left it waiting for a header that never matched, alive but
deaf for good; ``Content-Length: 99999999999`` made it allocate the body
(``MemoryError``). It has no hook for any of that, so the transport
(``transport.py``) reads the stream itself, cuts it here, and hands decoded
messages to pygls's protocol as pygls's reader would.

The rules (docs/protocol.md, "Framing"):

- a body is at most ``MAX_MESSAGE_BYTES``; a larger one is skipped as it
  arrives (never buffered) and answered with an error when its id is in its
  first or last bytes;
- header lines may end in CRLF or LF; header names are case-insensitive;
- a frame that lies is cut where the next ``Content-Length:`` header starts.
  That pattern (``Content-Length:``, digits, a raw line break) cannot occur
  inside valid JSON (a raw line break is not allowed in a JSON string and
  ``Content-Length`` is not a JSON token), so searching for it never cuts an
  honest body;
- a body the client stopped sending before its declared length is taken as
  it is after ``STALL_SECONDS`` without data, if it is a complete JSON value
  (an honest body's proper prefix never is), so a client waiting for the
  answer is answered.

Pure: bytes in, :class:`Body` and :class:`Malformed` out; the transport does
the reading, the timing and the replying.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message body accepted (64 MiB): above any document the server
accepts, small enough that a lying header cannot exhaust memory."""

STALL_SECONDS = 0.5
"""Silence after which an incomplete frame is judged by what arrived."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

MsgId = int | str

_HEAD_BYTES = 64 * 1024
"""Kept of a skipped or unframed body, to find its id (and of its end, for an
id written after ``params``)."""
_MAX_HEADER_BYTES = 8 * 1024
_NEXT_HEADER = re.compile(rb"Content-Length:[ \t]*\d+[ \t]*\r?\n")
_OVERLAP = 64
"""Bytes rescanned at a chunk boundary, so a header split across reads is found."""
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADER_LINES = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*[ \t]*:[^\r\n]*\r?\n?)+")
"""Header lines (the last one's line break may be the block's end)."""
_HEADER_PREFIX = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*(?:[ \t]*:[^\r\n]*\r?)?)?")
"""The beginning of a header line still arriving."""
_LINE_BREAK = re.compile(rb"\r?\n")
_WHITESPACE = b" \t\r\n"
_TRAILING_ID = re.compile(rb',\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$')


@dataclass(frozen=True, slots=True)
class Body:
    """A well-framed body; still to be decoded as JSON."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that could not be taken as a message.

    ``request_id`` is the id read from its bytes, if any: the transport
    answers it with an error (a client waits for that answer)."""

    code: int
    message: str
    request_id: MsgId | None


Frame = Body | Malformed
_State = Literal["headers", "body", "unframed", "skip"]


def is_message_id(value: object) -> bool:
    """LSP ids are integers or strings."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def find_request_id(head: bytes, tail: bytes = b"") -> MsgId | None:
    """The top-level ``"id"`` of a (possibly cut or broken) JSON object.

    The object's top-level members are decoded from ``head`` one by one, up
    to the first that does not decode (where a cut body stops); an id after
    that is looked for at the very end of ``tail`` (``, "id": 7}``)."""
    text = head.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("{", position):
        return None
    position += 1
    while True:
        position = _skip_space(text, position)
        try:
            key, position = decoder.raw_decode(text, position)
            position = _skip_space(text, position)
            if not text.startswith(":", position):
                break
            value, position = decoder.raw_decode(text, _skip_space(text, position + 1))
        except ValueError:
            break
        if key == "id":
            return value if is_message_id(value) else None
        position = _skip_space(text, position)
        if not text.startswith(",", position):
            return None  # the object ended (or broke) without an id
        position += 1
    match = _TRAILING_ID.search(tail)
    if match is None:
        return None
    try:
        found = json.loads(match.group(1))
    except ValueError:
        return None
    return found if is_message_id(found) else None


def id_of_broken_body(data: bytes) -> MsgId | None:
    """The id of a framed body that is not valid JSON, from its first and last bytes."""
    return find_request_id(data[:_HEAD_BYTES], data[-_HEAD_BYTES:])


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _is_complete_json(data: bytes | bytearray) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


class FrameReader:
    """Cuts a byte stream into frames; see the module docstring for the rules."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._state: _State = "headers"
        self._length = 0
        """Declared body length (``body`` and ``skip``)."""
        self._problem = ""
        """Why the bytes being collected are not a message (``unframed``, ``skip``)."""
        self._scanned = 0
        """How much of the buffer was searched for the next header already."""
        self._head = bytearray()
        self._tail = bytearray()
        self._seen = 0
        """Bytes of the body being skipped or collected, so far."""

    @property
    def expecting_more(self) -> bool:
        """An incomplete frame waits: a stall would decide it."""
        return self._state != "headers"

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        return self._advance()

    def stalled(self) -> list[Frame]:
        """No data came for ``STALL_SECONDS``: judge an incomplete frame by what arrived."""
        frames: list[Frame] = []
        if self._state == "body":
            if _is_complete_json(self._buffer):
                data = bytes(self._buffer)
                self._buffer.clear()
                self._state = "headers"
                frames.append(
                    Malformed(
                        INVALID_REQUEST,
                        f"Content-Length says {self._length} bytes, but the message ended "
                        f"after {len(data)}",
                        id_of_broken_body(data),
                    )
                )
        elif self._state == "unframed":
            self._collect(self._buffer)
            self._buffer.clear()
            frames.extend(self._end_unframed())
        elif (
            self._state == "skip"
            and self._seen + len(self._buffer) <= _HEAD_BYTES
            and _is_complete_json(self._head + self._buffer)
        ):
            # A small body under a huge length (``Content-Length: 99999999999``):
            # the client sent all it meant to and waits.
            self._collect(self._buffer)
            self._buffer.clear()
            frames.append(self._end_skip())
        frames.extend(self._advance())
        return frames

    def eof(self) -> list[Frame]:
        """The stream ended: what is left is judged as it is."""
        if self._state == "body":
            self._start_unframed("the stream ended inside a message")
        frames = self.stalled()
        if self._state == "skip":
            frames.append(self._end_skip())
        return frames

    # -- the states ----------------------------------------------------------------

    def _advance(self) -> list[Frame]:
        frames: list[Frame] = []
        while True:
            if self._state == "headers":
                progressed = self._read_headers()
            elif self._state == "body":
                progressed = self._read_body(frames)
            elif self._state == "unframed":
                progressed = self._read_unframed(frames)
            else:
                progressed = self._read_skipped(frames)
            if not progressed:
                return frames

    def _read_headers(self) -> bool:
        buffer = self._buffer
        start = 0
        while start < len(buffer) and buffer[start] in _WHITESPACE:
            start += 1
        if start:
            del buffer[:start]
        if not buffer:
            return False
        block_end = self._header_block_end()
        if block_end is None:
            return False  # a header still arriving
        if block_end < 0:
            self._start_unframed("bytes outside a message (no Content-Length header)")
            return True
        end = _HEADER_END.search(buffer, block_end)
        assert end is not None
        block = bytes(buffer[:block_end])
        del buffer[: end.end()]
        length, problem = _content_length(block)
        if problem is not None:
            self._start_unframed(problem)
        elif length > self.limit:
            self._state, self._length, self._seen = "skip", length, 0
            self._head, self._tail, self._scanned = bytearray(), bytearray(), 0
            self._problem = (
                f"message of {length} bytes is over the limit of {self.limit} bytes "
                "(docs/protocol.md, Framing)"
            )
        else:
            self._state, self._length, self._scanned = "body", length, 0
        return True

    def _header_block_end(self) -> int | None:
        """Where the header block at the start of the buffer ends (before its
        blank line); -1 if the buffer does not start with one; None to wait."""
        buffer = self._buffer
        limit = min(len(buffer), _MAX_HEADER_BYTES + 4)
        end = _HEADER_END.search(buffer, 0, limit)
        upto = end.start() if end is not None else limit
        after = _NEXT_HEADER.search(buffer, 0, upto + _OVERLAP)
        at_line_start = after is None or after.start() == 0 or buffer[after.start() - 1] == 10
        if end is not None and at_line_start and _HEADER_LINES.fullmatch(buffer, 0, end.start()):
            return end.start()
        # No header block (yet): bytes before the next Content-Length header
        # in sight are garbage, unless they are header lines (Content-Type).
        if after is not None:
            before_ok = after.start() == 0 or (
                at_line_start and _HEADER_LINES.fullmatch(buffer, 0, after.start())
            )
            if before_ok and end is None and len(buffer) <= _MAX_HEADER_BYTES:
                return None  # the blank line after the headers is still to come
            return -1
        if end is None and len(buffer) <= _MAX_HEADER_BYTES:
            complete = buffer.rfind(b"\n") + 1
            lines_ok = complete == 0 or _HEADER_LINES.fullmatch(buffer, 0, complete)
            if lines_ok and _HEADER_PREFIX.fullmatch(buffer, complete):
                return None  # a header line still arriving
        return -1

    def _read_body(self, frames: list[Frame]) -> bool:
        buffer, length = self._buffer, self._length
        found = _NEXT_HEADER.search(
            buffer, max(0, self._scanned - _OVERLAP), min(len(buffer), length + _OVERLAP)
        )
        if found is not None and found.start() < length:
            # The next message starts inside this one: the length was too long.
            data = bytes(buffer[: found.start()])
            del buffer[: found.start()]
            self._state = "headers"
            frames.append(
                Malformed(
                    INVALID_REQUEST,
                    f"Content-Length says {length} bytes, but the next message starts "
                    f"after {len(data)}",
                    id_of_broken_body(data),
                )
            )
            return True
        self._scanned = min(len(buffer), length)
        if len(buffer) < length:
            return False
        with memoryview(buffer) as view:
            data = bytes(view[:length])
        del buffer[:length]
        frames.append(Body(data))
        self._state = "headers"
        return True

    def _start_unframed(self, problem: str) -> None:
        self._state, self._problem = "unframed", problem
        self._head, self._seen, self._scanned = bytearray(), 0, 0

    def _read_unframed(self, frames: list[Frame]) -> bool:
        """Bytes of no known length, up to the next header (or a stall)."""
        buffer = self._buffer
        found = _NEXT_HEADER.search(buffer, max(0, self._scanned - _OVERLAP))
        taken = found.start() if found is not None else max(0, len(buffer) - _OVERLAP)
        self._collect(buffer[:taken])
        del buffer[:taken]
        self._scanned = len(buffer)
        if found is None:
            return False
        frames.extend(self._end_unframed())
        return True

    def _end_unframed(self) -> list[Frame]:
        head = bytes(self._head)
        self._state, self._head = "headers", bytearray()
        if not head.strip():
            return []
        start = head.find(b"{")  # after any headers that came first
        request_id = find_request_id(head[start:]) if start >= 0 else None
        return [Malformed(INVALID_REQUEST, self._problem, request_id)]

    def _read_skipped(self, frames: list[Frame]) -> bool:
        """An oversized body: dropped as it comes, its first and last bytes kept."""
        buffer = self._buffer
        if not buffer:
            return False
        left = self._length - self._seen
        found = _NEXT_HEADER.search(
            buffer, max(0, self._scanned - _OVERLAP), min(len(buffer), left + _OVERLAP)
        )
        if found is not None and found.start() < left:
            # A lying length (e.g. 99999999999): the next message is here.
            self._collect(buffer[: found.start()])
            del buffer[: found.start()]
            frames.append(self._end_skip())
            return True
        if len(buffer) >= left:
            self._collect(buffer[:left])
            del buffer[:left]
            frames.append(self._end_skip())
            return True
        keep = min(len(buffer), _OVERLAP)
        self._collect(buffer[: len(buffer) - keep])
        del buffer[: len(buffer) - keep]
        self._scanned = len(buffer)
        return False

    def _end_skip(self) -> Malformed:
        self._state = "headers"
        request_id = find_request_id(bytes(self._head), bytes(self._tail))
        self._head, self._tail = bytearray(), bytearray()
        return Malformed(INVALID_REQUEST, self._problem, request_id)

    def _collect(self, data: bytes | bytearray) -> None:
        """Keep the first and last ``_HEAD_BYTES`` of a body that is not kept whole."""
        if not data:
            return
        self._seen += len(data)
        room = _HEAD_BYTES - len(self._head)
        if room > 0:
            self._head += data[:room]
        self._tail += data[-_HEAD_BYTES:]
        if len(self._tail) > _HEAD_BYTES:
            del self._tail[: len(self._tail) - _HEAD_BYTES]


def _content_length(block: bytes) -> tuple[int, str | None]:
    """The declared body length of a header block, or why there is none."""
    length: int | None = None
    for line in _LINE_BREAK.split(block):
        name, colon, value = line.partition(b":")
        if not colon:
            return 0, f"malformed header line {line[:80]!r}"
        if name.strip().lower() != b"content-length":
            continue  # Content-Type and unknown headers: nothing to check
        text = value.strip()
        if not text.isdigit():
            return 0, f"invalid Content-Length {text[:40].decode('ascii', 'replace')!r}"
        if length is not None and int(text) != length:
            return 0, "two different Content-Length headers"
        length = int(text)
    if length is None:
        return 0, "a header block without Content-Length"
    return length, None


__all__ = [
    "INVALID_REQUEST",
    "MAX_MESSAGE_BYTES",
    "PARSE_ERROR",
    "STALL_SECONDS",
    "Body",
    "FrameReader",
    "Malformed",
    "find_request_id",
    "id_of_broken_body",
    "is_message_id",
]
