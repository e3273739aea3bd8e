"""Turning a running cell's kernel messages into ``sessions/output`` notifications.

Stream chunks and ``update_display_data`` are batched (sent at most every
50 ms): consecutive chunks of one stream are merged, and of several updates
of one ``display_id`` in a batch only the last is sent (each replaces the
whole ``data``, so the client ends the same; a progress display updated
10,000 times was 10,002 notifications). Anything else is sent at once,
after what is pending. Every other message the kernel sent is passed on,
``clear_output(wait=True)`` included, and the client applies the rules of
docs/protocol.md itself, so the forwarder needs no model of the client's
outputs: a batch costs the length of its chunks, joined once when it is sent.
Pure: no LSP, no event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records import Output

STREAM_BATCH_SECONDS = 0.05


@dataclass(slots=True)
class _StreamBatch:
    name: str
    chunks: list[str] = field(default_factory=list)


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
            last.chunks.append(str(message.get("text", "")))
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

    def take(self) -> list[Output]:
        """The pending messages, stream chunks of one name joined; clears them."""
        pending, self._pending, self._can_wait = self._pending, [], True
        self._updates = {}
        taken: list[Output | _StreamBatch] = []
        for item in pending:
            if item is None:
                continue
            last = taken[-1] if taken else None
            if (
                isinstance(item, _StreamBatch)
                and isinstance(last, _StreamBatch)
                and last.name == item.name  # were apart only by a superseded update
            ):
                last.chunks.extend(item.chunks)
                continue
            taken.append(item)
        return [
            {"output_type": "stream", "name": item.name, "text": "".join(item.chunks)}
            if isinstance(item, _StreamBatch)
            else item
            for item in taken
        ]
