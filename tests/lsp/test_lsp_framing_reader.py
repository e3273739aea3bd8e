"""``FrameReader`` (the language server's framing, pure): honest streams cut
anywhere give back their bodies; each lie costs only its own frame; ids are
read from broken bodies."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sessions.lsp.framing import (
    INVALID_REQUEST,
    Body,
    Frame,
    FrameReader,
    Malformed,
    find_request_id,
)


def body(msg_id: int, text: str = "") -> bytes:
    message = {"jsonrpc": "2.0", "id": msg_id, "method": "m", "params": {"text": text}}
    return json.dumps(message, ensure_ascii=False).encode()


def frame(data: bytes, length: int | None = None, newline: bytes = b"\r\n") -> bytes:
    declared = len(data) if length is None else length
    return b"Content-Length: %d" % declared + newline + newline + data


def feed_all(reader: FrameReader, data: bytes, chunk: int = 1 << 20) -> list[Frame]:
    frames: list[Frame] = []
    for start in range(0, len(data), chunk):
        frames += reader.feed(data[start : start + chunk])
    return frames


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@given(st.lists(texts, min_size=1, max_size=6), st.integers(min_value=1, max_value=97))
def test_honest_frames_cut_anywhere(contents: list[str], chunk: int) -> None:
    bodies = [body(i, text) for i, text in enumerate(contents)]
    extra = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
    stream = b"".join(extra + frame(b) if i % 2 else frame(b) for i, b in enumerate(bodies))
    assert feed_all(FrameReader(), stream, chunk) == [Body(b) for b in bodies]


def test_text_that_looks_like_a_header_inside_a_body_is_not_a_header() -> None:
    data = body(1, "Content-Length: 5\r\n\r\nxx")  # escaped in JSON: no raw line break
    assert FrameReader().feed(frame(data)) == [Body(data)]


def test_long_length_is_cut_at_the_next_header() -> None:
    first, second = body(1), body(2)
    frames = FrameReader().feed(frame(first, len(first) + 30) + frame(second))
    assert [type(f) for f in frames] == [Malformed, Body]
    assert frames[0] == Malformed(INVALID_REQUEST, frames[0].message, 1)  # type: ignore[union-attr]
    assert frames[1] == Body(second)


def test_long_length_with_nothing_after_is_judged_at_a_stall() -> None:
    reader = FrameReader()
    data = body(1)
    assert reader.feed(frame(data, len(data) + 30)) == []
    assert reader.expecting_more
    (malformed,) = reader.stalled()
    assert isinstance(malformed, Malformed) and malformed.request_id == 1
    assert not reader.expecting_more


def test_a_slow_honest_body_is_not_judged_at_a_stall() -> None:
    reader = FrameReader()
    data = body(1, "x" * 100)
    assert reader.feed(frame(data)[:-10]) == []
    assert reader.stalled() == []
    assert reader.feed(data[-10:]) == [Body(data)]


def test_short_length_gives_a_broken_body_then_resynchronises() -> None:
    first, second = body(1), body(2)
    frames = FrameReader().feed(frame(first, len(first) - 5) + frame(second))
    assert frames[0] == Body(first[:-5])  # the transport answers it with a ParseError
    assert frames[-1] == Body(second)
    assert all(isinstance(f, Malformed) and f.request_id is None for f in frames[1:-1])


def test_huge_length_keeps_memory_bounded_and_finds_the_trailing_id() -> None:
    reader = FrameReader(limit=1000)
    data = json.dumps({"jsonrpc": "2.0", "method": "m", "params": "y" * 500_000, "id": "a"})
    frames = feed_all(reader, frame(data.encode()) + frame(body(2)), chunk=4096)
    assert len(reader._buffer) < 200
    assert frames[0] == Malformed(INVALID_REQUEST, frames[0].message, "a")  # type: ignore[union-attr]
    assert frames[1] == Body(body(2))


def test_invalid_lengths() -> None:
    for header in (b"Content-Length: -1", b"Content-Length: x", b"Content-Type: a", b"nonsense"):
        frames = FrameReader().feed(header + b"\r\n\r\n" + body(5) + frame(body(6)))
        assert frames[0] == Malformed(INVALID_REQUEST, frames[0].message, 5), header  # type: ignore[union-attr]
        assert frames[-1] == Body(body(6))


def test_conflicting_lengths() -> None:
    data = body(1)
    header = b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(data)
    reader = FrameReader()
    (malformed,) = reader.feed(header + data) + reader.stalled()
    assert isinstance(malformed, Malformed)


def test_lf_only_and_lowercase_headers() -> None:
    data = body(1)
    assert FrameReader().feed(frame(data, newline=b"\n")) == [Body(data)]
    assert FrameReader().feed(b"content-length: %d\r\n\r\n" % len(data) + data) == [Body(data)]


def test_find_request_id() -> None:
    assert find_request_id(b'{"jsonrpc": "2.0", "id": 3, "method": "m", "params": {') == 3
    assert find_request_id(b'{"method": "m", "params": {"id": 9}}') is None  # not top level
    assert find_request_id(b'{"params": {"x": "' + b"z" * 50, b'z"}, "id": "k"}') == "k"
    assert find_request_id(b'{"params": {"x": 1}, "id": {"a": 1}}') is None
    assert find_request_id(b'{"id": true}') is None
    assert find_request_id(b"[1, 2]") is None
