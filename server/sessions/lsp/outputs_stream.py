"""Turning a running cell's kernel messages into ``sessions/output`` notifications.

Stream chunks and ``update_display_data`` are batched (sent at most every
50 ms): consecutive chunks of one stream are merged, and of several updates
of one ``display_id`` in a batch only the last is sent (each replaces the
whole ``data``, so the client ends the same; a progress display updated
10,000 times was 10,002 notifications). Anything else is sent at once,
after what is pending. Every other message the kernel sent is passed on,
``clear_output(wait=True)`` included, and the client applies the rules of
docs/protocol.md itself, so the forwarder needs no model of the client's
outputs. A notification carries at most ``NOTIFICATION_CHARS`` of stream
text; a batch costs the length of its chunks, each copied once when it is
sent. Pure: no LSP, no event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sessions.cache.records import Output

STREAM_BATCH_SECONDS = 0.05

NOTIFICATION_CHARS = 1 << 20
"""Stream text per ``sessions/output``, at most. A cell that printed 200 MB
was sent in 25 MB notifications: 0.2 s of the server's loop each (encoding,
a write blocked until the client read it), and a client busy parsing one
answered no hover meanwhile. Smaller pieces, sent one per loop turn while
more wait, let requests in between (DESIGN §9: hover p95 ≤ 20 ms while busy)."""


@dataclass(slots=True)
class _StreamBatch:
    """Consecutive chunks of one stream, not sent yet. Chunks are kept as the
    kernel sent them and cut from the front without joining or copying what
    stays (a batch may hold hundreds of MB while a client falls behind)."""

    name: str
    chunks: deque[str] = field(default_factory=deque)
    offset: int = 0
    """Characters of ``chunks[0]`` already sent."""
    size: int = 0
    """Characters not sent yet."""

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.size += len(text)

    def extend(self, other: _StreamBatch) -> None:
        for index, chunk in enumerate(other.chunks):
            self.add(chunk[other.offset :] if index == 0 and other.offset else chunk)

    def cut(self, room: int) -> str:
        """Up to ``room`` characters from the front; a cut inside a chunk falls
        after its last line break within reach, when it has one."""
        parts: list[str] = []
        need = room
        while self.chunks and need > 0:
            chunk, offset = self.chunks[0], self.offset
            if len(chunk) - offset <= need:
                parts.append(chunk[offset:] if offset else chunk)
                need -= len(chunk) - offset
                self.chunks.popleft()
                self.offset = 0
                continue
            end = offset + need
            newline = chunk.rfind("\n", offset, end)
            end = newline + 1 if newline >= 0 else end
            parts.append(chunk[offset:end])
            self.offset = end
            break
        text = parts[0] if len(parts) == 1 else "".join(parts)
        self.size -= len(text)
        return text


def _display_id(message: Output) -> str | None:
    transient = message.get("transient")
    display_id = transient.get("display_id") if isinstance(transient, dict) else None
    return display_id if isinstance(display_id, str) else None


class OutputForwarder:
    """The outputs of one cell run, on their way to the client."""

    def __init__(self) -> None:
        self._pending: list[Output | _StreamBatch | None] = []
        """In kernel order; None where an update was superseded by a later one."""
        self._updates: dict[str, int] = {}
        """display_id -> position of its pending update in ``_pending``."""
        self._can_wait = True

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    @property
    def can_wait(self) -> bool:
        """Only stream text and display updates wait: sending can wait for the batch."""
        return self._can_wait

    def feed(self, message: Output) -> None:
        """One output message of the cell, in the order the kernel sent it."""
        kind = message.get("output_type")
        if kind == "stream":
            name = str(message.get("name", ""))
            last = self._pending[-1] if self._pending else None
            if not isinstance(last, _StreamBatch) or last.name != name:
                last = _StreamBatch(name)
                self._pending.append(last)
            last.add(str(message.get("text", "")))
            return
        if kind == "update_display_data" and (display_id := _display_id(message)) is not None:
            earlier = self._updates.get(display_id)
            if earlier is not None:
                self._pending[earlier] = None  # replaced wholesale by this one
            self._updates[display_id] = len(self._pending)
            self._pending.append(dict(message))
            return
        self._pending.append(dict(message))
        self._can_wait = False

    def take(self, max_chars: int | None = None) -> list[Output]:
        """The pending messages in order, stream chunks of one name joined, and
        cut into notifications of at most ``NOTIFICATION_CHARS``; clears them.
        With ``max_chars``, stops once that much stream text is taken: the rest
        stays pending, in order, for the next call."""
        pending, self._pending, self._can_wait = self._pending, [], True
        self._updates = {}
        items: list[Output | _StreamBatch] = []
        for item in pending:
            if item is None:
                continue
            last = items[-1] if items else None
            if (
                isinstance(item, _StreamBatch)
                and isinstance(last, _StreamBatch)
                and last.name == item.name  # were apart only by a superseded update
            ):
                last.extend(item)
                continue
            items.append(item)
        taken: list[Output] = []
        budget = max_chars
        for position, item in enumerate(items):
            if not isinstance(item, _StreamBatch):
                taken.append(item)
                continue
            if not item.size:  # only empty chunks: passed on as the kernel sent them
                taken.append({"output_type": "stream", "name": item.name, "text": ""})
                continue
            while item.size:
                room = NOTIFICATION_CHARS if budget is None else min(NOTIFICATION_CHARS, budget)
                if room <= 0:
                    break
                text = item.cut(room)
                taken.append({"output_type": "stream", "name": item.name, "text": text})
                if budget is not None:
                    # A piece cut before the end uses up the budget (its cut
                    # fell on a line break, a little short of it).
                    budget = budget - len(text) if not item.size else 0
            if item.size:  # out of budget: the rest waits, in order
                self._pending.append(item)
                for rest in items[position + 1 :]:
                    if isinstance(rest, _StreamBatch):
                        self._pending.append(rest)
                    else:
                        self.feed(rest)
                break
        return taken
