"""The Sessions language server: ``create_server()`` and its thin handlers.

:class:`SessionsServer` is the protocol side: transport, capabilities, and
what the notebooks need of the client (:class:`workspace.Client`). The
notebooks themselves — one :class:`NotebookState` per file, the open
documents, the settings, the watcher — are its :class:`NotebookWorkspace`
(``server.notebooks``). Handlers translate LSP to calls on that workspace;
every feature lives in its own module. Handler failures become LSP error
responses (pygls) plus a log line; nothing here writes to stdout, which is
the protocol.

Start-up: ``initialize`` needs pygls, lsprotocol and the settings, nothing
more, so the feature modules (and through them the analysis, the sidecar,
the runner) are imported on ``initialized`` (:func:`load_features`), or by
the first handler that needs one. That halves the time to answer
``initialize`` (docs/performance.md); the handlers import their module in
their body, which costs a dictionary lookup once it is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException, PyglsError
from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    LanguageServerProtocol,
    default_converter,
    lsp_method,
)

from sessions._version import __version__
from sessions.lsp.encoded import EncodedJson, encode
from sessions.lsp.errors import RefusalLogFilter, is_refusal
from sessions.lsp.settings import DEFAULTS, Settings, read_settings, settings_section
from sessions.lsp.transport import READ_CHUNK, Connection, Read, ThreadedReader, ThreadedWriter
from sessions.lsp.uris import LOCAL_HOSTS, uri_to_path

if TYPE_CHECKING:
    from sessions.lsp.progress import RunProgress
    from sessions.lsp.workspace import NotebookWorkspace

log = logging.getLogger(__name__)
# pygls logs a refused request (InvalidParams, RequestFailed) as a crash, traceback included.
logging.getLogger("pygls.protocol.json_rpc").addFilter(RefusalLogFilter())

NOTEBOOK_TYPE = "sessions-notebook"

STATE_CHANGES_CAPABILITY = "sessionsStateChanges"
"""A client that sets this key of ``capabilities.experimental`` to true applies
``sessions/state`` notifications that carry only the cells that changed
(``onlyChanged``, docs/protocol.md); the others get every cell every time."""

CLOSE_KERNELS_SECONDS = 10.0
"""How long the end of a connection without ``shutdown`` waits for kernels to stop."""

COMMAND_NAMES = (
    "sessions.run",
    "sessions.interrupt",
    "sessions.restart",
    "sessions.clearOutputs",
    "sessions.state",
    "sessions.parse",
    "sessions.serialize",
    "sessions.widgets",
    "sessions.graph",
    "sessions.export",
)
"""What ``initialize`` announces; ``commands.COMMANDS`` implements them (a test
checks that the two agree), loaded with the other features."""

FEATURE_MODULES = (
    "sessions.lsp.workspace",
    "sessions.lsp.commands",
    "sessions.lsp.documents",
    "sessions.lsp.hover",
    "sessions.lsp.inlay",
    "sessions.lsp.lenses",
    "sessions.lsp.outline",
    "sessions.lsp.formatting",
    "sessions.lsp.progress",
)


def load_features() -> None:
    """Import what the handlers use, once the client has its answer to ``initialize``."""
    for name in FEATURE_MODULES:
        importlib.import_module(name)


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

    def notify_encoded(self, method: str, params: EncodedJson) -> None:
        """A notification whose params are JSON text already (``encoded.py``
        says why), framed as pygls frames every message (``_send_data``)."""
        if self.writer is None:
            log.error("cannot send %s: no transport", method)
            return
        body = f'{{"jsonrpc": "2.0", "method": {encode(method)}, "params": {params}}}'
        header = (
            f"Content-Length: {len(body)}\r\n"
            f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
        )
        # Our transports (stdio, and asyncio's StreamWriter for --tcp) write at once.
        self.writer.write((header + body).encode(self.CHARSET))


class PlainJson(dict[str, Any]):
    """A notification payload that is plain JSON already (``sessions/state``,
    ``sessions/output``, ``sessions/kernel``): serialised by ``json`` directly.
    Through cattrs, which walks every value, a 250-cell ``sessions/state`` costs
    3 ms of the event loop instead of 0.7 ms."""


def _converter() -> Any:  # a cattrs Converter
    converter = default_converter()  # type: ignore[no-untyped-call]
    converter.register_unstructure_hook(PlainJson, lambda payload: payload)
    typed = converter.get_unstructure_hook(types.PublishDiagnosticsNotification)

    def diagnostics(message: types.PublishDiagnosticsNotification) -> Any:
        # pygls types the params of a known method; ours are plain JSON already
        # (``publish.to_lsp``): 100 diagnostics through cattrs cost about 2 ms.
        params: Any = message.params
        if isinstance(params, PlainJson):
            return {"jsonrpc": message.jsonrpc, "method": message.method, "params": params}
        return typed(message)

    converter.register_unstructure_hook(types.PublishDiagnosticsNotification, diagnostics)
    # A notification of a method lsprotocol does not know (``sessions/comm``)
    # keeps its params as the JSON dict they are: pygls would make them
    # namedtuples, which rename keys such as a widget state's ``_model_name``.
    converter.register_structure_hook(JsonRPCNotification, lambda obj, cls: cls(**obj))
    return converter


class SessionsServer(LanguageServer):
    def __init__(self, when_ready: Callable[[], None] | None = None) -> None:
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
        self.initial_root: Path | None = None
        self.initial_settings: Settings = DEFAULTS
        """What ``initialize`` said, for the workspace when it is made."""
        self._pending_warnings: list[str] = []
        self._when_ready = when_ready
        self._ready = False
        self.exit_code = 0
        """The process's exit code once serving ended: 1 unless ``shutdown`` came first."""
        self.ended_by: str | None = None
        """The signal that ended serving (``ENDING_SIGNALS``), if one did."""

    @functools.cached_property
    def notebooks(self) -> NotebookWorkspace:
        """The notebooks this server holds, made on first use (not to answer ``initialize``)."""
        from sessions.lsp.workspace import NotebookWorkspace

        workspace = NotebookWorkspace(self)
        workspace.root = self.initial_root
        workspace.settings = self.initial_settings
        return workspace

    def ready(self) -> None:
        """Load the features, then run ``when_ready``; once (``initialized``, or
        :data:`READY_FALLBACK_SECONDS` after ``initialize`` without it)."""
        if self._ready:
            return
        self._ready = True
        load_features()
        if self._when_ready is not None:
            self._when_ready()

    # -- transport ---------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve one client over stdio, with our reader (``transport.py`` says
        why pygls's is replaced) and pygls's writer and protocol."""
        self._stop_event = threading.Event()  # set by pygls's shutdown()
        writer = ThreadedWriter(stdout or sys.stdout.buffer)
        self.protocol.set_writer(writer)
        reader = ThreadedReader(stdin or sys.stdin.buffer)
        try:
            asyncio.run(self.serve(reader.read))
        except BrokenPipeError:
            log.error("the connection to the client is lost; stopping")
            self.exit_code = 1
        finally:
            writer.close()  # what is queued (the reply to shutdown) goes out first
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
        """Serve one connection until ``exit``, the end of its stream or a
        SIGTERM/SIGHUP, then stop the kernels (at once when ``shutdown`` did
        not already)."""
        connection = Connection(self.protocol)
        serving = asyncio.ensure_future(connection.serve(read))
        signalled = _end_on_signals(serving)
        try:
            await serving
        except asyncio.CancelledError:
            if not signalled:
                raise
            log.info("%s: stopping the kernels, then exiting", signalled[0])
            self.ended_by = signalled[0]
        finally:
            _restore_signals()
            self.exit_code = 0 if connection.shutdown_requested else 1
            try:
                await asyncio.wait_for(self.notebooks.shutdown_kernels(), CLOSE_KERNELS_SECONDS)
            except Exception:
                log.exception("could not stop the kernels")

    # -- what the workspace needs (workspace.Client) ----------------------------

    def notify(self, method: str, params: Any) -> None:
        if isinstance(params, EncodedJson):
            cast(SessionsProtocol, self.protocol).notify_encoded(method, params)
            return
        self.protocol.notify(method, PlainJson(params) if type(params) is dict else params)

    def encoding(self) -> str:
        try:
            value = self.workspace.position_encoding
        except RuntimeError:  # not initialised yet
            return "utf-16"
        return str(getattr(value, "value", value) or "utf-16")

    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def refresh_code_lenses(self) -> None:
        workspace = self.client_capabilities.workspace
        lens = workspace.code_lens if workspace is not None else None
        if lens is not None and lens.refresh_support:
            self.protocol.send_request(types.WORKSPACE_CODE_LENS_REFRESH, None)

    def declared_folders(self) -> list[Path]:
        try:
            workspace = self.workspace
        except RuntimeError:  # not initialised: nothing declared
            return []
        uris = [folder.uri for folder in workspace.folders.values()]
        if not uris and workspace.root_uri:
            uris = [workspace.root_uri]
        folders = []
        for uri in uris:
            path = uri_to_path(uri)
            if path is not None and urlparse(uri).netloc.lower() in LOCAL_HOSTS:
                folders.append(path)
        return folders

    def new_progress(self) -> RunProgress:
        from sessions.lsp.progress import RunProgress

        window = self.client_capabilities.window
        return RunProgress(self, bool(window is not None and window.work_done_progress))

    def state_changes_only(self) -> bool:
        experimental = self.client_capabilities.experimental
        return isinstance(experimental, dict) and experimental.get(STATE_CHANGES_CAPABILITY) is True

    def report_server_error(
        self, error: Exception, source: type[PyglsError] | type[JsonRpcException]
    ) -> None:
        # Logged and sent as a log message, not a pop-up: the server keeps going.
        # A refusal is no fault: its message is the answer the client got.
        refused = is_refusal(error)
        log.log(logging.INFO if refused else logging.ERROR, "%s", error)
        try:
            if refused:
                self.log_message(f"sessions: {error}", types.MessageType.Info)
            else:
                self.log_message(f"sessions: internal error: {error}", types.MessageType.Error)
        except Exception:
            log.exception("cannot report an error to the client")


ENDING_SIGNALS = ("SIGTERM", "SIGHUP")
"""Signals that end serving the way the end of stdin does: the editor's host
killed (code-server stopped, a terminal closed) sends them to the whole
process group, and Python's default for them exits at once, leaving the
kernels this server started on a Jupyter server running there (a local
kernel's watchdog sees its owner go; a remote one has none)."""


def _end_on_signals(serving: asyncio.Future[None]) -> list[str]:
    """Cancels ``serving`` on an ending signal; the list gets its name then."""
    signalled: list[str] = []
    loop = asyncio.get_running_loop()

    def end(name: str) -> None:
        if not signalled:
            signalled.append(name)
            serving.cancel()

    for name in ENDING_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # Not on Windows' loops, nor off the main thread.
            loop.add_signal_handler(signum, end, name)
    return signalled


def _restore_signals() -> None:
    loop = asyncio.get_running_loop()
    for name in ENDING_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)


def _command(server: SessionsServer, name: str) -> None:
    async def handler(ls: SessionsServer, *args: Any) -> Any:
        from sessions.lsp.commands import COMMANDS

        result = COMMANDS[name](ls.notebooks, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    server.command(name)(handler)


READY_FALLBACK_SECONDS = 5.0
"""When a client never sends ``initialized``, the server gets ready this long after ``initialize``."""


def create_server(*, when_ready: Callable[[], None] | None = None) -> SessionsServer:
    """The server, its handlers and commands. ``when_ready`` runs once, after
    ``initialize`` has been answered and the features are loaded (the CLI
    settles the process there: collector, start-up cache)."""
    server = SessionsServer(when_ready)

    @server.feature(types.INITIALIZE)
    def initialize(ls: SessionsServer, params: types.InitializeParams) -> None:
        root_uri = params.root_uri
        if root_uri is None and params.workspace_folders:
            root_uri = params.workspace_folders[0].uri
        ls.initial_root = uri_to_path(root_uri) if root_uri else None
        section = settings_section(params.initialization_options)
        ls.initial_settings, ls._pending_warnings = read_settings(section)
        if "notebooks" in vars(ls):  # made before initialize (a test, a client out of order)
            ls.notebooks.root, ls.notebooks.settings = ls.initial_root, ls.initial_settings
        with contextlib.suppress(RuntimeError):  # no loop: a test calling the handler
            asyncio.get_running_loop().call_later(READY_FALLBACK_SECONDS, ls.ready)

    @server.feature(types.INITIALIZED)
    def initialized(ls: SessionsServer, params: types.InitializedParams) -> None:
        ls.ready()
        for warning in ls._pending_warnings:
            log.warning("%s", warning)
            ls.log_message(warning, types.MessageType.Warning)
        ls._pending_warnings = []

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: SessionsServer, params: None) -> None:
        await ls.notebooks.shutdown_kernels()

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
        ls.notebooks.apply_settings(section)

    # -- text documents ---------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SessionsServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        if not (doc.uri.endswith(".py") or doc.language_id == "python"):
            return
        ls.notebooks.documents.open_text(doc.uri, doc.text, doc.version, doc.language_id)
        ls.notebooks.open_document(doc.uri, doc.text, doc.version, "text")

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SessionsServer, params: types.DidChangeTextDocumentParams) -> None:
        uri, version = params.text_document.uri, params.text_document.version
        documents = ls.notebooks.documents
        if uri not in documents.texts:
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
        documents.change_text(uri, version, changes, ls.encoding())
        ls.notebooks.open_document(uri, documents.texts[uri].text, version, "text")

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SessionsServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri in ls.notebooks.documents.texts:
            ls.notebooks.documents.close_text(uri)
            ls.notebooks.close_document(uri)

    # -- notebook documents -----------------------------------------------------

    def sync_notebook(ls: SessionsServer, uri: str) -> None:
        from sessions.lsp.documents import notebook_doc

        notebook = notebook_doc(ls.workspace, uri)
        if notebook is None:
            return
        ls.notebooks.documents.set_notebook(uri, notebook)
        ls.notebooks.open_document(uri, notebook.text(), notebook.version, "notebook")

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: SessionsServer, params: types.DidOpenNotebookDocumentParams) -> None:
        sync_notebook(ls, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(
        ls: SessionsServer, params: types.DidChangeNotebookDocumentParams
    ) -> None:
        uri = params.notebook_document.uri
        change = params.change
        cells = change.cells
        if (
            change.metadata is None
            and cells is not None
            and cells.structure is None
            and cells.data is None
            and cells.text_content
        ):
            # Typing: only some cells' text changed (pygls has applied it to
            # their text documents). Those cells are updated in place; reading
            # every cell again cost ~5 ms per keystroke at 2,500 cells.
            texts = {}
            for content in cells.text_content:
                document = ls.workspace.get_text_document(content.document.uri)
                texts[content.document.uri] = (document.source, document.version)
            documents = ls.notebooks.documents
            if documents.change_cell_texts(uri, params.notebook_document.version, texts):
                notebook = documents.notebooks[uri]
                ls.notebooks.open_document(uri, notebook.text(), notebook.version, "notebook")
                return
        sync_notebook(ls, uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(
        ls: SessionsServer, params: types.DidCloseNotebookDocumentParams
    ) -> None:
        uri = params.notebook_document.uri
        ls.notebooks.documents.close_notebook(uri)
        ls.notebooks.close_document(uri)

    @server.feature("sessions/comm")
    def comm(ls: SessionsServer, params: Any) -> None:
        """A widget front end's comm message (docs/protocol.md, "Widgets")."""
        problem = ls.notebooks.comm_from_client(params)
        if problem is not None:
            ls.log_message(f"sessions/comm: {problem}", types.MessageType.Warning)

    # -- language features ------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(
        ls: SessionsServer, params: types.CodeLensParams
    ) -> list[types.CodeLens] | None:
        found = await ls.notebooks.snapshot_for(params.text_document.uri)
        if found is None:
            return None
        from sessions.lsp.lenses import code_lenses

        state, snapshot = found
        return code_lenses(snapshot, state.uri, running=state.running)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(
        ls: SessionsServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol] | None:
        from sessions.lsp.outline import document_symbols

        found = await ls.notebooks.snapshot_for(params.text_document.uri)
        return document_symbols(found[1].notebook) if found is not None else None

    @server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
    async def folding_range(
        ls: SessionsServer, params: types.FoldingRangeParams
    ) -> list[types.FoldingRange] | None:
        from sessions.lsp.outline import folding_ranges

        found = await ls.notebooks.snapshot_for(params.text_document.uri)
        return folding_ranges(found[1].notebook) if found is not None else None

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
    async def inlay_hint(
        ls: SessionsServer, params: types.InlayHintParams
    ) -> list[types.InlayHint] | None:
        found = await ls.notebooks.snapshot_for(params.text_document.uri)
        if found is None or found[0].snapshot_text is None:
            return None
        from sessions.lsp.inlay import inlay_hints
        from sessions.lsp.positions import LineIndex

        state, snapshot = found
        index = LineIndex(state.snapshot_text or "")
        return inlay_hints(
            snapshot, index, ls.encoding(), params.range.start.line, params.range.end.line
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: SessionsServer, params: types.HoverParams) -> types.Hover | None:
        from sessions.lsp.hover import hover_at

        return await hover_at(ls.notebooks, params.text_document.uri, params.position)

    def cell_text(ls: SessionsServer) -> Callable[[str], str]:
        return lambda uri: str(ls.workspace.get_text_document(uri).source)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    async def formatting(
        ls: SessionsServer, params: types.DocumentFormattingParams
    ) -> list[types.TextEdit] | None:
        from sessions.lsp.formatting import formatting_edits

        return await formatting_edits(ls.notebooks, params.text_document.uri, None, cell_text(ls))

    @server.feature(types.TEXT_DOCUMENT_RANGE_FORMATTING)
    async def range_formatting(
        ls: SessionsServer, params: types.DocumentRangeFormattingParams
    ) -> list[types.TextEdit] | None:
        from sessions.lsp.formatting import formatting_edits

        lines = (params.range.start.line, params.range.end.line)
        return await formatting_edits(ls.notebooks, params.text_document.uri, lines, cell_text(ls))

    for name in COMMAND_NAMES:
        _command(server, name)

    return server


__all__ = ["COMMAND_NAMES", "NOTEBOOK_TYPE", "SessionsServer", "create_server", "load_features"]
