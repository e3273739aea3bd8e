"""The server keeps answering a client that frames messages wrongly (issue 11,
item 6), through a raw-bytes client (tests/support/raw_lsp.py), not an LSP library:

- every Content-Length lie (short, long, missing, negative, not a number,
  LF-only lines, garbage between messages): the server resynchronises at the
  next ``Content-Length:`` header and answers what follows; the lying request
  itself gets an error response when its id can be read;
- a huge Content-Length is refused without reading the body into memory;
- malformed requests that carry an id get an error response (ParseError,
  InvalidRequest, InvalidParams);
- requests after ``shutdown`` get ``InvalidRequest``; ``exit`` ends the
  process with 0 after ``shutdown`` and 1 without it (the LSP spec).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessions.lsp.framing import MAX_MESSAGE_BYTES
from tests.support.raw_lsp import RawServer, frame, notification_body, parse_request, request_body

pytestmark = pytest.mark.lsp

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RawServer]:
    raw = RawServer(tmp_path)
    try:
        raw.initialize(tmp_path)
        yield raw
    finally:
        raw.close()


def error_code(reply: dict[str, Any]) -> int:
    assert "error" in reply, reply
    code: int = reply["error"]["code"]
    return code


# -- Content-Length lies ----------------------------------------------------------


def test_short_content_length(server: RawServer) -> None:
    body = parse_request(1)
    server.send(frame(body, length=len(body) - 10))
    assert error_code(server.response(1)) == PARSE_ERROR
    server.answers(2)


def test_long_content_length_then_another_message(server: RawServer) -> None:
    body = parse_request(1)
    server.send(frame(body, length=len(body) + 40) + frame(parse_request(2)))
    assert error_code(server.response(1)) == INVALID_REQUEST
    reply = server.response(2)
    assert reply["result"]["cells"][0]["source"] == "x = 1", reply
    server.answers(3)


def test_long_content_length_and_nothing_after(server: RawServer) -> None:
    """The client sent its whole message and waits: it must not wait forever."""
    body = parse_request(1)
    server.send(frame(body, length=len(body) + 40))
    assert error_code(server.response(1)) == INVALID_REQUEST
    server.answers(2)


def test_missing_content_length(server: RawServer) -> None:
    server.send(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n")
    server.send(parse_request(1))
    assert error_code(server.response(1)) == INVALID_REQUEST
    server.answers(2)


def test_no_header_at_all(server: RawServer) -> None:
    server.send(parse_request(1) + frame(parse_request(2)))
    assert error_code(server.response(1)) == INVALID_REQUEST
    assert "result" in server.response(2)


@pytest.mark.parametrize("value", [b"-5", b"abc", b"", b"12 34", b"0x10"])
def test_invalid_content_length(server: RawServer, value: bytes) -> None:
    server.send(b"Content-Length: " + value + b"\r\n\r\n" + parse_request(1))
    assert error_code(server.response(1)) == INVALID_REQUEST
    server.answers(2)


def test_lf_only_headers_are_accepted(server: RawServer) -> None:
    server.send(frame(parse_request(1), newline=b"\n"))
    assert server.response(1)["result"]["cells"][0]["source"] == "x = 1"
    server.answers(2)


def test_garbage_between_messages_is_skipped(server: RawServer) -> None:
    server.send(b"\x00\xffnot a header\r\n\r\n" + frame(parse_request(1)))
    assert "result" in server.response(1)
    server.send(b"Content-Length: 5\r\n\r\n{]}!!" + b"junk" * 100 + frame(parse_request(2)))
    assert "result" in server.response(2)
    server.answers(3)


def test_a_message_split_into_single_bytes(server: RawServer) -> None:
    for byte in frame(parse_request(1)):
        server.send(bytes([byte]))
    assert "result" in server.response(1)


def test_unicode_body_length_is_in_bytes(server: RawServer) -> None:
    body = parse_request(1, "# %%\nx = 'é€😀'\n").replace(b"\\u00e9", "é".encode())
    server.send(frame(body))
    assert server.response(1)["result"]["cells"][0]["source"] == "x = 'é€😀'"


# -- message size ---------------------------------------------------------------------


def test_huge_content_length_is_refused_without_reading_it(server: RawServer) -> None:
    server.send(frame(parse_request(1), length=99_999_999_999))
    reply = server.response(1)
    assert error_code(reply) == INVALID_REQUEST
    assert str(MAX_MESSAGE_BYTES) in reply["error"]["message"]
    server.answers(2)
    assert server.process.poll() is None


def test_oversized_message_is_skipped_in_bounded_memory(server: RawServer) -> None:
    before = server.peak_rss_mb()
    text = "x" * (MAX_MESSAGE_BYTES + 1000)
    body = request_body(
        1, "workspace/executeCommand", {"command": "sessions.parse", "arguments": [{"text": text}]}
    )
    server.send(frame(body))
    assert error_code(server.response(1)) == INVALID_REQUEST
    server.answers(2)
    # The body was discarded as it came, not buffered (it is 64 MB).
    assert server.peak_rss_mb() - before < MAX_MESSAGE_BYTES / 2**20 / 4


def test_oversized_message_with_id_last(server: RawServer) -> None:
    params = {"command": "sessions.parse", "arguments": [{"text": "y" * (MAX_MESSAGE_BYTES + 10)}]}
    body = json.dumps(
        {"jsonrpc": "2.0", "method": "workspace/executeCommand", "params": params, "id": 7}
    )
    server.send(frame(body.encode()))
    assert error_code(server.response(7)) == INVALID_REQUEST
    server.answers(8)


# -- malformed messages that carry an id -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": "sessions.parse", "params": {', PARSE_ERROR),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "workspace/executeCommand"}', INVALID_REQUEST),
        (b'{"id": 1, "method": "workspace/executeCommand", "params": {}}', INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 42}', INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1}', INVALID_REQUEST),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {"position": 3}}',
            INVALID_PARAMS,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "workspace/executeCommand", "params": 5}',
            INVALID_PARAMS,
        ),
    ],
    ids=[
        "bad-json",
        "jsonrpc-1.0",
        "no-jsonrpc",
        "method-not-a-string",
        "no-method",
        "bad-params",
        "params-not-an-object",
    ],
)
def test_malformed_request_with_an_id_is_answered(
    server: RawServer, body: bytes, code: int
) -> None:
    server.send(frame(body))
    reply = server.response(1)
    assert error_code(reply) == code, reply
    assert reply["error"]["message"]
    server.answers(2)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'[{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}]',
        b'"text"',
        b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}',
        b"{oops",
    ],
    ids=["empty-batch", "batch", "string", "object-id", "bad-json-no-id"],
)
def test_malformed_message_without_a_usable_id_gets_a_null_id_error(
    server: RawServer, body: bytes
) -> None:
    server.send(frame(body))
    reply = server.response(None)
    assert error_code(reply) in (PARSE_ERROR, INVALID_REQUEST)
    server.answers(2)


def test_unknown_method_is_method_not_found(server: RawServer) -> None:
    assert error_code(server.request(1, "sessions/nothing")) == -32601
    server.send(frame(notification_body("sessions/nothing")))  # a notification: no reply
    server.answers(2)
    assert not any(m.get("id") is None and "error" in m for m in server.received)


# -- shutdown and exit ---------------------------------------------------------------


def test_requests_after_shutdown_are_invalid_request(server: RawServer) -> None:
    assert server.request(1, "shutdown") == {"jsonrpc": "2.0", "id": 1, "result": None}
    server.send(frame(parse_request(2)))
    assert error_code(server.response(2)) == INVALID_REQUEST
    assert error_code(server.request(3, "shutdown")) == INVALID_REQUEST
    server.send(frame(notification_body("exit")))
    assert server.wait() == 0


def test_exit_without_shutdown_is_code_1(server: RawServer) -> None:
    server.answers(1)
    server.send(frame(notification_body("exit")))
    assert server.wait() == 1


def test_exit_after_shutdown_is_code_0(server: RawServer) -> None:
    server.request(1, "shutdown")
    server.send(frame(notification_body("exit")))
    assert server.wait() == 0
