"""Shared helpers for the language-server tests (no tests here): the real server
over stdio as ``python -m sessions.cli lsp``, a client that records our
custom notifications, and small waiting helpers."""

from __future__ import annotations

import asyncio
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import JsonRPCNotification, JsonRPCResponseMessage, default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from tests.support.cli import cli
from tests.support.cli import command as sessions_command

SERVER_COMMAND = sessions_command("lsp")


class Recorded:
    """Custom notifications the server sent, in arrival order."""

    def __init__(self) -> None:
        self.state: list[dict[str, Any]] = []
        """Each ``sessions/state`` as every cell: a partial one (``onlyChanged``)
        merged into what the earlier ones for its URI added up to, as the
        extension's store does."""
        self.state_sent: list[dict[str, Any]] = []
        """Each ``sessions/state`` as it came."""
        self.output: list[dict[str, Any]] = []
        self.kernel: list[dict[str, Any]] = []
        self.comm: list[dict[str, Any]] = []
        self.diagnostic_versions: dict[str, int | None] = {}
        self.diagnostic_counts: dict[str, int] = {}
        """How many ``publishDiagnostics`` each URI got."""


def plain(value: Any) -> Any:
    """pygls decodes JSON objects as namedtuples; tests compare plain dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _as_dict(params: Any) -> dict[str, Any]:
    result: dict[str, Any] = plain(params)
    return result


def _plain_converter() -> Any:
    """pygls's converter, except that untyped payloads stay dicts: its namedtuples
    would rename keys such as ``text/plain``."""
    converter = default_converter()
    for message in (JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(message, lambda obj, cls: cls(**obj))
    return converter


def recording_client() -> LanguageClient:
    client = LanguageClient(converter_factory=_plain_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)
    del features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]
    register_lsp_features(client, features)
    recorded = Recorded()
    client.recorded = recorded  # type: ignore[attr-defined]

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        recorded.diagnostic_versions[params.uri] = params.version
        recorded.diagnostic_counts[params.uri] = recorded.diagnostic_counts.get(params.uri, 0) + 1

    @client.feature("sessions/state")
    def on_state(params: Any) -> None:
        sent = _as_dict(params)
        recorded.state_sent.append(sent)
        recorded.state.append(merged_state(recorded.state, sent))

    @client.feature("sessions/output")
    def on_output(params: Any) -> None:
        recorded.output.append(_as_dict(params))

    @client.feature("sessions/kernel")
    def on_kernel(params: Any) -> None:
        recorded.kernel.append(_as_dict(params))

    @client.feature("sessions/comm")
    def on_comm(params: Any) -> None:
        recorded.comm.append(_as_dict(params))

    return client


CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=recording_client)


def recorded(client: LanguageClient) -> Recorded:
    result: Recorded = client.recorded  # type: ignore[attr-defined]
    return result


def merged_state(earlier: list[dict[str, Any]], sent: dict[str, Any]) -> dict[str, Any]:
    """``sent`` with every cell: a partial ``sessions/state`` applied to the
    latest of ``earlier`` for its URI (written apart from the extension's
    ``applyStateChanges``, so the two check each other against the server)."""
    if not sent.get("onlyChanged"):
        return sent
    base = next((state for state in reversed(earlier) if state["uri"] == sent["uri"]), None)
    assert base is not None, f"a partial sessions/state before any complete one: {sent}"
    cells = list(base["cells"][: sent["cellCount"]])
    cells.extend([None] * (sent["cellCount"] - len(cells)))
    for cell in sent["cells"]:
        cells[cell["index"]] = cell
    assert None not in cells, f"cells missing from a partial sessions/state: {sent}"
    return {"uri": sent["uri"], "version": sent["version"], "cells": cells}


def capabilities(
    *, progress: bool = True, notebooks: bool = True, state_changes: bool = True
) -> types.ClientCapabilities:
    """What a client like the extension declares; ``state_changes``: that it
    applies partial ``sessions/state`` (the extension does, so most tests do)."""
    return types.ClientCapabilities(
        experimental={"sessionsStateChanges": True} if state_changes else None,
        window=types.WindowClientCapabilities(work_done_progress=progress),
        notebook_document=types.NotebookDocumentClientCapabilities(
            synchronization=types.NotebookDocumentSyncClientCapabilities()
        )
        if notebooks
        else None,
        text_document=types.TextDocumentClientCapabilities(
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True)
        ),
    )


async def initialize(
    client: LanguageClient,
    root: Path,
    options: Any = None,
    *,
    progress: bool = True,
    notebooks: bool = True,
    state_changes: bool = True,
) -> types.InitializeResult:
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(
                progress=progress, notebooks=notebooks, state_changes=state_changes
            ),
            root_uri=root.as_uri(),
            initialization_options=options,
        )
    )


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def run_in_terminal(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``sessions run`` as a separate process, as a user would in a terminal."""
    return cli("run", str(path), "-q", *args)


def write_notebook(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def open_text(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=version,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri


def change_text(
    client: LanguageClient, uri: str, version: int, line: int, start: int, end: int, text: str
) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, start), types.Position(line, end)),
                    text=text,
                )
            ],
        )
    )


def codes_by_line(client: LanguageClient, uri: str) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for diagnostic in client.diagnostics.get(uri, []):
        found.setdefault(diagnostic.range.start.line, set()).add(str(diagnostic.code))
    return found


async def command(client: LanguageClient, name: str, argument: dict[str, Any]) -> Any:
    return plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[argument])
        )
    )


def latest_state(client: LanguageClient, uri: str) -> dict[str, Any] | None:
    for params in reversed(recorded(client).state):
        if params.get("uri") == uri:
            return params
    return None


def statuses(client: LanguageClient, uri: str) -> list[str] | None:
    state = latest_state(client, uri)
    return [c["status"] for c in state["cells"]] if state else None
