"""The Sessions language server: ``create_server()`` and its thin handlers.

The server holds one :class:`NotebookState` per notebook file (keyed by
path), the open documents, the settings and a folder watcher. Handlers
translate LSP to calls on those objects; every feature lives in its own
module. Handler failures become LSP error responses (pygls) plus a log
line; nothing here writes to stdout, which is the protocol.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

from lsprotocol import types
from pygls.exceptions import JsonRpcException, PyglsError
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method

from sessions import __version__
from sessions.analysis.snapshot import NotebookReadError, Snapshot
from sessions.cache.sidecar import sidecar_path
from sessions.format.bounded_read import MAX_SIDECAR_BYTES, read_regular_file
from sessions.format.hashing import bytes_hash
from sessions.format.notebook import parse
from sessions.formatting import FormatterUnavailable
from sessions.lsp import commands
from sessions.lsp.documents import CellDoc, Documents, NotebookDoc, has_cell_marker, uri_to_path
from sessions.lsp.formatting import cells_in_lines, format_cell_source, format_edits
from sessions.lsp.hover import hover_text
from sessions.lsp.inlay import inlay_hints
from sessions.lsp.lenses import code_lenses
from sessions.lsp.notebook_state import NotebookState, is_notebook
from sessions.lsp.notifications import NotebookListener
from sessions.lsp.outline import document_symbols, folding_ranges
from sessions.lsp.positions import LineIndex, from_client_column, to_client_column
from sessions.lsp.positions import line_text as snapshot_line_text
from sessions.lsp.publish import Publisher
from sessions.lsp.settings import DEFAULTS, Settings, read_settings, settings_section
from sessions.lsp.transport import READ_CHUNK, Connection, Read, ThreadedReader
from sessions.lsp.watcher import FolderWatcher

log = logging.getLogger(__name__)

NOTEBOOK_TYPE = "sessions-notebook"

CLOSE_KERNELS_SECONDS = 10.0
"""How long the end of a connection without ``shutdown`` waits for kernels to stop."""


class SessionsProtocol(LanguageServerProtocol):
    """pygls's protocol, except that text documents are kept by :class:`Documents`.

    pygls applies incremental changes with ``str.splitlines``, which also
    breaks lines at form feeds and other characters that LSP does not treat
    as line ends; our handlers apply them with LSP's rules instead.
    """

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class PlainJson(dict[str, Any]):
    """A notification payload that is plain JSON already (``sessions/state``,
    ``sessions/output``, ``sessions/kernel``): serialised by ``json`` directly.
    Through cattrs, which walks every value, a 250-cell ``sessions/state`` costs
    3 ms of the event loop instead of 0.7 ms."""


def _converter() -> Any:  # a cattrs Converter
    converter = default_converter()  # type: ignore[no-untyped-call]
    converter.register_unstructure_hook(PlainJson, lambda payload: payload)
    return converter


class SessionsServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "sessions",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithNotebook(
                        notebook=NOTEBOOK_TYPE,
                        cells=[
                            types.NotebookCellLanguage("python"),
                            types.NotebookCellLanguage("markdown"),
                            types.NotebookCellLanguage("raw"),
                        ],
                    )
                ],
                save=False,
            ),
            protocol_cls=SessionsProtocol,
            converter_factory=_converter,
        )
        self.documents = Documents()
        self.settings: Settings = DEFAULTS
        self.states: dict[Path, NotebookState] = {}
        self._listeners: dict[Path, NotebookListener] = {}
        self.publisher = Publisher(self._notify, self.documents, self.encoding)
        self.watcher = FolderWatcher(self._on_file_changed)
        self.workspace_root: Path | None = None
        self._pending_warnings: list[str] = []
        self._tasks: set[asyncio.Future[None]] = set()
        """Background work (kernel pre-warming) kept referenced until it ends."""
        self._closing: asyncio.Future[None] | None = None
        """Kernels being shut down (``shutdown``, or the connection's end)."""
        self.exit_code = 0
        """The process's exit code once serving ended: 1 unless ``shutdown`` came first."""

    # -- transport ---------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve one client over stdio, with our reader (``transport.py`` says
        why pygls's is replaced) and pygls's writer and protocol."""
        self._stop_event = threading.Event()  # set by pygls's shutdown()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        reader = ThreadedReader(stdin or sys.stdin.buffer)
        try:
            asyncio.run(self.serve(reader.read))
        except BrokenPipeError:
            log.error("the connection to the client is lost; stopping")
            self.exit_code = 1
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]  # pygls's: stops its thread pool

    def start_tcp(self, host: str, port: int) -> None:
        """Serve the first client that connects to ``host:port`` (for debugging)."""

        async def serve_one() -> None:
            ended = asyncio.Event()

            async def connection(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter
            ) -> None:
                self.protocol.set_writer(writer)
                try:
                    await self.serve(lambda: reader.read(READ_CHUNK))
                finally:
                    writer.close()
                    ended.set()

            listener = await asyncio.start_server(connection, host, port)
            log.info("serving on %s:%s", host, port)
            async with listener:
                await ended.wait()

        self._stop_event = threading.Event()
        try:
            asyncio.run(serve_one())
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    async def serve(self, read: Read) -> None:
        """Serve one connection until ``exit`` or the end of its stream, then stop
        the kernels (at once when ``shutdown`` did not already)."""
        connection = Connection(self.protocol)
        try:
            await connection.serve(read)
        finally:
            self.exit_code = 0 if connection.shutdown_requested else 1
            try:
                await asyncio.wait_for(self.shutdown_kernels(), CLOSE_KERNELS_SECONDS)
            except Exception:
                log.exception("could not stop the kernels")

    # -- plumbing --------------------------------------------------------------

    def _notify(self, method: str, params: Any) -> None:
        self.protocol.notify(method, PlainJson(params) if type(params) is dict else params)

    def encoding(self) -> str:
        try:
            value = self.workspace.position_encoding
        except RuntimeError:  # not initialised yet
            return "utf-16"
        return str(getattr(value, "value", value) or "utf-16")

    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_server_error(
        self, error: Exception, source: type[PyglsError] | type[JsonRpcException]
    ) -> None:
        # Logged and sent as a log message, not a pop-up: the server keeps going.
        log.error("%s", error)
        try:
            self.log_message(f"sessions: internal error: {error}", types.MessageType.Error)
        except Exception:
            log.exception("cannot report an error to the client")

    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window is not None and window.work_done_progress)

    def _supports_lens_refresh(self) -> bool:
        workspace = self.client_capabilities.workspace
        lens = workspace.code_lens if workspace is not None else None
        return bool(lens is not None and lens.refresh_support)

    # -- notebook states -------------------------------------------------------

    def state_for(self, uri: str) -> NotebookState | None:
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
                workspace_root=self.workspace_root,
                on_analysed=self._on_analysed,
            )
            listener = NotebookListener(state, self._notify, self.publisher.publish_state)
            state.runner.listener = listener
            self._listeners[path] = listener
            self.states[path] = state
        return state

    def listener_for(self, state: NotebookState) -> NotebookListener:
        return self._listeners[state.path]

    def _on_analysed(self, state: NotebookState) -> None:
        while state.problems:  # e.g. a corrupt sidecar moved aside
            problem = state.problems.pop(0)
            self.log_message(f"sessions: {problem}", types.MessageType.Warning)
        before = self.publisher.last_state(state.uri)
        self.publisher.publish(state)
        if before is not self.publisher.last_state(state.uri) and self._supports_lens_refresh():
            self.protocol.send_request(types.WORKSPACE_CODE_LENS_REFRESH, None)

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

    def open_document(self, uri: str, text: str, version: int | None, kind: str) -> None:
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

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close_document(self, uri: str) -> None:
        state = self.state_for(uri)
        if state is None:
            return
        self.publisher.clear(state.uri)
        state.release()  # frees what the document held (text, analysis, sidecar data)
        self._watch_open_folders()

    # -- settings --------------------------------------------------------------

    def apply_settings(self, section: Any) -> None:
        settings, warnings = read_settings(section)
        for warning in warnings:
            log.warning("%s", warning)
            self.log_message(warning, types.MessageType.Warning)
        if settings != self.settings:
            self.settings = settings
            for state in self.states.values():
                state.settings_changed()

    # -- snapshots for requests ------------------------------------------------

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


def _mapping(value: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def _notebook_doc(server: SessionsServer, uri: str) -> NotebookDoc | None:
    document = server.workspace.get_notebook_document(notebook_uri=uri)
    if document is None:
        return None
    cells: list[CellDoc] = []
    for cell in document.cells:
        text_doc = server.workspace.get_text_document(cell.document)
        kind = "markdown" if cell.kind == types.NotebookCellKind.Markup else "code"
        cells.append(
            CellDoc(cell.document, kind, text_doc.source, text_doc.version, _mapping(cell.metadata))
        )
    return NotebookDoc(document.version, _mapping(document.metadata), cells)


def _command(server: SessionsServer, name: str, function: Callable[..., Any]) -> None:
    async def handler(ls: SessionsServer, *args: Any) -> Any:
        result = function(ls, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    server.command(name)(handler)


def create_server() -> SessionsServer:
    server = SessionsServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: SessionsServer, params: types.InitializeParams) -> None:
        root_uri = params.root_uri
        if root_uri is None and params.workspace_folders:
            root_uri = params.workspace_folders[0].uri
        ls.workspace_root = uri_to_path(root_uri) if root_uri else None
        section = settings_section(params.initialization_options)
        settings, warnings = read_settings(section)
        ls.settings = settings
        ls._pending_warnings = warnings

    @server.feature(types.INITIALIZED)
    def initialized(ls: SessionsServer, params: types.InitializedParams) -> None:
        for warning in ls._pending_warnings:
            log.warning("%s", warning)
            ls.log_message(warning, types.MessageType.Warning)
        ls._pending_warnings = []

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: SessionsServer, params: None) -> None:
        await ls.shutdown_kernels()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: SessionsServer, params: types.DidChangeConfigurationParams
    ) -> None:
        section = settings_section(params.settings)
        if section is None:
            workspace = ls.client_capabilities.workspace
            if workspace is None or not workspace.configuration:
                return
            items = [types.ConfigurationItem(section="sessions")]
            result = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
            section = settings_section({"sessions": result[0]} if result else None)
        ls.apply_settings(section)

    # -- text documents ---------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SessionsServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        if not (doc.uri.endswith(".py") or doc.language_id == "python"):
            return
        ls.documents.open_text(doc.uri, doc.text, doc.version, doc.language_id)
        ls.open_document(doc.uri, doc.text, doc.version, "text")

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SessionsServer, params: types.DidChangeTextDocumentParams) -> None:
        uri, version = params.text_document.uri, params.text_document.version
        if uri not in ls.documents.texts:
            return
        changes: list[tuple[tuple[int, int], tuple[int, int], str] | str] = []
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start, end = change.range.start, change.range.end
                changes.append(
                    ((start.line, start.character), (end.line, end.character), change.text)
                )
            else:
                changes.append(change.text)
        ls.documents.change_text(uri, version, changes, ls.encoding())
        ls.open_document(uri, ls.documents.texts[uri].text, version, "text")

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SessionsServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri in ls.documents.texts:
            ls.documents.close_text(uri)
            ls.close_document(uri)

    # -- notebook documents -----------------------------------------------------

    def sync_notebook(ls: SessionsServer, uri: str) -> None:
        notebook = _notebook_doc(ls, uri)
        if notebook is None:
            return
        ls.documents.set_notebook(uri, notebook)
        ls.open_document(uri, notebook.text(), notebook.version, "notebook")

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: SessionsServer, params: types.DidOpenNotebookDocumentParams) -> None:
        sync_notebook(ls, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(
        ls: SessionsServer, params: types.DidChangeNotebookDocumentParams
    ) -> None:
        sync_notebook(ls, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(
        ls: SessionsServer, params: types.DidCloseNotebookDocumentParams
    ) -> None:
        uri = params.notebook_document.uri
        ls.documents.close_notebook(uri)
        ls.close_document(uri)

    # -- language features ------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(
        ls: SessionsServer, params: types.CodeLensParams
    ) -> list[types.CodeLens] | None:
        found = await ls.snapshot_for(params.text_document.uri)
        if found is None:
            return None
        state, snapshot = found
        return code_lenses(snapshot, state.uri, running=state.running)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(
        ls: SessionsServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol] | None:
        found = await ls.snapshot_for(params.text_document.uri)
        return document_symbols(found[1].notebook) if found is not None else None

    @server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
    async def folding_range(
        ls: SessionsServer, params: types.FoldingRangeParams
    ) -> list[types.FoldingRange] | None:
        found = await ls.snapshot_for(params.text_document.uri)
        return folding_ranges(found[1].notebook) if found is not None else None

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
    async def inlay_hint(
        ls: SessionsServer, params: types.InlayHintParams
    ) -> list[types.InlayHint] | None:
        found = await ls.snapshot_for(params.text_document.uri)
        if found is None or found[0].snapshot_text is None:
            return None
        state, snapshot = found
        index = LineIndex(state.snapshot_text or "")
        return inlay_hints(
            snapshot, index, ls.encoding(), params.range.start.line, params.range.end.line
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: SessionsServer, params: types.HoverParams) -> types.Hover | None:
        uri, position = params.text_document.uri, params.position
        line = position.line
        owner = ls.documents.cell_owner(uri)
        state = ls.state_for(uri) if owner is None else None
        settled = state.settled_line(line) if state is not None else None
        if settled is not None:  # the hovered line is unchanged by the edit being analysed
            snapshot, line_text = settled
        else:
            if owner is not None:  # a notebook cell: map to the file
                uri = owner[0]
            found = await ls.snapshot_for(uri)
            if found is None:
                return None
            state, snapshot = found
            if owner is not None:
                if owner[1] >= len(snapshot.notebook.cells):
                    return None
                line += snapshot.notebook.cells[owner[1]].body_line
            line_text = snapshot_line_text(state.snapshot_text or "", line)
        column = from_client_column(line_text, position.character, ls.encoding())
        text = hover_text(snapshot, line, column, line_text)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    async def formatting_edits(
        ls: SessionsServer, uri: str, lines: tuple[int, int] | None
    ) -> list[types.TextEdit] | None:
        owner = ls.documents.cell_owner(uri)
        notebook_uri = owner[0] if owner is not None else uri
        state = ls.state_for(notebook_uri)
        if state is None or state.text is None or not has_cell_marker(state.text):
            return None
        text = state.text
        try:
            if owner is not None:
                source = await asyncio.to_thread(format_cell_source, text, state.path, owner[1])
                if source is None:
                    return []
                cell_text = LineIndex(ls.workspace.get_text_document(uri).source)
                last = len(cell_text.starts) - 1
                last_line = cell_text.line_text(last)
                end_column = to_client_column(last_line, len(last_line), ls.encoding())
                return [
                    types.TextEdit(
                        range=types.Range(types.Position(0, 0), types.Position(last, end_column)),
                        new_text=source,
                    )
                ]
            cells = None
            if lines is not None:
                cells = cells_in_lines(parse(text), lines[0], lines[1])
            return await asyncio.to_thread(format_edits, text, state.path, ls.encoding(), cells)
        except FormatterUnavailable as exc:
            raise commands.failed(str(exc)) from exc

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    async def formatting(
        ls: SessionsServer, params: types.DocumentFormattingParams
    ) -> list[types.TextEdit] | None:
        return await formatting_edits(ls, params.text_document.uri, None)

    @server.feature(types.TEXT_DOCUMENT_RANGE_FORMATTING)
    async def range_formatting(
        ls: SessionsServer, params: types.DocumentRangeFormattingParams
    ) -> list[types.TextEdit] | None:
        lines = (params.range.start.line, params.range.end.line)
        return await formatting_edits(ls, params.text_document.uri, lines)

    for name, function in commands.COMMANDS.items():
        _command(server, name, function)

    return server


__all__ = ["NOTEBOOK_TYPE", "SessionsServer", "create_server"]
