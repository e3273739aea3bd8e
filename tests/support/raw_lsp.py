"""A raw-bytes client of ``sessions lsp`` (no LSP library): the server as a
subprocess whose stdin the test writes exact bytes to, so it can lie in every
way a broken client does, and whose stdout is read by a strict framer of its
own, independent of the server's.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.lsp import SERVER_COMMAND

TIMEOUT = 20.0


def frame(body: bytes, *, length: int | None = None, newline: bytes = b"\r\n") -> bytes:
    """``body`` behind a ``Content-Length`` header (``length`` to lie about it)."""
    declared = len(body) if length is None else length
    return b"Content-Length: " + str(declared).encode() + newline + newline + body


def request_body(msg_id: Any, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def notification_body(method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def parse_request(msg_id: int, text: str = "# %%\nx = 1\n") -> bytes:
    """A request the server answers at once, with a result that proves it read it."""
    return request_body(
        msg_id,
        "workspace/executeCommand",
        {"command": "sessions.parse", "arguments": [{"text": text}]},
    )


class RawServer:
    """``sessions lsp`` on pipes; responses are collected by a reader thread."""

    def __init__(self, cwd: Path) -> None:
        self.stderr_path = cwd / "server-stderr.log"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [*SERVER_COMMAND, "--log-level", "WARNING"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- the server's output, framed strictly -----------------------------------

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                if line == b"\r\n":
                    break
                assert line.endswith(b"\r\n"), f"server header without CRLF: {line!r}"
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            assert length is not None, "server message without Content-Length"
            body = out.read(length)
            self.messages.put(json.loads(body))

    def send(self, data: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    def next_message(self, timeout: float = TIMEOUT) -> dict[str, Any] | None:
        message = self.messages.get(timeout=timeout)
        if message is not None:
            self.received.append(message)
        return message

    def response(self, msg_id: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The response to ``msg_id`` (``None``: a response with a null id)."""
        for message in self.received:
            if "method" not in message and message.get("id", "absent") == msg_id:
                self.received.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no response to id {msg_id!r} within {timeout} s")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise AssertionError(f"the server closed stdout before answering {msg_id!r}")
            if "method" not in message and message.get("id", "absent") == msg_id:
                return message
            self.received.append(message)

    def request(self, msg_id: Any, method: str, params: Any = None) -> dict[str, Any]:
        self.send(frame(request_body(msg_id, method, params)))
        return self.response(msg_id)

    def initialize(self, root: Path) -> None:
        reply = self.request(
            0,
            "initialize",
            {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}},
        )
        assert "result" in reply, reply
        self.send(frame(notification_body("initialized", {})))

    def answers(self, msg_id: int) -> None:
        """The server is not deaf: a well-framed request right now gets its result."""
        self.send(frame(parse_request(msg_id)))
        reply = self.response(msg_id)
        assert reply.get("result", {}).get("cells", [{}])[0].get("source") == "x = 1", reply

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc")

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
