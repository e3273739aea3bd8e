"""Server -> client notifications while a notebook runs: ``sessions/output``,
``sessions/kernel``, statuses (through a republish) and ``$/progress``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sessions.cache.records import Output, SidecarData
from sessions.lsp.notebook_state import NotebookState
from sessions.lsp.outputs_stream import NOTIFICATION_CHARS, STREAM_BATCH_SECONDS, OutputForwarder
from sessions.lsp.progress import RunProgress
from sessions.run.runner import CellOutcome, RestoredCell, RunListener

log = logging.getLogger(__name__)

Notify = Callable[[str, Any], None]


class NotebookListener(RunListener):
    """Forwards one notebook's run events to the client."""

    def __init__(
        self, state: NotebookState, notify: Notify, republish: Callable[[NotebookState], None]
    ) -> None:
        self.state = state
        self._notify = notify
        self._republish = republish
        self.progress: RunProgress | None = None
        self._forwarder = OutputForwarder()
        self._cell: tuple[int, int] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None

    # -- outputs ---------------------------------------------------------------

    def _flush(self, max_chars: int | None = None) -> None:
        """Send what is pending (with ``max_chars``: that much stream text, and
        the rest on the next loop turn, so requests are answered in between)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._cell is None:
            self._forwarder.take()
            return
        index, run = self._cell
        for output in self._forwarder.take(max_chars):
            self._notify(
                "sessions/output",
                {"uri": self.state.uri, "cell": index, "run": run, "output": output},
            )
        if self._forwarder.pending:
            self._flush_handle = asyncio.get_running_loop().call_later(0, self._flush_some)

    def _flush_some(self) -> None:
        self._flush_handle = None
        self._flush(NOTIFICATION_CHARS)

    def cell_output(self, index: int, run: int, output: Output) -> None:
        self._forwarder.feed(output)
        if not self._forwarder.can_wait:
            self._flush()
        elif self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(STREAM_BATCH_SECONDS, self._flush_some)

    # -- cells -----------------------------------------------------------------

    def cell_started(self, index: int, run: int, position: int, total: int) -> None:
        self._flush()
        self._forwarder = OutputForwarder()
        self._cell = (index, run)
        self.state.running = index
        if self.progress is not None:
            snapshot = self.state.snapshot
            title = ""
            if snapshot is not None and index < len(snapshot.notebook.cells):
                title = snapshot.notebook.cells[index].display_name(40)
            label = f'Running cell {index} "{title}"' if title else f"Running cell {index}"
            self.progress.report(f"{label} ({position + 1}/{total})", position, total)
        self._republish(self.state)

    def cell_finished(self, outcome: CellOutcome) -> None:
        self._flush()
        self._cell = None
        self.state.running = None
        self._republish(self.state)

    def cell_restored(self, index: int, restored: RestoredCell, position: int, total: int) -> None:
        if self.progress is not None:
            self.progress.report(
                f"Restored cell {index} from its checkpoint ({position + 1}/{total})",
                position,
                total,
            )
        self._republish(self.state)  # its status now says "restored from checkpoint"

    def checkpoint_refused(self, index: int, reason: str) -> None:
        log.info("cell %d: checkpoint not restored (%s); it runs instead", index, reason)

    def cells_skipped(self, indexes: Sequence[int], reason: str) -> None:
        self.state.running = None

    def records_committed(self, data: SidecarData) -> None:
        self.state.request_analysis()

    def kernel_state(self, state: str, python: str) -> None:
        self.state.kernel_state = state
        kernel = self.state.runner.kernel
        params: dict[str, Any] = {"uri": self.state.uri, "state": state, "python": python}
        if kernel is not None and kernel.kernel_id:
            params["id"] = kernel.kernel_id
        self._notify("sessions/kernel", params)
        if state in ("dead", "restarting", "stopped"):
            self.state.request_analysis()  # loaded cells changed
