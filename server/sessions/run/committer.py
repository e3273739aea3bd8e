"""Writing a run's finished cells to the sidecar in batches, off the execution path.

The runner hands each finished cell's record to a :class:`Committer`, which
writes it (with the records that finished meanwhile) in a worker thread, so
a sidecar write never sits between two cells; the run flushes it before it
returns, so every finished cell's record is on disk by then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sessions.cache.records import CellRecord, SidecarData

SPACING = 19.0
"""A write is followed by at least this many times its own duration without
one: writing takes at most a twentieth of a run, however large the sidecar
(a write holds the interpreter's lock for most of its time, so it slows the
event loop that reads the kernel's messages)."""


class Committer:
    """Writes finished cells' records to the sidecar off the execution path.

    A sidecar write (lock, re-read check, encode, fsync, rename) costs about a
    millisecond of CPU for a small notebook; done between cells it would sit
    on every cell's critical path, and even in a thread it competes with the
    event loop. So a finished record is queued; the first one is written at
    once, later ones are gathered and written together at most every
    ``interval`` seconds, while the kernel runs the next cells — and never
    more often than keeps writing under a twentieth of the run's time: a write
    grows with the sidecar (60 ms at 8,000 cells), and at a fixed pace a
    long chain of quick cells spent most of its time rewriting it (8.8 ms per
    cell at 8,000 cells; issue 12). A record lands on disk at most the
    spacing (plus one write) after its cell ends — another process sees a
    long cell's result right away and a chain of quick cells in a few writes
    — and ``flush`` writes everything left without waiting (the run awaits
    it before returning).
    """

    def __init__(
        self,
        write: Callable[[dict[int, CellRecord]], SidecarData],
        on_written: Callable[[SidecarData], None],
        *,
        interval: float = 0.1,
    ) -> None:
        self._write = write
        self._on_written = on_written
        self._interval = interval
        self._pending: dict[int, CellRecord] = {}
        self._writer: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._last_write = -float("inf")
        self._spacing = interval
        """Seconds from one write to the next: ``interval``, or ``SPACING`` × the
        last write's duration when that is longer."""
        self._flushing = asyncio.Event()

    def add(self, index: int, record: CellRecord) -> None:
        self._pending[index] = record
        if self._error is None and (self._writer is None or self._writer.done()):
            self._writer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending and self._error is None:
            wait = self._last_write + self._spacing - loop.time()
            if wait > 0 and not self._flushing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flushing.wait(), wait)
            batch, self._pending = self._pending, {}
            started = loop.time()
            try:
                written = await asyncio.to_thread(self._write, batch)
                self._on_written(written)
            except Exception as error:  # kept for flush(), which re-raises it
                self._error = error
                self._pending = {**batch, **self._pending}
            self._last_write = loop.time()
            self._spacing = max(self._interval, SPACING * (self._last_write - started))

    async def flush(self) -> None:
        """Write every queued record now; re-raises a failed write."""
        self._flushing.set()
        while True:
            writer = self._writer
            if writer is not None and not writer.done():
                # Shielded: a cancelled run does not abandon a write half way.
                await asyncio.shield(writer)
                continue
            if self._error is not None:
                raise self._error
            if not self._pending:
                return
            self._writer = asyncio.ensure_future(self._drain())
