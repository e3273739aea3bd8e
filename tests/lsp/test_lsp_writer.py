"""``transport.ThreadedWriter``: messages reach a real pipe in order, a slow
reader does not hold up the writer's caller, what is queued is written on
close, and a closed pipe shows on the next write."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

import pytest

from sessions.lsp.transport import ThreadedWriter


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for end in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(end)


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def test_a_slow_reader_does_not_hold_up_the_caller(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    writer = ThreadedWriter(os.fdopen(write_end, "wb", closefd=False))
    big = b"x" * (4 * 1024 * 1024)  # far more than a pipe holds (64 KB)
    started = time.perf_counter()
    writer.write(big)
    writer.write(b"after")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5  # nobody has read a byte yet; a direct write would block here
    received = _read_all(read_end, len(big) + 5)
    assert received == big + b"after"  # whole, and in order
    writer.close()


def test_close_writes_what_is_queued(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    writer = ThreadedWriter(os.fdopen(write_end, "wb", closefd=False))
    messages = [f"message {n};".encode() for n in range(500)]
    expected = b"".join(messages)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(_read_all(read_end, len(expected))))
    reader.start()
    for message in messages:
        writer.write(message)
    writer.close()
    reader.join(10)
    assert received == [expected]


def test_a_closed_pipe_fails_the_next_write(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    writer = ThreadedWriter(os.fdopen(write_end, "wb", closefd=False))
    os.close(read_end)  # the client went away
    writer.write(b"lost")  # queued; the thread's write fails (EPIPE)
    deadline = time.monotonic() + 5
    with pytest.raises(BrokenPipeError):
        while time.monotonic() < deadline:
            writer.write(b"more")
            time.sleep(0.01)
    writer.close()
