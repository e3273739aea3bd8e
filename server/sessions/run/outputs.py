"""Accumulating a cell's outputs as the kernel streams them (nbformat dict shape).

Consecutive stream outputs of the same name are coalesced into one, as
Jupyter front ends do; ``clear_output`` (including ``wait=True``, which clears
just before the next output arrives) and ``update_display_data`` are honoured.
Carriage returns in streams (progress bars) are resolved so a cached output
shows the final line, not every frame.

Everything here is linear in the size of the output: a training loop that
prints 20,000 flushed lines, or a progress bar updated 3,000 times after a
1.5 MB log, costs each chunk's own length, never a re-join or re-resolve of
what came before (the text of a stream is built from its chunks once, when
it is read). With a ``cap``, a stream keeps only what the sidecar will keep
(head and tail, see ``sidecar_cap``) and counts exactly what it left out, so
memory stays bounded however long a cell prints.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sessions.cache.cap import cap_parts
from sessions.run.widget_text import output_widget_text

Output = dict[str, Any]


def _resolve_line(line: str) -> str:
    # Text before the last "\r" that something follows was overwritten; a
    # trailing "\r" overwrites nothing yet (``print(p, end="\r")`` keeps ``p``).
    return line.rstrip("\r").rsplit("\r", 1)[-1]


def resolve_carriage_returns(text: str) -> str:
    """What a terminal would show, line by line: ``'10%\\r20%\\r30%\\n'`` ->
    ``'30%\\n'``, ``'50%\\r'`` -> ``'50%'``, ``'a\\r\\n'`` -> ``'a\\n'``."""
    if "\r" not in text:
        return text
    return "\n".join(_resolve_line(line) for line in text.split("\n"))


class StreamText:
    """The text of one stream output, fed chunk by chunk.

    ``text`` equals ``resolve_carriage_returns`` of all chunks joined (capped
    like ``sidecar_cap.cap_text`` when ``cap`` is set), at a cost linear in
    the chunks: complete lines are final once their ``\\n`` arrived (a ``\\r``
    cannot reach back past a newline), so they are resolved once and kept as
    they are; only the current line changes, and a ``\\r`` followed by text
    simply replaces it.
    """

    __slots__ = (
        "_cap",
        "_cr_pending",
        "_head",
        "_head_size",
        "_line",
        "_omitted",
        "_tail",
        "_tail_size",
        "_text",
    )

    def __init__(self, cap: int | None = None) -> None:
        self._cap = cap if cap is not None and cap > 0 else None
        self._head: list[str] = []
        self._head_size = 0
        """Complete lines from the start, up to what a capped text keeps of its head."""
        self._tail: deque[str] = deque()
        self._tail_size = 0
        """Complete lines after the head (trimmed from the left when capped)."""
        self._omitted = 0
        """Characters of complete lines dropped between head and tail (capped only)."""
        self._line: list[str] = []
        """The current line (no ``\\n`` yet), carriage returns already applied."""
        self._cr_pending = False
        """The current line ended in ``\\r``: the next text on it replaces it."""
        self._text: str | None = ""

    def append(self, chunk: str) -> None:
        if not chunk:
            return
        self._text = None
        first = chunk.find("\n")
        if first < 0:
            self._extend_line(chunk)
            return
        last = chunk.rfind("\n")
        self._extend_line(chunk[:first])
        self._commit("".join(self._line) + "\n")
        if last > first:  # whole lines: resolved and committed as one block
            # Sliced, not split and joined again: a kernel batches fast output
            # into messages of many MB, and this runs on the server's loop.
            block = chunk[first + 1 : last + 1]
            if "\r" in block:
                block = "\n".join(_resolve_line(line) for line in block[:-1].split("\n")) + "\n"
            self._commit(block)
        self._line, self._cr_pending = [], False
        self._extend_line(chunk[last + 1 :])

    def _extend_line(self, piece: str) -> None:
        if not piece:
            return
        visible = piece.rstrip("\r")
        if visible:
            if "\r" in visible:
                self._line = [visible.rsplit("\r", 1)[1]]
            elif self._cr_pending:
                self._line = [visible]
            else:
                self._line.append(visible)
        # A piece of only "\r"s leaves the line as it is, until text follows.
        self._cr_pending = len(visible) < len(piece)

    def _commit(self, line: str) -> None:
        cap = self._cap
        if cap is None:
            self._head.append(line)
            return
        room = cap // 2 - self._head_size
        if room > 0:
            self._head.append(line[:room])
            self._head_size += min(room, len(line))
            line = line[room:]
            if not line:
                return
        self._tail.append(line)
        self._tail_size += len(line)
        # Keep at least the cap's tail; trim in bulk so each chunk is dropped once.
        keep = cap - cap // 2
        if self._tail_size > 2 * keep:
            while self._tail and self._tail_size - len(self._tail[0]) >= keep:
                dropped = self._tail.popleft()
                self._tail_size -= len(dropped)
                self._omitted += len(dropped)

    @property
    def text(self) -> str:
        if self._text is None:
            line = "".join(self._line)
            if self._cap is None:
                self._head = ["".join(self._head)]  # joined once, reused by the next read
                self._text = self._head[0] + line
            else:
                tail = "".join(self._tail) + line
                self._text = cap_parts("".join(self._head), self._omitted, tail, self._cap)
        return self._text


class OutputAccumulator:
    """The outputs of one running cell.

    ``cap`` (characters per stream output) bounds what is kept of a stream
    the way the sidecar caps it; ``None`` keeps everything.
    """

    def __init__(self, cap: int | None = None) -> None:
        self._cap = cap
        self._outputs: list[Output] = []
        self._stream: StreamText | None = None
        """The text of the last output while it is a stream that may still grow."""
        self._displays: dict[str, list[Output]] = {}
        """display_id -> the outputs that ``update_display_data`` replaces."""
        self._clear_pending = False

    @property
    def outputs(self) -> list[Output]:
        """The outputs so far. Reading it joins the growing stream's text
        (linear in its size): read it when the cell ends, not per message."""
        if self._stream is not None:
            self._outputs[-1]["text"] = self._stream.text
        return self._outputs

    def add(self, message: Output) -> bool:
        """Apply one message from the kernel; returns whether ``outputs`` changed."""
        kind = message.get("output_type")
        if kind == "clear_output":
            if message.get("wait"):
                self._clear_pending = True
                return False
            self._clear()
            return True
        if self._clear_pending:
            self._clear()
            self._clear_pending = False
        if kind == "update_display_data":
            return self._update_display(message)
        if kind == "stream":
            name = message.get("name")
            # ``_stream`` is set exactly while the last output is a stream.
            if self._stream is None or self._outputs[-1].get("name") != name:
                self._seal()
                self._stream = StreamText(self._cap)
                self._outputs.append({"output_type": "stream", "name": name, "text": ""})
            self._stream.append(str(message.get("text", "")))
            return True
        self._seal()
        output = dict(message)
        self._outputs.append(output)
        display_id = (output.get("transient") or {}).get("display_id")
        if display_id is not None:
            self._displays.setdefault(display_id, []).append(output)
        return True

    def _seal(self) -> None:
        """The last stream stops growing: store its final text."""
        if self._stream is not None:
            self._outputs[-1]["text"] = self._stream.text
            self._stream = None

    def _clear(self) -> None:
        self._outputs.clear()
        self._displays.clear()
        self._stream = None

    def _update_display(self, message: Output) -> bool:
        display_id = (message.get("transient") or {}).get("display_id")
        targets = self._displays.get(display_id, []) if display_id is not None else []
        for output in targets:
            output["data"] = message.get("data", {})
            output["metadata"] = message.get("metadata", {})
        return bool(targets)


def for_storage(outputs: list[Output]) -> list[Output]:
    """Outputs as stored in the sidecar / .ipynb: no transient fields."""
    return [{k: v for k, v in o.items() if k != "transient"} for o in outputs]


def short_result(outputs: list[Output], limit: int = 60) -> str | None:
    """A one-line ``text/plain`` summary of a cell's result, for inlay hints and tables."""
    for output in reversed(outputs):
        if output.get("output_type") in ("execute_result", "display_data"):
            text = output_widget_text(output) or output.get("data", {}).get("text/plain")
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str) and text.strip():
                line = " ".join(text.split())
                return line if len(line) <= limit else line[: limit - 1] + "…"
    return None
