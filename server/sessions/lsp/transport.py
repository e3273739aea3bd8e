"""One client connection: read the byte stream, cut it into frames
(``framing.py``), decode and check each message, and hand it to pygls's
protocol exactly as pygls's own reader would (``protocol.handle_message``).

Why this module and not pygls's reader (``pygls.io_.run_async``): besides
the framing (see ``framing.py``), pygls drops, without an answer, every
message it cannot decode or validate (bad JSON, ``"jsonrpc"`` missing or
not ``"2.0"``, ``method`` not a string, params of the wrong shape) and every
request after ``shutdown``; a client waits forever for those answers. And
its ``exit`` handler raises ``SystemExit`` inside the event loop, which
pygls's ``start_io`` swallows, so the process always ended with 0. The
protocol class itself (dispatch, handlers, responses) is kept: only the
reading loop around it is ours. Here:

- every request with an id gets a response: ``ParseError`` (-32700) for a
  body that is not JSON (with the id if it can be read from the bytes, else
  ``null``), ``InvalidRequest`` (-32600) for a frame or message that is not
  a valid JSON-RPC 2.0 request, ``InvalidParams`` (-32602) for params of
  the wrong shape;
- once ``shutdown`` was requested, requests get ``InvalidRequest`` and
  notifications other than ``exit`` are dropped;
- ``exit`` ends :meth:`Connection.serve`; the caller ends the process with
  0 if ``shutdown`` came first, else 1 (LSP spec).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

import cattrs
from lsprotocol.types import EXIT, SHUTDOWN, ResponseError
from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCProtocol

from sessions.lsp.framing import (
    INVALID_REQUEST,
    PARSE_ERROR,
    STALL_SECONDS,
    Body,
    Frame,
    FrameReader,
    MsgId,
    id_of_broken_body,
    is_message_id,
)

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024

Read = Callable[[], Awaitable[bytes]]
"""The next bytes of the stream; ``b""`` at its end."""


class ThreadedReader:
    """Reads a blocking binary stream (stdin) in a daemon thread, one chunk per
    :meth:`read`, as much as is there (``read1``), never more than asked for.

    A daemon thread, not an executor: a read blocked on stdin when the server
    exits must not keep the process alive (executor threads are joined at
    interpreter exit)."""

    def __init__(self, stream: BinaryIO, chunk: int = READ_CHUNK) -> None:
        self._read1: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        self._chunk = chunk
        self._asks: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[bytes]]]
        self._asks = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lsp-stdin", daemon=True)
        self._thread.start()

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._asks.put((loop, future))
        return await future

    def _run(self) -> None:
        while True:
            loop, future = self._asks.get()
            try:
                data = self._read1(self._chunk)
            except (OSError, ValueError):  # closed or broken: the end of the stream
                data = b""
            try:
                loop.call_soon_threadsafe(_resolve, future, data)
            except RuntimeError:  # the loop is closed: nobody reads any more
                return
            if not data:
                return


class ThreadedWriter:
    """Writes whole messages to a blocking binary stream (stdout) from a
    thread, in the order they were given, so that a client slow to read
    never holds up the event loop: a 1 MB ``sessions/state`` (a keystroke in
    a 50,000-line notebook) to a client that takes 10–40 ms to read it held
    the loop that long, and the next keystroke waited. pygls's writer
    interface (``write``, ``close``).

    A stream that fails (the client went away) makes the next :meth:`write`
    raise ``BrokenPipeError``, as a direct write would have. :meth:`close`
    waits for what is queued to be written (the reply to ``shutdown``)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lsp-stdout", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        if self._failed is not None:
            raise BrokenPipeError(f"the client's stream is closed ({self._failed})")
        self._queue.put(data)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            try:
                self._stream.write(data)
                self._stream.flush()
            except (OSError, ValueError) as error:  # closed or broken
                self._failed = error
                return


def _resolve(future: asyncio.Future[bytes], data: bytes) -> None:
    if not future.done():
        future.set_result(data)


class Connection:
    """Serves one client on ``protocol`` until ``exit`` or the end of the stream."""

    def __init__(self, protocol: JsonRPCProtocol, frames: FrameReader | None = None) -> None:
        self._protocol = protocol
        self._frames = frames if frames is not None else FrameReader()
        self.shutdown_requested = False
        self.exit_received = False

    async def serve(self, read: Read) -> None:
        pending = asyncio.ensure_future(read())
        judged = False  # the current incomplete frame was judged at a stall already
        try:
            while True:
                wait = STALL_SECONDS if self._frames.expecting_more and not judged else None
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:
                    judged = True
                    self._dispatch(self._frames.stalled())
                    continue
                try:
                    data = pending.result()
                except (OSError, EOFError):
                    data = b""
                if not data:
                    self._dispatch(self._frames.eof())
                    return
                judged = False
                pending = asyncio.ensure_future(read())  # read ahead while this is handled
                self._dispatch(self._frames.feed(data))
                if self.exit_received:
                    return
        finally:
            pending.cancel()

    # -- frames and messages ----------------------------------------------------

    def _dispatch(self, frames: list[Frame]) -> None:
        for frame in frames:
            if self.exit_received:
                return
            if isinstance(frame, Body):
                self._handle_body(frame.data)
                continue
            log.warning("malformed message from the client: %s", frame.message)
            if frame.request_id is not None:
                self._reply_error(frame.request_id, frame.code, frame.message)

    def _handle_body(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            log.warning("a message that is not JSON: %s", exc)
            self._reply_error(id_of_broken_body(data), PARSE_ERROR, f"invalid JSON: {exc}")
            return
        try:
            self._handle_message(message)
        except Exception:
            # Never let one message end the connection (pygls's reader logged
            # and went on too); a request still gets its answer.
            log.exception("could not handle a message")
            if (
                isinstance(message, dict)
                and is_message_id(message.get("id"))
                and "method" in message
            ):
                self._reply_error(message["id"], -32603, "internal error (see the server log)")

    def _handle_message(self, message: Any) -> None:
        if not isinstance(message, dict):
            self._reply_error(
                None, INVALID_REQUEST, "a message is one JSON object (LSP has no batches)"
            )
            return
        has_id = "id" in message
        msg_id: MsgId | None = message.get("id")
        if has_id and not is_message_id(msg_id):
            self._reply_error(None, INVALID_REQUEST, "`id` must be an integer or a string")
            return
        if "method" in message:
            self._handle_call(message, msg_id)
        elif msg_id is not None and ("result" in message or "error" in message):
            self._handle_response(message, msg_id)
        else:
            self._reply_error(
                msg_id, INVALID_REQUEST, "neither a request, a notification nor a response"
            )

    def _handle_call(self, message: dict[str, Any], msg_id: MsgId | None) -> None:
        """A request (``msg_id`` set) or a notification."""
        method = message["method"]
        problem = None
        if not isinstance(method, str):
            problem = "`method` must be a string"
        elif message.get("jsonrpc") != "2.0":
            problem = '`"jsonrpc": "2.0"` is required'
        elif self.shutdown_requested and method != EXIT:
            problem = f"{method}: the server is shutting down (shutdown was requested)"
        if problem is not None:
            if msg_id is not None:
                self._reply_error(msg_id, INVALID_REQUEST, problem)
            else:
                log.warning("dropped a notification: %s", problem)
            return
        if method == EXIT:
            self.exit_received = True
            return
        if "params" not in message:  # optional in JSON-RPC; pygls's fallback types require it
            message = {**message, "params": None}
        try:
            structured = self._protocol.structure_message(message)
        except JsonRpcException as exc:
            detail = _validation_detail(exc)
            if msg_id is not None:
                self._reply_error(msg_id, exc.code, f"{method}: invalid params{detail}")
            else:
                log.warning("dropped a notification %s with invalid params%s", method, detail)
            return
        if method == SHUTDOWN and msg_id is not None:
            self.shutdown_requested = True
        self._protocol.handle_message(structured)

    def _handle_response(self, message: dict[str, Any], msg_id: MsgId) -> None:
        """The client's answer to one of our requests: a bad one fails our request
        (through pygls's bookkeeping) instead of leaving it pending forever."""
        try:
            if message.get("jsonrpc") != "2.0":
                raise ValueError('`"jsonrpc": "2.0"` is required')
            structured = self._protocol.structure_message(message)
        except (JsonRpcException, ValueError) as exc:
            log.warning("a malformed response to request %r: %s", msg_id, exc)
            error = ResponseError(code=INVALID_REQUEST, message=f"malformed response: {exc}")
            self._protocol._handle_response(msg_id, None, error)
            return
        self._protocol.handle_message(structured)

    def _reply_error(self, msg_id: MsgId | None, code: int, message: str) -> None:
        # Sent as a plain dict: lsprotocol's ResponseErrorMessage would drop a
        # null id, which JSON-RPC requires when the id cannot be read.
        self._protocol._send_data(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        )


def _validation_detail(exc: JsonRpcException) -> str:
    cause = exc.__cause__
    if isinstance(cause, cattrs.ClassValidationError):
        return ": " + "; ".join(cattrs.transform_error(cause))
    return f": {cause}" if cause is not None else ""


__all__ = ["Connection", "Read", "ThreadedReader"]
