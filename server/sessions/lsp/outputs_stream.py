"""Turning a running cell's kernel messages into ``sessions/output`` notifications.

Stream chunks are batched (sent at most every 50 ms, merged per stream
name); anything else is sent at once, after the pending stream text. Every
message the kernel sent is passed on, ``clear_output(wait=True)`` and
``update_display_data`` included, and the client applies the rules of
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


class OutputForwarder:
    """The outputs of one cell run, on their way to the client."""

    def __init__(self) -> None:
        self._pending: list[Output | _StreamBatch] = []
        self._only_streams = True

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    @property
    def only_streams_pending(self) -> bool:
        """Nothing but stream text waits: sending can wait for the batch."""
        return self._only_streams

    def feed(self, message: Output) -> None:
        """One output message of the cell, in the order the kernel sent it."""
        if message.get("output_type") != "stream":
            self._pending.append(dict(message))
            self._only_streams = False
            return
        name = str(message.get("name", ""))
        last = self._pending[-1] if self._pending else None
        if not isinstance(last, _StreamBatch) or last.name != name:
            last = _StreamBatch(name)
            self._pending.append(last)
        last.chunks.append(str(message.get("text", "")))

    def take(self) -> list[Output]:
        """The pending messages, stream chunks of one name joined; clears them."""
        pending, self._pending, self._only_streams = self._pending, [], True
        return [
            {"output_type": "stream", "name": item.name, "text": "".join(item.chunks)}
            if isinstance(item, _StreamBatch)
            else item
            for item in pending
        ]
