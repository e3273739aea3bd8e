"""The Python API: open a notebook file, read and edit its cells, run them (docs/api.md).

Three classes, one design:

- :class:`NotebookDocument` reads and edits the file, no kernel. Every edit
  re-reads the file first (so changes made meanwhile by an editor or another
  program are kept), applies the edit with the exact round trip (other cells'
  bytes unchanged) and writes the file atomically; editors watching the file
  see the change.
- :class:`AsyncNotebook` adds a kernel: ``await run()``, ``interrupt()``,
  ``restart()``, ``close()``; ``async with`` shuts the kernel down on exit.
- :class:`Notebook` is the blocking facade for scripts: the same methods
  without ``await``. Its kernel lives on an event loop in a background thread
  (ZeroMQ sockets belong to one loop), started on the first run.

Reading and editing never wait for the kernel, so they are plain methods on
all three classes. Cells are addressed by 0-based index or by a unique text
anchor (:mod:`sessions.format.anchors`).
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sessions.analysis.diagnostics import Diagnostic
from sessions.analysis.snapshot import Snapshot, load_snapshot
from sessions.api.loop_thread import LoopThread
from sessions.api.views import CellView, cell_views, outputs_text
from sessions.cache.atomic import write_atomic
from sessions.cache.records import Output
from sessions.format.anchors import CellRef, resolve_cell
from sessions.format.edits import (
    Delete,
    Edit,
    Insert,
    Move,
    SetSource,
    apply_edit,
    apply_edits,
    as_edit,
)
from sessions.format.files import read_notebook_text
from sessions.format.notebook import CellKind, ParsedNotebook, parse, serialize
from sessions.run.kernel_factory import kernel_factory_for, remote_server_for
from sessions.run.parameters import from_values
from sessions.run.runner import NotebookRunner, RunListener, RunSettings, RunSummary

if TYPE_CHECKING:
    from sessions.kernel.remote import RemoteServer

__all__ = ["AsyncNotebook", "ConcurrentEditError", "Notebook", "NotebookDocument"]

_WRITE_ATTEMPTS = 5


class ConcurrentEditError(RuntimeError):
    """The file kept changing on disk while an edit was being applied."""


class NotebookDocument:
    """One notebook ``.py`` file: its cells, statuses and outputs, and edits to it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        read_notebook_text(self.path)  # a missing, binary or non-UTF-8 file fails here

    @classmethod
    def create(cls, path: str | Path) -> None:
        """Create an empty notebook file if there is none (a no-op when it exists)."""
        target = Path(path)
        if not target.exists():
            write_atomic(target, b"")

    # -- reading ------------------------------------------------------------

    def text(self) -> str:
        """The file's current text."""
        return read_notebook_text(self.path)

    def snapshot(self) -> Snapshot:
        """File + sidecar analysed: cells, dependency graph, statuses, diagnostics."""
        return load_snapshot(self.path)

    def _loaded_runs(self) -> Collection[int]:
        """Run ids produced in this object's kernel (none without a kernel)."""
        return ()

    def cells(self) -> list[CellView]:
        """Every cell, in file order, with its status and cached outputs."""
        return cell_views(self.snapshot(), self._loaded_runs())

    def cell(self, ref: CellRef) -> CellView:
        """One cell, by index or unique anchor."""
        snapshot = self.snapshot()
        index = resolve_cell(snapshot.notebook, ref)
        return cell_views(snapshot, self._loaded_runs())[index]

    def index(self, ref: CellRef) -> int:
        """The current index of the cell ``ref`` names."""
        return resolve_cell(parse(self.text()), ref)

    def outputs(self, ref: CellRef) -> list[Output]:
        """The cached outputs of a cell (nbformat dicts); ``[]`` when it never ran."""
        return list(self.cell(ref).outputs)

    def output_text(self, ref: CellRef, limit: int = 20_000) -> str:
        """The outputs of a cell as plain text (images noted, not encoded)."""
        return outputs_text(self.cell(ref).outputs, limit)

    def check(self) -> list[Diagnostic]:
        """Diagnostics (DESIGN §4–5 codes), in file coordinates."""
        return list(self.snapshot().diagnostics)

    # -- editing ------------------------------------------------------------

    def set_source(self, ref: CellRef, source: str) -> int:
        """Replace a cell's source; returns its index. Other cells keep their bytes."""
        return self._apply(SetSource(ref, source))

    def insert(
        self,
        index: CellRef,
        source: str = "",
        *,
        kind: CellKind = "code",
        title: str = "",
        after: bool = False,
    ) -> int:
        """Insert a new cell before ``index`` (``len`` appends; an anchor names a cell),
        or after it with ``after=True``; returns the new cell's index."""
        edit = (
            Insert(source, after=index, kind=kind, title=title)
            if after
            else Insert(source, before=index, kind=kind, title=title)
        )
        return self._apply(edit)

    def append(self, source: str = "", *, kind: CellKind = "code", title: str = "") -> int:
        """Add a cell at the end; returns its index."""
        return self._apply(Insert(source, kind=kind, title=title))

    def delete(self, ref: CellRef) -> None:
        self._apply(Delete(ref))

    def move(self, ref: CellRef, to: CellRef) -> int:
        """Move a cell so it ends up at ``to``'s current index; returns that index."""
        return self._apply(Move(ref, to))

    def edit_batch(self, edits: Iterable[Edit | Mapping[str, Any]]) -> None:
        """Apply several edits in order with one file write.

        Each edit addresses cells as the previous ones left the notebook;
        dicts use the JSON form of :mod:`sessions.format.edits`. Nothing is written
        when any edit fails.
        """
        batch = [as_edit(edit) for edit in edits]
        self._write(lambda notebook: (apply_edits(notebook, batch), None))

    def _apply(self, edit: Edit) -> int:
        index = self._write(lambda notebook: apply_edit(notebook, edit))
        return -1 if index is None else index

    def _write(
        self, change: Callable[[ParsedNotebook], tuple[ParsedNotebook, int | None]]
    ) -> int | None:
        """Read, edit, and write back unless the file changed meanwhile (then redo)."""
        target = self.path.resolve()  # a symlinked notebook stays a symlink
        with self._write_lock:
            for _ in range(_WRITE_ATTEMPTS):
                text = read_notebook_text(target)
                edited, index = change(parse(text))
                new_text = serialize(edited)
                if new_text == text:
                    return index
                if read_notebook_text(target) != text:
                    continue  # written by someone else while we edited: edit their text
                write_atomic(target, new_text.encode("utf-8"))
                return index
        raise ConcurrentEditError(
            f"{self.path} kept changing on disk while editing it; try again when it is quiet"
        )


class AsyncNotebook(NotebookDocument):
    """A notebook with a kernel, for asyncio code. Use ``async with``::

    async with AsyncNotebook.open("analysis.py") as nb:
        nb.set_source("load", "df = read()")
        summary = await nb.run("stale")
    """

    def __init__(
        self,
        path: str | Path,
        *,
        python: str | None = None,
        fresh: bool = False,
        workspace_root: str | Path | None = None,
        settings: RunSettings | None = None,
        listener: RunListener | None = None,
        server: str | RemoteServer | None = None,
    ) -> None:
        super().__init__(path)
        self.settings = settings or RunSettings()
        root = Path(workspace_root) if workspace_root is not None else None
        remote = remote_server_for(self.path, server, root)
        self.runner = NotebookRunner(
            self.path,
            kernel_factory_for(
                self.path, python=python, workspace_root=root, fresh=fresh, server=remote
            ),
            settings=self.settings,
            listener=listener,
        )
        self._run_lock: asyncio.Lock | None = None

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        python: str | None = None,
        fresh: bool = False,
        create: bool = False,
        workspace_root: str | Path | None = None,
        settings: RunSettings | None = None,
        listener: RunListener | None = None,
        server: str | RemoteServer | None = None,
    ) -> AsyncNotebook:
        """Open a notebook file (``create=True`` makes an empty one if missing).

        No kernel starts until the first run. ``python`` overrides the
        interpreter resolution of DESIGN §6; ``fresh`` asks for a new kernel
        even when a shared one is available. ``server`` (a URL, or a
        ``RemoteServer`` for a token file or CA bundle) runs the kernel on a
        Jupyter Server instead, the token from ``JUPYTER_TOKEN``; without it,
        ``[tool.sessions] server`` in the nearest ``pyproject.toml`` if set.
        """
        if create:
            cls.create(path)
        return cls(
            path,
            python=python,
            fresh=fresh,
            workspace_root=workspace_root,
            settings=settings,
            listener=listener,
            server=server,
        )

    def snapshot(self) -> Snapshot:
        return self.runner.snapshot()

    def _loaded_runs(self) -> Collection[int]:
        return self.runner.loaded_runs

    @property
    def kernel_started(self) -> bool:
        return self.runner.kernel is not None

    @property
    def busy(self) -> bool:
        """Whether a run is in progress."""
        return self.runner.busy

    async def run(
        self,
        mode: str = "stale",
        cells: Sequence[CellRef] = (),
        *,
        timeout: float | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> RunSummary:
        """Run cells (modes of DESIGN §6: cell, stale, all, above, below, downstream).

        ``cells`` are indexes or anchors; ``timeout`` interrupts a cell that
        runs longer than that many seconds. ``parameters`` (name -> value, a
        value Python can write as a literal) are injected after the cell
        tagged ``parameters``; None keeps those in effect, ``{}`` goes back to
        the defaults. Starts the kernel if needed. Raises ``PlanError`` for a
        bad request (``ParameterError`` for a bad parameter) and
        ``KernelError`` when the kernel cannot start (with the fix in the
        message).
        """
        given = from_values(parameters, "parameters") if parameters is not None else None
        if self._run_lock is None:
            self._run_lock = asyncio.Lock()
        async with self._run_lock:
            parsed = parse(self.text())
            indexes = [resolve_cell(parsed, ref) for ref in cells]
            self.runner.settings = dataclasses.replace(self.settings, cell_timeout=timeout)
            try:
                return await self.runner.run(mode, indexes, parameters=given)
            finally:
                self.runner.settings = self.settings

    async def interrupt(self) -> None:
        """Interrupt the running cell; the rest of the run is skipped."""
        await self.runner.interrupt()

    async def restart(self) -> None:
        """Restart the kernel: a new process, nothing loaded; cached outputs stay."""
        await self.runner.restart()

    async def close(self) -> None:
        """Shut the kernel down (idempotent). Files and cached outputs stay."""
        await self.runner.shutdown()

    async def __aenter__(self) -> AsyncNotebook:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


class Notebook(NotebookDocument):
    """A notebook with a kernel, for scripts: blocking methods. Use ``with``::

        with Notebook.open("analysis.py") as nb:
            nb.set_source(2, "y = x + 1")
            nb.run("stale")
            print(nb.output_text(2))

    ``interrupt()`` may be called from another thread while ``run()`` waits;
    Ctrl-C during ``run()`` interrupts the kernel and re-raises.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        python: str | None = None,
        fresh: bool = False,
        workspace_root: str | Path | None = None,
        settings: RunSettings | None = None,
        listener: RunListener | None = None,
        server: str | RemoteServer | None = None,
    ) -> None:
        super().__init__(path)
        self._async = AsyncNotebook(
            path,
            python=python,
            fresh=fresh,
            workspace_root=workspace_root,
            settings=settings,
            listener=listener,
            server=server,
        )
        self._loop: LoopThread | None = None
        self._loop_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        python: str | None = None,
        fresh: bool = False,
        create: bool = False,
        workspace_root: str | Path | None = None,
        settings: RunSettings | None = None,
        listener: RunListener | None = None,
        server: str | RemoteServer | None = None,
    ) -> Notebook:
        """Open a notebook file; see :meth:`AsyncNotebook.open`."""
        if create:
            cls.create(path)
        return cls(
            path,
            python=python,
            fresh=fresh,
            workspace_root=workspace_root,
            settings=settings,
            listener=listener,
            server=server,
        )

    def _ensure_loop(self) -> LoopThread:
        with self._loop_lock:
            if self._loop is None:
                self._loop = LoopThread(f"sessions-{self.path.name}")
                # A script that forgets close() still leaves no kernel behind.
                atexit.register(self.close)
            return self._loop

    def snapshot(self) -> Snapshot:
        return self._async.snapshot()

    def _loaded_runs(self) -> Collection[int]:
        if self._loop is None:
            return ()
        if self._loop.is_current:  # e.g. a listener reading cells: no need to hop threads
            return set(self._async.runner.loaded_runs)

        async def copy() -> set[int]:
            return set(self._async.runner.loaded_runs)

        return self._loop.call(copy())

    @property
    def kernel_started(self) -> bool:
        return self._async.kernel_started

    def run(
        self,
        mode: str = "stale",
        cells: Sequence[CellRef] = (),
        *,
        timeout: float | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> RunSummary:
        """Run cells and wait; see :meth:`AsyncNotebook.run`."""
        loop = self._ensure_loop()
        future = loop.submit(self._async.run(mode, cells, timeout=timeout, parameters=parameters))
        try:
            return future.result()
        except KeyboardInterrupt:
            loop.call(self._async.interrupt())
            future.exception(timeout=30)  # let the run record what it got, then stop
            raise

    def interrupt(self) -> None:
        if self._loop is not None:
            self._loop.call(self._async.interrupt())

    def restart(self) -> None:
        if self._loop is not None:
            self._loop.call(self._async.restart())

    def close(self) -> None:
        """Shut the kernel down and stop the background loop (idempotent)."""
        with self._loop_lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        atexit.unregister(self.close)
        try:
            loop.call(self._async.close(), timeout=60)
        finally:
            loop.stop()

    def __enter__(self) -> Notebook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
