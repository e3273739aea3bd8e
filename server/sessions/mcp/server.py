"""``sessions mcp``: notebooks as MCP tools for AI agents, over stdio (docs/agents.md).

Built on the Python API (:mod:`sessions.api.notebook`): every edit goes through the
file, so editors watching it see the change; cells are addressed by 0-based
index or by a unique text anchor, never by invented ids. One
:class:`~sessions.api.notebook.AsyncNotebook` (one kernel) per notebook stays alive
across tool calls and is shut down when the client disconnects.

Tool results are compact JSON an LLM can read; anticipated failures are MCP
tool errors whose message says how to fix the call.
"""

# No ``from __future__ import annotations``: the MCP SDK reads the tool
# signatures at runtime to build their JSON schemas.

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from sessions._version import __version__
from sessions.api.notebook import ConcurrentEditError, NotebookDocument
from sessions.api.views import outputs_text
from sessions.format.anchors import CellAddressError
from sessions.format.edits import EditError
from sessions.format.files import NotebookReadError
from sessions.kernel.errors import KernelError, KernelSetupError
from sessions.mcp.payloads import OUTPUT_LIMIT, cell_row, cells_payload, run_payload, to_json
from sessions.mcp.pool import NotebookPool, shared_sessions
from sessions.run.parameters import ParameterError
from sessions.run.plan import PlanError
from sessions.workspace_scope import OutsideScopeError, real_path

INSTRUCTIONS = """\
Sessions notebooks are plain .py files with `# %%` cell markers; outputs are cached in
NAME.sessions.toml. Address a cell by its 0-based index (preamble and markdown cells
count) or by an anchor: exact text that only that cell contains. Never invent ids.
Write one idea per cell and prose in markdown cells. After editing, run mode "stale"
(only what changed and what depends on it), then read outputs, and call `check` before
finishing. Several edits: use `edit_cells` (one file write), then one run."""

CellArg = Annotated[
    int | str,
    Field(
        description="0-based cell index, or an anchor: text (of the source or title) that "
        "exactly one cell contains"
    ),
]
NotebookArg = Annotated[
    str,
    Field(
        description="path of the notebook .py file, relative to the server's folder (paths "
        "that lead outside it are refused)"
    ),
]
ToolFunction = TypeVar("ToolFunction", bound=Callable[..., Awaitable[str]])

# What each tool does to the user's environment (MCP tool annotations), so a
# client can ask before it lets an agent change files or run code. The
# "world" of the file tools is the root folder; code that runs reaches
# anything the user can.
READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
ADDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
CREATES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
REPLACES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
REWRITES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
EXECUTES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
STOPS = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


class EditOp(BaseModel):
    """One edit of a batch; cells are addressed as the previous edits left the notebook."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["set_source", "insert", "delete", "move"]
    cell: int | str | None = Field(
        None, description="set_source, delete, move: the cell (index or anchor)"
    )
    source: str | None = Field(None, description="set_source, insert: the new source")
    before: int | str | None = Field(
        None, description="insert: put the new cell before this cell (or index = cell count)"
    )
    after: int | str | None = Field(None, description="insert: put the new cell after this cell")
    to: int | str | None = Field(
        None, description="move: the cell whose current place it takes (index or anchor)"
    )
    kind: Literal["code", "markdown", "raw"] | None = Field(None, description="insert: cell kind")
    title: str | None = Field(None, description="insert: title shown after `# %%`")


class FixableErrors:
    """Turn the engine's errors into tool errors whose message says what to do."""

    def __init__(self, pool: NotebookPool) -> None:
        self.pool = pool

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or isinstance(exc, ToolError):
            return
        if isinstance(exc, OutsideScopeError):
            raise ToolError(str(exc)) from exc
        if isinstance(
            exc, CellAddressError | EditError | PlanError | ParameterError | ConcurrentEditError
        ):
            raise ToolError(str(exc)) from exc
        if isinstance(exc, NotebookReadError):
            raise ToolError(
                f"{exc}. Paths are relative to {self.pool.root}; `list_notebooks` shows the "
                "notebooks there, and `create_notebook` starts a new one."
            ) from exc
        if isinstance(exc, KernelSetupError):
            fix = f" Fix: {exc.fix}" if exc.fix else ""
            raise ToolError(f"the kernel cannot start: {exc.message}{fix}") from exc
        if isinstance(exc, KernelError):
            raise ToolError(f"kernel problem: {exc}. `restart` starts a new kernel.") from exc
        if isinstance(exc, OSError | ValueError):
            raise ToolError(str(exc)) from exc


def build_server(pool: NotebookPool) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(
        "sessions", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    def tool(
        description: str, annotations: ToolAnnotations
    ) -> Callable[[ToolFunction], ToolFunction]:
        return server.tool(
            description=description, annotations=annotations, structured_output=False
        )

    @tool(
        "List notebooks (.py files with `# %%` cells) in a folder, relative to the server's "
        "folder. Hidden folders, virtualenvs and node_modules are skipped; links that lead "
        "outside the folder the server serves are refused.",
        READS,
    )
    async def list_notebooks(folder: str = ".", recursive: bool = True) -> str:
        with FixableErrors(pool):
            base = pool.scope.folder(folder)
            found, refused = pool.scope.notebooks(base, recursive=recursive)
            payload: dict[str, Any] = {
                "folder": pool.display(base),
                "notebooks": [pool.display(p) for p in found],
            }
            if refused:
                payload["refused"] = [
                    {"path": pool.display(path), "why": why} for path, why in refused
                ]
            return to_json(payload)

    @tool(
        "List live kernel sessions: those this server runs (one per notebook it has run) and, "
        "when the session registry is available, every kernel the user has running (editors, "
        "terminals, `sessions start`) on notebooks inside the server's folder.",
        READS,
    )
    async def list_sessions() -> str:
        with FixableErrors(pool):
            payload: dict[str, Any] = {"this_server": pool.live()}
            try:
                shared = shared_sessions()
            except Exception as exc:  # the registry is optional: report, don't fail
                shared = None
                payload["registry_error"] = f"{type(exc).__name__}: {exc}"
            # Kernels of notebooks outside the root are none of this client's
            # business: not even their paths are shown.
            inside = []
            for entry in shared or []:
                notebook = real_path(Path(str(entry.get("notebook") or "/")))
                if pool.scope.contains(notebook):
                    inside.append({**entry, "notebook": pool.display(notebook)})
            if shared is not None and len(inside) < len(shared):
                payload["outside_root"] = len(shared) - len(inside)
            payload["shared"] = inside
            if shared is None:
                payload["note"] = "no session registry: kernels are not shared between clients"
            return to_json(payload)

    @tool(
        "Create a new, empty notebook file (refused if the file exists). Then add cells with "
        "`insert_cell` or `edit_cells`. The folder must exist inside the server's folder.",
        CREATES,
    )
    async def create_notebook(notebook: NotebookArg) -> str:
        with FixableErrors(pool):
            path = pool.scope.new_notebook(notebook)
            NotebookDocument.create(path)
            return to_json({"notebook": pool.display(path), "cells": []})

    @tool(
        "The cells of a notebook: index, kind, title, first line, status (fresh, edited, "
        "upstream, never-run, error) with the reason, names defined and used, a one-line "
        "output summary.",
        READS,
    )
    async def get_cells(notebook: NotebookArg) -> str:
        with FixableErrors(pool):
            return to_json(cells_payload(pool, pool.get(notebook)))

    @tool("One cell in full: source, status, defines/uses and its outputs as text.", READS)
    async def get_cell(notebook: NotebookArg, cell: CellArg) -> str:
        with FixableErrors(pool):
            view = pool.get(notebook).cell(cell)
            row = cell_row(view)
            row.pop("first_line", None)
            row.pop("output", None)
            row["source"] = view.source
            row["outputs"] = outputs_text(view.outputs, OUTPUT_LIMIT)
            return to_json(row)

    @tool(
        "Replace a cell's source (markdown cells: the text without `# `). Written to the "
        "file; only that cell's bytes change. The cell becomes stale; run mode stale after.",
        REPLACES,
    )
    async def set_source(notebook: NotebookArg, cell: CellArg, source: str) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            index = nb.set_source(cell, source)
            return to_json({"changed": index, **cells_payload(pool, nb)})

    @tool(
        "Insert a new cell before or after a cell (index or anchor), or at the end when "
        "neither is given. kind: code, markdown or raw.",
        ADDS,
    )
    async def insert_cell(
        notebook: NotebookArg,
        source: str,
        before: CellArg | None = None,
        after: CellArg | None = None,
        kind: Literal["code", "markdown", "raw"] = "code",
        title: str = "",
    ) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            if before is not None and after is not None:
                raise ToolError("give `before` or `after`, not both")
            if after is not None:
                index = nb.insert(after, source, kind=kind, title=title, after=True)
            elif before is not None:
                index = nb.insert(before, source, kind=kind, title=title)
            else:
                index = nb.append(source, kind=kind, title=title)
            return to_json({"inserted": index, **cells_payload(pool, nb)})

    @tool("Delete one cell (index or anchor).", REWRITES)
    async def delete_cell(notebook: NotebookArg, cell: CellArg) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            nb.delete(cell)
            return to_json(cells_payload(pool, nb))

    @tool("Move a cell so that it takes the current place of `to` (an index or anchor).", REWRITES)
    async def move_cell(notebook: NotebookArg, cell: CellArg, to: CellArg) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            index = nb.move(cell, to)
            return to_json({"moved_to": index, **cells_payload(pool, nb)})

    @tool(
        "Apply several edits with one file write (all or nothing), optionally followed by "
        "one run of the stale cells. Each edit addresses cells as the previous edits left "
        'the notebook, so prefer anchors. Ops: {"op": "set_source", "cell", "source"}, '
        '{"op": "insert", "source", "before" | "after", "kind", "title"}, '
        '{"op": "delete", "cell"}, {"op": "move", "cell", "to"}. With run_stale, the run '
        "executes code as `run` does.",
        EXECUTES,
    )
    async def edit_cells(
        notebook: NotebookArg, edits: list[EditOp], run_stale: bool = False
    ) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            nb.edit_batch([edit.model_dump(exclude_none=True) for edit in edits])
            if run_stale:
                summary = await nb.run("stale")
                return to_json({"edited": len(edits), "run": run_payload(pool, nb, summary)})
            return to_json({"edited": len(edits), **cells_payload(pool, nb)})

    @tool(
        "Run cells on the notebook's kernel (started on first use, kept across calls). "
        "mode: stale (default: every non-fresh cell and what it needs), cell (the given "
        "cells after their stale upstream), all, above, below, downstream. `timeout` "
        "interrupts a cell running longer than that many seconds. `parameters` "
        "({name: value}) are injected after the cell tagged parameters (papermill's "
        "convention); they stay in effect until others are given ({} restores the "
        "defaults), and the cells that depend on them run again. Returns each cell's "
        "status and output text. The code runs with the rights of the user who started the "
        "server: it can read, write and reach whatever that user can.",
        EXECUTES,
    )
    async def run(
        notebook: NotebookArg,
        mode: Literal["stale", "cell", "all", "above", "below", "downstream"] = "stale",
        cells: list[int | str] | None = None,
        timeout: float | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            summary = await nb.run(mode, cells or (), timeout=timeout, parameters=parameters)
            return to_json(run_payload(pool, nb, summary))

    @tool("The cached outputs of one cell as text (images noted, not encoded).", READS)
    async def get_outputs(notebook: NotebookArg, cell: CellArg) -> str:
        with FixableErrors(pool):
            view = pool.get(notebook).cell(cell)
            return to_json(
                {
                    "index": view.index,
                    "status": view.status,
                    "outputs": outputs_text(view.outputs, OUTPUT_LIMIT),
                }
            )

    @tool(
        "Interrupt the running cell of a notebook's kernel; the rest of that run is skipped.",
        STOPS,
    )
    async def interrupt(notebook: NotebookArg) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            await nb.interrupt()
            return to_json({"interrupted": nb.kernel_started})

    @tool(
        "Restart a notebook's kernel: variables are lost, cached outputs stay; the next run "
        "re-runs what the cells need.",
        STOPS,
    )
    async def restart(notebook: NotebookArg) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            await nb.restart()
            return to_json({"restarted": nb.kernel_started})

    @tool(
        "Diagnostics of a notebook (syntax errors, undefined names, cycles, stale cells) "
        "with 1-based line numbers. Call before finishing; `errors` must be 0.",
        READS,
    )
    async def check(notebook: NotebookArg) -> str:
        with FixableErrors(pool):
            nb = pool.get(notebook)
            diagnostics = nb.check()
            return to_json(
                {
                    "notebook": pool.display(nb.path),
                    "errors": sum(1 for d in diagnostics if d.severity == "error"),
                    "diagnostics": [
                        {
                            "cell": d.cell,
                            "line": d.line + 1,
                            "severity": d.severity,
                            "code": d.code,
                            "message": d.message,
                        }
                        for d in diagnostics
                    ],
                }
            )

    return server


async def serve(root: Path, python: str | None = None) -> None:
    """Serve MCP over stdin/stdout until the client disconnects; then stop every kernel."""
    pool = NotebookPool(root, python)
    try:
        await build_server(pool).run_stdio_async()
    finally:
        await pool.close()
