"""The notebooks the language server holds, apart from the protocol.

:class:`NotebookWorkspace` keeps one :class:`NotebookState` per notebook
file (keyed by its path), the open documents, the settings, the publisher of
diagnostics and the folder watcher. It sees the protocol server only
through :class:`Client` — send a notification, log, refresh code lenses,
the position encoding, the declared workspace folders, a progress bar — so
commands and features take the workspace, never the server, and the server
module only wires LSP methods to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol

from lsprotocol import types

from sessions.analysis.snapshot import Snapshot
from sessions.cache.sidecar import sidecar_path
from sessions.format.bounded_read import MAX_SIDECAR_BYTES, read_regular_file
from sessions.format.files import NotebookReadError
from sessions.format.hashing import bytes_hash
from sessions.lsp.comm_bridge import CommBridge
from sessions.lsp.documents import Documents, has_cell_marker
from sessions.lsp.notebook_state import NotebookState, is_notebook
from sessions.lsp.notifications import NotebookListener
from sessions.lsp.progress import RunProgress
from sessions.lsp.publish import Publisher
from sessions.lsp.settings import DEFAULTS, Settings, read_settings
from sessions.lsp.uris import uri_to_path
from sessions.lsp.watcher import FolderWatcher

log = logging.getLogger(__name__)


class Client(Protocol):
    """What the workspace needs of the protocol server (``SessionsServer``)."""

    def notify(self, method: str, params: Any) -> None:
        """Send a notification to the client; ``params`` is JSON-able, or an
        ``encoded.EncodedJson`` (JSON text already, sent as it is)."""

    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """``window/logMessage``."""

    def refresh_code_lenses(self) -> None:
        """Ask the client to re-request code lenses, if it supports that."""

    def encoding(self) -> str:
        """The negotiated position encoding (``utf-16`` until initialised)."""

    def declared_folders(self) -> list[Path]:
        """The local folders the client declared: its workspace folders, else ``rootUri``."""

    def new_progress(self) -> RunProgress:
        """A work-done progress (a no-op for clients without support)."""

    def state_changes_only(self) -> bool:
        """Whether the client declared ``experimental.sessionsStateChanges``: it
        applies ``sessions/state`` notifications that carry only changed cells."""


class NotebookWorkspace:
    """Every notebook the server knows, open or read from disk for a command."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.documents = Documents()
        self.settings: Settings = DEFAULTS
        self.root: Path | None = None
        """The client's root folder (``rootUri`` or its first workspace folder)."""
        self.states: dict[Path, NotebookState] = {}
        self._listeners: dict[Path, NotebookListener] = {}
        self.publisher = Publisher(
            client.notify, self.documents, client.encoding, only_changes=client.state_changes_only
        )
        self.watcher = FolderWatcher(self._on_file_changed)
        self._tasks: set[asyncio.Future[None]] = set()
        """Background work (kernel pre-warming) kept referenced until it ends."""
        self._closing: asyncio.Future[None] | None = None
        """Kernels being shut down (``shutdown``, or the connection's end)."""

    # -- notebook states -------------------------------------------------------

    def state_for(self, uri: str) -> NotebookState | None:
        """The state of the notebook at ``uri`` (made on first use); None when
        the URI is not a local ``.py`` file."""
        path = uri_to_path(uri)
        if path is None or path.suffix != ".py":
            return None
        path = path.absolute()
        state = self.states.get(path)
        if state is None:
            state = NotebookState(
                uri,
                path,
                settings=lambda: self.settings,
                workspace_root=self.root,
                on_analysed=self._on_analysed,
            )
            listener = NotebookListener(state, self.client.notify, self.publisher.publish_state)
            state.runner.listener = listener
            state.comm_bridge = CommBridge(
                uri,
                state.runner,
                self.client.notify,
                autorun=lambda: self.settings.on_run == "autorun",
            )
            self._listeners[path] = listener
            self.states[path] = state
        return state

    def listener_for(self, state: NotebookState) -> NotebookListener:
        return self._listeners[state.path]

    def _on_analysed(self, state: NotebookState) -> None:
        while state.problems:  # e.g. a corrupt sidecar moved aside
            problem = state.problems.pop(0)
            self.client.log_message(f"sessions: {problem}", types.MessageType.Warning)
        before = self.publisher.last_state(state.uri)
        self.publisher.publish(state)
        if before is not self.publisher.last_state(state.uri):
            self.client.refresh_code_lenses()

    # -- documents ---------------------------------------------------------------

    def open_document(self, uri: str, text: str, version: int | None, kind: str) -> None:
        """A document was opened or changed: ``kind`` is ``text`` or ``notebook``."""
        state = self.state_for(uri)
        if state is None:
            return
        if kind == "text" and not has_cell_marker(text) and state.snapshot is None:
            state.document, state.text, state.version = "text", text, version
            return  # a plain .py file: nothing to publish unless it gains a marker
        state.set_text(text, version, "text" if kind == "text" else "notebook")
        self._watch_open_folders()
        if self.settings.prewarm_kernel and state.runner.kernel is None:
            self._background(state.prewarm())

    def close_document(self, uri: str) -> None:
        state = self.state_for(uri)
        if state is None:
            return
        self.publisher.clear(state.uri)
        state.release()  # frees what the document held (text, analysis, sidecar data)
        self._watch_open_folders()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- files changed outside -----------------------------------------------------

    def _watch_open_folders(self) -> None:
        open_states = [s for s in self.states.values() if s.document is not None]
        # The sidecar of a symlinked notebook sits beside the real file, which
        # may be in another folder than the link.
        self.watcher.watch(
            {s.path.parent for s in open_states}
            | {sidecar_path(s.path).parent for s in open_states}
        )

    def _on_file_changed(self, path: Path) -> None:
        for state in self.states.values():
            if path == sidecar_path(state.path):
                if state.document is None:
                    continue  # read again when next needed
                try:  # never blocks on a FIFO, never reads /dev/zero (bounded_read)
                    raw = read_regular_file(path, MAX_SIDECAR_BYTES)
                except OSError:
                    raw = None
                if raw is not None and bytes_hash(raw) == state.runner.store.last_written_hash:
                    continue  # our own write, already published
                state.request_analysis()

    # -- settings ------------------------------------------------------------------

    def comm_from_client(self, params: Any) -> str | None:
        """Passes a client's ``sessions/comm`` to its notebook's kernel; returns
        what is wrong with it (for the client's log), or None."""
        uri = params.get("uri") if isinstance(params, dict) else None
        if not isinstance(uri, str) or self.documents.text_of(uri) is None:
            return f"{uri!r} is not a notebook open in the editor; the message was dropped"
        state = self.state_for(uri)
        if state is None or state.comm_bridge is None:
            return f"{uri!r} is not a notebook .py file; the message was dropped"
        try:
            state.comm_bridge.from_client(params)
        except ValueError as error:
            return f"malformed message ({error}); it was dropped"
        return None

    def apply_settings(self, section: Any) -> None:
        """New ``sessions`` settings from the client; bad values are reported and ignored."""
        settings, warnings = read_settings(section)
        for warning in warnings:
            log.warning("%s", warning)
            self.client.log_message(warning, types.MessageType.Warning)
        if settings != self.settings:
            self.settings = settings
            for state in self.states.values():
                state.settings_changed()

    # -- snapshots for requests ----------------------------------------------------

    async def snapshot_for(self, uri: str) -> tuple[NotebookState, Snapshot] | None:
        """The current snapshot of an open notebook document, or None (plain files, cells)."""
        state = self.state_for(uri)
        if state is None or state.document is None or state.text is None:
            return None
        if not has_cell_marker(state.text):
            return None
        try:
            snapshot = await state.current_snapshot()
        except NotebookReadError:
            return None
        if not is_notebook(snapshot.notebook):
            return None
        return state, snapshot

    # -- the end -------------------------------------------------------------------

    async def shutdown_kernels(self) -> None:
        """Stop the watcher and every kernel; later calls wait for the first."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_kernels())
        await asyncio.shield(self._closing)

    async def _close_kernels(self) -> None:
        self.watcher.stop()
        await asyncio.gather(
            *(state.close() for state in self.states.values()), return_exceptions=True
        )
