"""``workspace/executeCommand``: ``sessions.run|interrupt|restart|clearOutputs|state|parse|serialize|widgets|export|graph``.

Each command takes one argument, an object (docs/protocol.md). Bad requests
become LSP error responses whose message says how to fix them.

The per-notebook commands run code and write output caches, so they act only
on a local ``file:`` URI that the client has open or that resolves (symbolic
links and ``..`` included) inside a workspace folder it declared; a URI from
anywhere else (a command link, another host) is refused before anything is
read. ``sessions.export`` writes only inside those folders or the notebook's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlparse

from sessions.analysis.graph_export import dependency_graph, graph_json
from sessions.cache.identity import match_records
from sessions.cache.records import SidecarData
from sessions.export.freshness import refusal
from sessions.export.writer import FORMATS, ExportError, NotFresh, export_notebook
from sessions.format.files import NotebookReadError
from sessions.kernel.errors import KernelError, KernelSetupError
from sessions.lsp.errors import failed, invalid
from sessions.lsp.notebook_json import PayloadError, parse_payload, serialize_payload
from sessions.lsp.state_payload import STATE_PAGE_BYTES, OutputsCursor, add_outputs_page, cells_json
from sessions.lsp.uris import LOCAL_HOSTS
from sessions.lsp.view_cells import command_refused, unmatched
from sessions.run.plan import RUN_MODES, PlanError
from sessions.workspace_scope import within

if TYPE_CHECKING:
    from sessions.analysis.snapshot import Snapshot
    from sessions.format.notebook import ParsedNotebook
    from sessions.lsp.notebook_state import NotebookState
    from sessions.lsp.workspace import NotebookWorkspace


def argument(args: Sequence[Any], command: str) -> Mapping[str, Any]:
    if len(args) != 1 or not isinstance(args[0], Mapping):
        raise invalid(
            f'{command} takes one argument, an object such as {{"uri": "file:///…/nb.py"}}'
        )
    return cast(Mapping[str, Any], args[0])


def _state(workspace: NotebookWorkspace, arg: Mapping[str, Any], command: str) -> NotebookState:
    uri = arg.get("uri")
    if not isinstance(uri, str) or not uri:
        raise invalid(f"{command}: `uri` (the notebook's file:// URI) is required")
    _require_in_workspace(workspace, uri, command)
    state = workspace.state_for(uri)
    if state is None:
        raise invalid(f"{command}: {uri!r} is not a file:// URI of a notebook .py file")
    return state


def _require_view_matches(
    workspace: NotebookWorkspace, state: NotebookState, command: str
) -> ParsedNotebook:
    """The notebook now; refused while the notebook view's cells are not the
    file's (a string left open, a marker typed in a cell): the view names
    cells by position, and cell N would be another cell of the file."""
    try:
        notebook = state.current_notebook()
    except NotebookReadError as exc:
        raise failed(str(exc)) from exc
    _check_view(workspace, state, notebook, command)
    return notebook


def _check_view(
    workspace: NotebookWorkspace, state: NotebookState, notebook: ParsedNotebook, command: str
) -> None:
    """Refuses ``command`` when the open notebook view's cells are not ``notebook``'s."""
    view = workspace.documents.notebooks.get(state.uri) if state.document == "notebook" else None
    if view is not None:
        found = unmatched(view, notebook)
        if found is not None:
            raise failed(command_refused(command, found))


async def _view_snapshot(
    workspace: NotebookWorkspace, state: NotebookState, command: str
) -> Snapshot:
    """The analysis now, for a command whose answer names cells by position:
    refused, like ``_require_view_matches``, while the view's cells are not
    the file's (the client would show cell N's statuses or graph node on
    another cell)."""
    try:
        snapshot = await state.current_snapshot()
    except NotebookReadError as exc:
        raise failed(str(exc)) from exc
    _check_view(workspace, state, snapshot.notebook, command)
    return snapshot


def _require_in_workspace(workspace: NotebookWorkspace, uri: str, command: str) -> None:
    """Refuse a notebook URI that is not local, or is neither open nor in the workspace."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise invalid(f"{command}: {uri!r} is not a file:// URI of a notebook .py file")
    if parsed.netloc.lower() not in LOCAL_HOSTS:
        raise invalid(
            f"{command}: {uri!r} names a file on host {parsed.netloc!r}; Sessions runs only "
            "local notebooks (file:///path or file://localhost/path)"
        )
    # What the client opened is what its user is looking at: allowed wherever it is.
    if workspace.documents.text_of(uri) is not None:
        return
    folders = workspace.client.declared_folders()
    if not folders:
        raise invalid(
            f"{command}: {uri!r} is not open in the editor, and the client declared no "
            "workspace folders; open the notebook first"
        )
    path = Path(unquote(parsed.path))
    if "\0" in str(path) or not path.is_absolute() or not within(path, folders):
        shown = ", ".join(str(folder) for folder in folders)
        raise invalid(
            f"{command}: {uri!r} is outside the workspace folders ({shown}), symbolic links "
            "resolved, and not open in the editor; open it, or add its folder to the workspace"
        )


def _cells(arg: Mapping[str, Any], command: str) -> list[int] | None:
    cells = arg.get("cells")
    if cells is None:
        return None
    if not isinstance(cells, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in cells
    ):
        raise invalid(f"{command}: `cells` must be a list of 0-based cell indexes")
    return list(cells)


def _summary_json(summary: Any) -> dict[str, Any]:
    return {
        "planned": list(summary.planned),
        "ran": [o.index for o in summary.outcomes],
        "restored": [r.index for r in summary.restored],
        "notes": list(summary.notes),
        "skipped": list(summary.skipped),
        "ok": bool(summary.ok),
        "stoppedBecause": summary.stopped_because,
    }


async def run(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    arg = argument(args, "sessions.run")
    state = _state(workspace, arg, "sessions.run")
    cells = _cells(arg, "sessions.run")
    line = arg.get("line")
    notebook = _require_view_matches(workspace, state, "sessions.run")
    if line is not None and not cells:
        if not isinstance(line, int) or isinstance(line, bool):
            raise invalid("sessions.run: `line` must be a 0-based line number")
        index = notebook.cell_at_line(line)
        if index is None:
            raise invalid(
                f"sessions.run: line {line} is not in the notebook (it has {notebook.line_count} lines)"
            )
        cells = [index]
    mode = arg.get("mode") or ("cell" if cells else "stale")
    if mode not in RUN_MODES:
        raise invalid(f"sessions.run: unknown mode {mode!r}; use one of {', '.join(RUN_MODES)}")
    run_upstream = arg.get("runUpstream")
    if run_upstream is not None and not isinstance(run_upstream, bool):
        raise invalid("sessions.run: `runUpstream` must be true or false")

    runner = state.runner
    settings = state.run_settings()
    runner.settings = (
        dataclasses.replace(settings, run_upstream=run_upstream)
        if run_upstream is not None
        else settings
    )
    progress = workspace.client.new_progress()
    listener = workspace.listener_for(state)
    listener.progress = progress
    await progress.begin("Sessions: running cells")
    try:
        summary = await runner.run(str(mode), cells or [])
    except PlanError as exc:
        raise invalid(f"sessions.run: {exc}") from exc
    except NotebookReadError as exc:
        raise failed(str(exc)) from exc
    except KernelSetupError as exc:
        state.setup_error = exc
        state.request_analysis()
        raise failed(str(exc)) from exc
    except KernelError as exc:
        raise failed(f"the kernel could not start: {exc}") from exc
    finally:
        listener.progress = None
        runner.settings = settings
        progress.end("done")
    if state.setup_error is not None:
        state.setup_error = None
        state.request_analysis()
    return _summary_json(summary)


async def interrupt(workspace: NotebookWorkspace, *args: Any) -> None:
    state = _state(workspace, argument(args, "sessions.interrupt"), "sessions.interrupt")
    await state.runner.interrupt()


async def restart(workspace: NotebookWorkspace, *args: Any) -> None:
    state = _state(workspace, argument(args, "sessions.restart"), "sessions.restart")
    try:
        await state.runner.restart()
    except KernelError as exc:
        raise failed(str(exc)) from exc
    state.request_analysis()


async def clear_outputs(workspace: NotebookWorkspace, *args: Any) -> None:
    arg = argument(args, "sessions.clearOutputs")
    cells = _cells(arg, "sessions.clearOutputs")
    state = _state(workspace, arg, "sessions.clearOutputs")
    notebook = _require_view_matches(workspace, state, "sessions.clearOutputs")
    for index in cells or []:
        if not 0 <= index < len(notebook.cells):
            raise invalid(
                f"sessions.clearOutputs: no cell {index}; the notebook has {len(notebook.cells)} cells (0-based)"
            )

    def change(data: SidecarData) -> None:
        if cells is None:
            data.cells = []
            return
        matched = match_records(data.cells, notebook.cells)
        dropped = {id(matched[i]) for i in cells if matched[i] is not None}
        data.cells = [record for record in data.cells if id(record) not in dropped]

    try:
        await asyncio.to_thread(state.runner.store.update, change)
    except OSError as exc:
        raise failed(f"cannot write {state.runner.store.path}: {exc}") from exc
    state.request_analysis()


def _outputs_page(arg: Mapping[str, Any]) -> tuple[OutputsCursor | None, int]:
    """``cursor`` and ``maxBytes`` of a ``sessions.state`` request (docs/protocol.md)."""
    cursor = None
    if arg.get("cursor") is not None:
        try:
            cursor = OutputsCursor.decode(arg["cursor"])
        except ValueError as exc:
            raise invalid(
                "sessions.state: `cursor` must be a `nextCursor` of an earlier reply"
            ) from exc
    max_bytes = arg.get("maxBytes", STATE_PAGE_BYTES)
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise invalid("sessions.state: `maxBytes` must be a positive integer")
    return cursor, min(max_bytes, STATE_PAGE_BYTES)


async def state_command(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    arg = argument(args, "sessions.state")
    state = _state(workspace, arg, "sessions.state")
    cursor, max_bytes = _outputs_page(arg)
    snapshot = await _view_snapshot(workspace, state, "sessions.state")
    cells = cells_json(
        snapshot,
        loaded=state.runner.loaded_cells(snapshot),
        running=state.running,
        outputs=False,
        restored=state.runner.restored_cells(snapshot),
    )
    following = add_outputs_page(cells, snapshot.records, cursor=cursor, max_bytes=max_bytes)
    return {
        "uri": state.uri,
        "version": state.snapshot_version if state.document is not None else None,
        "kernel": state.kernel_view().to_json(),
        "cells": cells,
        "nextCursor": following.encode() if following is not None else None,
    }


def parse(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    text = argument(args, "sessions.parse").get("text")
    if not isinstance(text, str):
        raise invalid("sessions.parse: `text` (the .py file's text) is required")
    return parse_payload(text)


def serialize(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    try:
        return {"text": serialize_payload(argument(args, "sessions.serialize"))}
    except PayloadError as exc:
        raise invalid(f"sessions.serialize: {exc}") from exc


def widgets(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    """``sessions.widgets {uri}``: every live widget model of the notebook's kernel."""
    arg = argument(args, "sessions.widgets")
    state = _state(workspace, arg, "sessions.widgets")
    if state.comm_bridge is None:
        return {"kernel": None, "state": {}}
    return state.comm_bridge.snapshot()


def _export_output(
    workspace: NotebookWorkspace, arg: Mapping[str, Any], notebook: Path
) -> Path | None:
    """``output`` of ``sessions.export``: an absolute path or ``file:`` URI inside
    the workspace folders or the notebook's folder (None: beside the notebook)."""
    output = arg.get("output")
    if output is None:
        return None
    if not isinstance(output, str) or not output:
        raise invalid("sessions.export: `output` must be a file:// URI or an absolute path")
    parsed = urlparse(output)
    if parsed.scheme == "file" and parsed.netloc.lower() in LOCAL_HOSTS:
        path = Path(unquote(parsed.path))
    elif parsed.scheme == "":
        path = Path(output)
    else:
        raise invalid(f"sessions.export: `output` {output!r} is not a local file:// URI or path")
    if "\0" in str(path) or not path.is_absolute():
        raise invalid(f"sessions.export: `output` {output!r} must be an absolute path")
    folders = [*workspace.client.declared_folders(), notebook.parent]
    if not within(path.parent, folders):
        raise invalid(
            f"sessions.export: {path} is outside the workspace folders and the notebook's "
            "folder; choose a file inside one of them"
        )
    return path


async def export(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    """``sessions.export {uri, to?, output?, force?, onlyFresh?}``: write the notebook as it is
    open (unsaved text included) with its cached outputs; nothing runs."""
    arg = argument(args, "sessions.export")
    state = _state(workspace, arg, "sessions.export")
    to = arg.get("to", "html")
    if to not in FORMATS:
        raise invalid(f"sessions.export: unknown `to` {to!r}; use one of {', '.join(FORMATS)}")
    flags = {name: arg.get(name, False) for name in ("force", "onlyFresh")}
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise invalid(f"sessions.export: `{name}` must be true or false")
    output = _export_output(workspace, arg, state.path)
    try:
        snapshot = await state.current_snapshot()
    except NotebookReadError as exc:
        raise failed(str(exc)) from exc
    try:
        written = await asyncio.to_thread(
            export_notebook,
            snapshot,
            str(to),
            output,
            force=flags["force"],
            only_fresh=flags["onlyFresh"],
        )
    except NotFresh as exc:
        raise failed(refusal(state.path.name, exc.cells)) from exc
    except ExportError as exc:
        raise failed(str(exc)) from exc
    return {
        "output": str(written.path),
        "files": [str(path) for path in written.files],
        "cells": written.cells,
        "withOutputs": written.with_outputs,
    }


async def graph(workspace: NotebookWorkspace, *args: Any) -> dict[str, Any]:
    """``sessions.graph {uri}``: the dependency graph of the notebook as it is
    open (unsaved text included), in the JSON shape of ``sessions graph``."""
    arg = argument(args, "sessions.graph")
    state = _state(workspace, arg, "sessions.graph")
    snapshot = await _view_snapshot(workspace, state, "sessions.graph")
    return {
        "uri": state.uri,
        "version": state.snapshot_version if state.document is not None else None,
        **graph_json(dependency_graph(snapshot, notebook=state.path.name)),
    }


COMMANDS = {
    "sessions.run": run,
    "sessions.interrupt": interrupt,
    "sessions.restart": restart,
    "sessions.clearOutputs": clear_outputs,
    "sessions.state": state_command,
    "sessions.parse": parse,
    "sessions.serialize": serialize,
    "sessions.widgets": widgets,
    "sessions.graph": graph,
    "sessions.export": export,
}
