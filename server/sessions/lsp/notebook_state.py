"""Everything the server holds for one notebook: text, version, snapshot, runner, kernel.

Analysis (parse + graph + statuses) runs in a worker thread so the event loop
keeps answering; requests made while it runs are coalesced: when the text
changed again before an analysis finished, its result is dropped and only
the latest text is analysed and published.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sessions.analysis.content_cache import forget_everywhere
from sessions.analysis.snapshot import Snapshot, analyse
from sessions.cache.sidecar import SidecarStore
from sessions.format.bounded_read import MAX_NOTEBOOK_SETTING, format_size, text_bytes
from sessions.format.files import NotebookReadError, NotebookTooLarge, read_notebook_text
from sessions.format.notebook import ParsedNotebook, parse
from sessions.format.reparse import parse_edit
from sessions.kernel.errors import KernelSetupError, KernelStartError
from sessions.kernel.interpreter import ResolvedPython, resolve_python
from sessions.lsp.positions import LineIndex
from sessions.lsp.settings import Settings
from sessions.lsp.state_payload import KernelView
from sessions.run.checkpoints.checkpointer import RestoreResult
from sessions.run.kernel_factory import kernel_factory_for, remote_server_for
from sessions.run.runner import KernelLike, NotebookRunner, RunListener, RunSettings

if TYPE_CHECKING:
    from sessions.kernel.remote import RemoteServer
    from sessions.lsp.comm_bridge import CommBridge

log = logging.getLogger(__name__)

DocumentKind = Literal["text", "notebook"]


_TRIM_AFTER_CHARS = 1_000_000
"""Closing a document at least this large hands the freed memory back to the system."""


def return_freed_memory() -> None:
    """Collect garbage and give freed heap pages back to the system.

    What a large closed document held is freed at once, but the C allocator
    keeps the pages for reuse, so the server's RSS stayed near its peak:
    after closing a 5 MB notebook (870 MB while open) it stayed at 200 MB,
    with the trim 129 MB (57 MB idle). ``malloc_trim`` is glibc's; elsewhere
    only the collection runs.
    """
    gc.collect()
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def is_notebook(notebook: ParsedNotebook) -> bool:
    """A ``.py`` file is a notebook when it has at least one ``# %%`` cell."""
    return any(not cell.is_preamble for cell in notebook.cells)


def _line_text(text: str, line: int) -> str:
    """Line ``line`` of ``text`` as LSP counts lines; one C-level split when the
    text has no ``\r`` (a Python-level scan would hand the GIL to a running analysis)."""
    if "\r" in text:
        return LineIndex(text).line_text(line)
    parts = text.split("\n", line + 1)
    return parts[line] if line < len(parts) else ""


class NotebookState:
    """One notebook file, open in the editor or not."""

    def __init__(
        self,
        uri: str,
        path: Path,
        *,
        settings: Callable[[], Settings],
        workspace_root: Path | None,
        on_analysed: Callable[[NotebookState], None],
    ) -> None:
        self.uri = uri
        self.path = path
        self._settings = settings
        self.workspace_root = workspace_root
        self._on_analysed = on_analysed

        self.document: DocumentKind | None = None
        """How the client has it open; None: closed, the file on disk is the truth."""
        self.text: str | None = None
        self.version: int | None = None

        self.snapshot: Snapshot | None = None
        self.snapshot_version: int | None = None
        self.snapshot_text: str | None = None
        self.read_error: str | None = None
        """Why the file on disk cannot be analysed (closed documents only)."""
        self.too_large: str | None = None
        """Why the latest text is not analysed: it is over ``sessions.maxNotebookBytes``
        (the message, for a diagnostic). Nothing of it is kept but the text."""
        self.setup_error: KernelSetupError | None = None
        """The kernel could not start: shown as the ``kernel-setup`` diagnostic."""

        self.problems: list[str] = []
        """Problems met reading the sidecar, not yet reported to the user."""
        self.running: int | None = None
        self.kernel_state = "stopped"
        self._python: ResolvedPython | None = None

        self._generation = 0
        self._analysed_generation = -1
        self._task: asyncio.Task[None] | None = None
        self._parsed: tuple[str, ParsedNotebook] | None = None
        self._checked_limit: int | None = None
        """The size limit the latest text was checked against."""

        self.comm_bridge: CommBridge | None = None
        """Widgets: the kernel's comms to the client and back (set by the workspace)."""
        self.runner = NotebookRunner(
            path,
            self._start_kernel,
            settings=self.run_settings(),
            listener=RunListener(),
            read_notebook=self.current_notebook,
        )

    # -- settings and kernel ---------------------------------------------------

    def run_settings(self) -> RunSettings:
        settings = self._settings()
        return RunSettings(
            on_run=settings.on_run,
            run_upstream=settings.run_upstream,
            output_cap=settings.output_cap,
        )

    def settings_changed(self) -> None:
        self.runner.settings = self.run_settings()
        self.runner.store.output_cap = self._settings().output_cap
        self._python = None
        if self.document is not None and self._checked_limit not in (
            None,
            self._settings().max_notebook_bytes,
        ):
            self.request_analysis()  # the size limit changed: refuse or analyse anew

    def remote_server(self) -> RemoteServer | None:
        """The Jupyter server to run this notebook's kernel on (setting
        ``sessions.kernel.server``, else ``[tool.sessions] server``); None: local."""
        settings = self._settings()
        return remote_server_for(
            self.path,
            settings.kernel_server,
            self.workspace_root,
            token_file=settings.kernel_token_file,
            kernel_name=settings.kernel_name,
            ca_bundle=settings.kernel_ca_bundle,
        )

    async def _start_kernel(self) -> KernelLike:
        factory = kernel_factory_for(
            self.path,
            python=self._settings().python,
            workspace_root=self.workspace_root,
            server=self.remote_server(),
        )
        # The session reports its own states once it exists; "starting" comes first.
        python = self.kernel_view().python
        self.runner.listener.kernel_state("starting", python)
        try:
            kernel = await factory()
        except BaseException:
            self.runner.listener.kernel_state("stopped", python)
            raise
        if self.comm_bridge is not None:
            self.comm_bridge.attach(kernel)
        return kernel

    async def prewarm(self) -> None:
        """Start the kernel now (setting ``sessions.prewarmKernel``), so the first run is quick.

        A setup problem becomes the ``kernel-setup`` diagnostic, as for a run;
        nothing is raised to the caller.
        """
        if self.runner.kernel is not None:
            return
        try:
            await self.runner.ensure_kernel()
        except KernelSetupError as exc:
            self.setup_error = exc
            self.request_analysis()
        except Exception:
            log.exception("pre-warming the kernel of %s failed", self.path)

    def kernel_view(self) -> KernelView:
        kernel = self.runner.kernel
        if kernel is not None:
            connection = kernel.connection_file
            return KernelView(
                self.kernel_state,
                kernel.python,
                kernel.python_reason,
                str(connection) if connection else None,
            )
        try:
            server = self.remote_server()
        except KernelStartError as exc:  # a bad URL or token file: said when a run starts
            return KernelView(self.kernel_state, "", str(exc))
        if server is not None:
            return KernelView(
                self.kernel_state,
                f"{server.kernel_name} on {server.url}",
                f"remote kernel {server.kernel_name!r} on the Jupyter server {server.url}",
            )
        if self._python is None:
            try:
                self._python = resolve_python(
                    self.path, setting=self._settings().python, workspace_root=self.workspace_root
                )
            except Exception as exc:  # a broken pyproject.toml must not break rendering
                return KernelView(self.kernel_state, "", f"cannot resolve the interpreter: {exc}")
        return KernelView(self.kernel_state, self._python.path, self._python.reason)

    # -- text ------------------------------------------------------------------

    def set_text(
        self, text: str | None, version: int | None, document: DocumentKind | None
    ) -> None:
        self.text, self.version, self.document = text, version, document
        self.request_analysis()

    def _check_size(self, text: str) -> None:
        """Refuse a text over the size limit before anything is built from it:
        the analysis keeps tens to hundreds of bytes per byte of code."""
        limit = self._checked_limit = self._settings().max_notebook_bytes
        if len(text) <= limit // 4:  # no UTF-8 text is more than 4 bytes per character
            return
        size = text_bytes(text)
        if size > limit:
            raise NotebookTooLarge(
                f"{self.path.name} is {format_size(size)}, over the {format_size(limit, unit=True)} limit "
                f"for notebooks (setting {MAX_NOTEBOOK_SETTING}): Sessions does not analyse "
                "it, so it shows no cell statuses, code lenses or runs. Raise the setting to "
                "analyse it."
            )

    def _notebook_for(self, text: str) -> ParsedNotebook:
        parsed = self._parsed
        if parsed is not None and parsed[0] is text:
            return parsed[1]
        # Only the cells the edit touched are parsed again (format/reparse.py).
        notebook = parse(text) if parsed is None else parse_edit(parsed[0], parsed[1], text)
        self._parsed = (text, notebook)
        return notebook

    def current_notebook(self) -> ParsedNotebook:
        """The notebook as the user sees it now: the open document, else the file on disk."""
        text = self.text
        if text is None:
            text = read_notebook_text(self.path, max_bytes=self._settings().max_notebook_bytes)
        else:
            self._check_size(text)
        return self._notebook_for(text)

    # -- analysis --------------------------------------------------------------

    def _analyse(self, text: str | None) -> tuple[Snapshot, str]:
        if text is None:
            text = read_notebook_text(self.path, max_bytes=self._settings().max_notebook_bytes)
        else:
            self._check_size(text)
        notebook = self._notebook_for(text)
        loaded = self.runner.store.load()
        for problem in loaded.problems:
            log.warning("%s", problem)
            self.problems.append(problem)  # kept even when this result is superseded
        # The last snapshot lets an edit update the graph and statuses where it
        # changed them, rather than rebuild them (the result is the same).
        previous = self.snapshot
        return analyse(self.path, notebook, loaded.data, loaded.problems, previous), text

    def request_analysis(self) -> None:
        """Analyse the latest text soon; superseded results are never published."""
        self._generation += 1
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._analysis_loop())

    async def _analysis_loop(self) -> None:
        while self._analysed_generation != self._generation:
            generation, text, version = self._generation, self.text, self.version
            snapshot: Snapshot | None = None
            error: str | None = None
            too_large: str | None = None
            try:
                snapshot, text = await asyncio.to_thread(self._analyse, text)
            except NotebookTooLarge as exc:
                error = too_large = str(exc)
            except NotebookReadError as exc:
                error = str(exc)
            except Exception as exc:  # keep serving: report and wait for the next change
                log.exception("analysis of %s failed", self.path)
                error = f"analysis failed: {exc}"
            if generation != self._generation:
                continue  # the text changed meanwhile: analyse the latest instead
            self._analysed_generation = generation
            self.read_error = error
            self.too_large = too_large
            if too_large is not None:
                # Grown past the limit: what was built for a smaller text goes too.
                self._forget_analysis()
            if snapshot is not None:
                self.snapshot, self.snapshot_version, self.snapshot_text = snapshot, version, text
            try:
                self._on_analysed(self)
            except Exception:
                log.exception("publishing %s failed", self.uri)

    def settled_line(self, line: int) -> tuple[Snapshot, str] | None:
        """While a newer text of an open document is being analysed: the last
        snapshot and the text of ``line`` in it, if that line reads the same in
        the newest text. A hover there names the same thing, so it can be
        answered now instead of after the analysis (DESIGN §9: hover p95 ≤ 20 ms)."""
        task, snapshot, old, new = self._task, self.snapshot, self.snapshot_text, self.text
        if task is None or task.done() or snapshot is None or old is None or new is None:
            return None
        if self.document is None or not is_notebook(snapshot.notebook):
            return None
        line_text = _line_text(old, line)
        if _line_text(new, line) != line_text:
            return None
        return snapshot, line_text

    async def current_snapshot(self) -> Snapshot:
        """The snapshot of the latest text (closed files: re-read from disk now)."""
        if self.document is None:
            self.request_analysis()
        for _ in range(10):
            task = self._task
            if task is not None and not task.done():
                await asyncio.shield(task)
            elif self._analysed_generation != self._generation or self.snapshot is None:
                if self.read_error is not None and self._analysed_generation == self._generation:
                    break
                self.request_analysis()
            else:
                break
        if self.read_error is not None and (self.document is None or self.snapshot is None):
            raise NotebookReadError(self.read_error)
        if self.snapshot is None:
            raise NotebookReadError(f"{self.path}: could not be analysed")
        return self.snapshot

    def loaded_cells(self) -> set[int]:
        return self.runner.loaded_cells(self.snapshot) if self.snapshot is not None else set()

    def restored_cells(self) -> dict[int, RestoreResult]:
        """Loaded cells whose values came from a checkpoint."""
        return self.runner.restored_cells(self.snapshot) if self.snapshot is not None else {}

    def _forget_analysis(self) -> None:
        self.snapshot = self.snapshot_version = self.snapshot_text = None
        self._parsed = None

    def release(self) -> None:
        """The document was closed: drop everything built from its text.

        A closed notebook is shown nowhere, and its file is read again when a
        command needs it; its text, parse, snapshot, cached cell analyses and
        sidecar data used to stay (a closed 10 MB notebook kept 2.2 GB). The
        runner (kernel, queue) stays; its sidecar store is replaced by an
        empty one unless a run is using it.
        """
        parsed = self._parsed
        self.document, self.text, self.version = None, None, None
        self.too_large = None
        self._forget_analysis()
        # An analysis under way is superseded, and nothing is pending: its result
        # is dropped, and the file on disk is read only when a command asks.
        self._generation += 1
        self._analysed_generation = self._generation
        if parsed is not None:
            forget_everywhere(cell.hash for cell in parsed[1].cells if cell.kind == "code")
        if parsed is not None and len(parsed[0]) >= _TRIM_AFTER_CHARS:
            return_freed_memory()
        if not self.runner.busy:
            store = self.runner.store
            self.runner.store = SidecarStore(
                store.path, store.notebook_name, output_cap=store.output_cap
            )

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.comm_bridge is not None:
            self.comm_bridge.close()
        await self.runner.shutdown()
