"""Turning a running cell's kernel messages into ``sessions/output`` notifications.

Stream chunks are batched (sent at most every 50 ms, merged per stream
name); anything else is sent at once, after the pending stream text. The
forwarder keeps a model of what the client has accumulated, following the
rules of docs/protocol.md; when the real outputs diverge from it (a
``clear_output(wait=True)`` the runner applied silently), it tells the
client to clear and re-sends the outputs. Pure: no LSP, no event loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..outputs import resolve_carriage_returns
from ..records import Output

STREAM_BATCH_SECONDS = 0.05


def _client_after(kinds: list[tuple[str, str]], message: Output) -> list[tuple[str, str]]:
    """The (output_type, stream name) list a client holds after applying ``message``."""
    kind = str(message.get("output_type"))
    if kind == "clear_output":
        return []
    if kind == "update_display_data":
        return kinds
    name = str(message.get("name", ""))
    if kind == "stream" and kinds and kinds[-1] == ("stream", name):
        return kinds
    return [*kinds, (kind, name)]


class OutputForwarder:
    """The outputs of one cell run, on their way to the client."""

    def __init__(self) -> None:
        self._pending: list[Output] = []
        self._client: list[tuple[str, str]] = []
        self._client_stream = ""
        """Text of the client's last output when it is a stream, as the client joined it."""

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    @property
    def only_streams_pending(self) -> bool:
        return all(m.get("output_type") == "stream" for m in self._pending)

    def feed(self, message: Output, outputs: Sequence[Output]) -> None:
        """One message the accumulator applied; ``outputs`` is the cell's list after it."""
        expected = _client_after(self._client, message)
        text = str(message.get("text", ""))
        is_stream = message.get("output_type") == "stream"
        merged = is_stream and len(expected) == len(self._client) and bool(self._client)
        stream_text = (self._client_stream + text if merged else text) if is_stream else ""
        if not is_stream and expected and expected[-1][0] == "stream":
            stream_text = self._client_stream  # e.g. update_display_data: the stream is unchanged
        if not self._agrees(expected, stream_text if is_stream else None, outputs):
            # The client's view would diverge (a deferred clear happened): resync.
            self._pending = [{"output_type": "clear_output", "wait": False}]
            self._pending.extend(dict(o) for o in outputs)
            self._client = []
            for output in outputs:
                self._client = _client_after(self._client, output)
            final: Output = dict(outputs[-1]) if outputs else {}
            is_last_stream = final.get("output_type") == "stream"
            self._client_stream = str(final.get("text", "")) if is_last_stream else ""
            return
        self._client, self._client_stream = expected, stream_text
        last = self._pending[-1] if self._pending else None
        if (
            is_stream
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == message.get("name")
        ):
            last["text"] = str(last.get("text", "")) + text
            return
        self._pending.append(dict(message))

    @staticmethod
    def _agrees(
        expected: list[tuple[str, str]], stream_text: str | None, outputs: Sequence[Output]
    ) -> bool:
        """Whether the client's view (``expected``, its last stream text) matches ``outputs``."""
        if len(expected) != len(outputs):
            return False
        if stream_text is None or not outputs or outputs[-1].get("output_type") != "stream":
            return True
        return resolve_carriage_returns(stream_text) == outputs[-1].get("text")

    def take(self) -> list[Output]:
        pending, self._pending = self._pending, []
        return pending
