"""Progress of a run in a terminal: a live line on a TTY, plain lines otherwise.

Cell outputs are echoed below each cell's line (text streams, the
``text/plain`` of results, a placeholder for images) unless ``quiet``; a
failed cell's error (``KeyError: 'k'``) is shown even then, since it says
why the run stopped.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from sessions.cache.records import Output
from sessions.cli.common import human_size
from sessions.cli.render import paint, use_color
from sessions.format.notebook import ParsedNotebook
from sessions.kernel.comms import CommEvent, CommMirror
from sessions.run.checkpoints.checkpointer import SaveResult
from sessions.run.runner import CellOutcome, RestoredCell, RunListener
from sessions.run.widget_text import output_widget_text, widget_text

# A bar a loop sets 10,000 times is drawn from its state at most this often.
_WIDGET_REDRAW_SECONDS = 0.1

_MARK = {"ok": ("✓", "32"), "error": ("✗", "31"), "interrupted": ("■", "33")}


def output_text(output: Output, limit: int = 4000) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text = str(output.get("text", ""))
    elif kind in ("execute_result", "display_data") and (widget := output_widget_text(output)):
        text = widget  # a widget as it looked when its cell ended, not its constructor call
    elif kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        text = data.get("text/plain", "")
        if isinstance(text, list):
            text = "".join(text)
        rich = [m for m in data if m != "text/plain"]
        if rich:
            text = (text + "\n" if text else "") + f"[{', '.join(rich)}]"
    elif kind == "error":
        name, value = output.get("ename", "Error"), output.get("evalue", "")
        text = f"{name}: {value}" if value else str(name)  # KeyboardInterrupt has no value
    else:
        return ""
    text = str(text).rstrip("\n")
    return (
        text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"
    )


class TerminalProgress(RunListener):
    def __init__(
        self, notebook: ParsedNotebook, *, out: TextIO = sys.stderr, quiet: bool = False
    ) -> None:
        self.notebook = notebook
        self.out = out
        self.quiet = quiet
        self.live = out.isatty()
        self.color = use_color(out)
        self._started = 0.0
        self._current: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        # The ticker thread redraws the live line; without this lock it could
        # draw between a cell's final line and the next line, leaving a stray
        # half line in the terminal.
        self._write_lock = threading.Lock()
        self._widget_line = ""
        """The progress bar (a widget) the running cell updated last, as text."""
        self._widget_drawn = 0.0

    def _label(self, index: int) -> str:
        return f"cell {index} {self.notebook.cells[index].display_name(48)}"

    def run_planned(self, plan: Sequence[int]) -> None:
        if plan and self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self._write_lock:
                current = self._current
                if current is not None:
                    self._draw(*current)

    def _draw(self, index: int, position: int, total: int) -> None:
        elapsed = time.monotonic() - self._started
        line = f"[{position + 1}/{total}] {self._label(index)}  {elapsed:.1f}s"
        if self._widget_line:
            line += "  " + self._widget_line
        self.out.write("\r\x1b[2K" + line)
        self.out.flush()

    def comm_message(self, comms: CommMirror, event: CommEvent) -> None:
        """A widget of the running cell changed: on a terminal, the live line
        shows the row it is in (a ``tqdm.auto`` bar as a text bar)."""
        if not self.live or event.kind != "msg" or self._current is None:
            return
        now = time.monotonic()
        if now - self._widget_drawn < _WIDGET_REDRAW_SECONDS:
            return
        self._widget_drawn = now
        reference = "IPY_MODEL_" + event.comm_id
        row = next(
            (
                comm_id
                for comm_id, model in comms.models.items()
                if reference in (model.state.get("children") or ())
            ),
            event.comm_id,
        )
        models = comms.widget_state([row])["state"]
        text = widget_text(row, models).replace("\n", " ")
        self._widget_line = text[:80]

    def cell_started(self, index: int, run: int, position: int, total: int) -> None:
        with self._write_lock:
            self._widget_line = ""
            self._started = time.monotonic()
            self._current = (index, position, total)
            if self.live:
                self._draw(index, position, total)

    def cell_finished(self, outcome: CellOutcome) -> None:
        with self._write_lock:
            self._finish_line(outcome)

    def _finish_line(self, outcome: CellOutcome) -> None:
        current = self._current
        self._current = None
        position, total = (current[1], current[2]) if current else (0, 0)
        mark, color = _MARK.get(outcome.record.status, ("?", "0"))
        if outcome.kernel_status == "dead":
            mark, color = "✗", "31"
        duration = outcome.record.duration or 0.0
        line = f"{paint(mark, color, self.color)} [{position + 1}/{total}] {self._label(outcome.index)}  {duration:.2f}s"
        prefix = "\r\x1b[2K" if self.live else ""
        self.out.write(prefix + line + "\n")
        for output in outcome.record.outputs:
            if self.quiet and output.get("output_type") != "error":
                continue
            text = output_text(output)
            if text:
                self.out.write("".join(f"    {ln}\n" for ln in text.split("\n")))
        self.out.flush()

    def cell_restored(self, index: int, restored: RestoredCell, position: int, total: int) -> None:
        result = restored.result
        ran = f" (its run took {result.duration:.1f}s)" if result.duration is not None else ""
        line = (
            f"{paint('↺', '36', self.color)} [{position + 1}/{total}] {self._label(index)}  "
            f"{result.seconds:.2f}s  restored from checkpoint{ran}"
        )
        with self._write_lock:
            self.out.write(("\r\x1b[2K" if self.live else "") + line + "\n")
            self.out.flush()

    def checkpoint_saved(self, index: int, result: SaveResult) -> None:
        if result.saved:
            text = f"    checkpoint saved: {', '.join(result.saved)} ({human_size(result.size)}, {result.seconds:.2f}s)"
        elif self.quiet:
            return
        else:
            text = f"    not checkpointed: {result.reason}"
        with self._write_lock:
            self.out.write(paint(text, "2", self.color) + "\n")
            self.out.flush()

    def cells_skipped(self, indexes: Sequence[int], reason: str) -> None:
        cells = ", ".join(str(i) for i in indexes)
        with self._write_lock:
            self.out.write(f"skipped {len(indexes)} cell(s) ({cells}): {reason}\n")
            self.out.flush()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
