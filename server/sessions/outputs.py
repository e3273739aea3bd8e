"""Accumulating a cell's outputs as the kernel streams them (nbformat dict shape).

Consecutive stream outputs of the same name are coalesced into one, as
Jupyter front ends do; ``clear_output`` (including ``wait=True``, which clears
just before the next output arrives) and ``update_display_data`` are honoured.
Carriage returns in streams (progress bars) are resolved so a cached output
shows the final line, not every frame.
"""

from __future__ import annotations

import re
from typing import Any

Output = dict[str, Any]

_CR_LINE = re.compile(r"[^\n]*\r(?!\n)")


def resolve_carriage_returns(text: str) -> str:
    """``'10%\\r20%\\r30%\\n'`` -> ``'30%\\n'``: what a terminal would show."""
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


class OutputAccumulator:
    """The outputs of one running cell."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self._clear_pending = False

    def add(self, message: Output) -> bool:
        """Apply one message from the kernel; returns whether ``outputs`` changed."""
        kind = message.get("output_type")
        if kind == "clear_output":
            if message.get("wait"):
                self._clear_pending = True
                return False
            self.outputs.clear()
            return True
        if self._clear_pending:
            self.outputs.clear()
            self._clear_pending = False
        if kind == "update_display_data":
            return self._update_display(message)
        if kind == "stream":
            last = self.outputs[-1] if self.outputs else None
            if (
                last is not None
                and last.get("output_type") == "stream"
                and last.get("name") == message.get("name")
            ):
                last["text"] = resolve_carriage_returns(last["text"] + message.get("text", ""))
                return True
            message = {**message, "text": resolve_carriage_returns(message.get("text", ""))}
        self.outputs.append(dict(message))
        return True

    def _update_display(self, message: Output) -> bool:
        display_id = (message.get("transient") or {}).get("display_id")
        changed = False
        for output in self.outputs:
            if (
                display_id is not None
                and (output.get("transient") or {}).get("display_id") == display_id
            ):
                output["data"] = message.get("data", {})
                output["metadata"] = message.get("metadata", {})
                changed = True
        return changed


def for_storage(outputs: list[Output]) -> list[Output]:
    """Outputs as stored in the sidecar / .ipynb: no transient fields."""
    return [{k: v for k, v in o.items() if k != "transient"} for o in outputs]


def short_result(outputs: list[Output], limit: int = 60) -> str | None:
    """A one-line ``text/plain`` summary of a cell's result, for inlay hints and tables."""
    for output in reversed(outputs):
        if output.get("output_type") in ("execute_result", "display_data"):
            text = output.get("data", {}).get("text/plain")
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str) and text.strip():
                line = " ".join(text.split())
                return line if len(line) <= limit else line[: limit - 1] + "…"
    return None
