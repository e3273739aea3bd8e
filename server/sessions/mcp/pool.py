"""The notebooks an MCP server has open (one kernel each), and the user's shared sessions.

Every path a tool names is checked by :class:`~sessions.workspace_scope.WorkspaceScope`
before a notebook is opened; notebooks stay open across tool calls and are
closed when the client disconnects.
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from typing import Any

from sessions.api.notebook import AsyncNotebook
from sessions.workspace_scope import WorkspaceScope


class NotebookPool:
    """The notebooks this server has touched, one kernel each, keyed by real path.

    Every path a tool names goes through :class:`WorkspaceScope` first: only
    regular ``.py`` files inside the root, symbolic links resolved. The
    notebook is opened at its resolved path, so edits and the output cache
    land on the file that was checked, never through a link.
    """

    def __init__(self, root: Path, python: str | None = None) -> None:
        self.scope = WorkspaceScope.at(root)
        self.root = self.scope.root
        self.python = python
        self._open: dict[Path, AsyncNotebook] = {}

    def get(self, notebook: str) -> AsyncNotebook:
        # Checked on every call, not only on first open: a link may have been
        # re-pointed, or the file replaced by a link, since.
        path = self.scope.notebook(notebook)
        found = self._open.get(path)
        if found is None:
            found = AsyncNotebook.open(path, python=self.python, workspace_root=self.root)
            self._open[path] = found
        return found

    def live(self) -> list[dict[str, Any]]:
        return [
            {
                "notebook": self.display(path),
                "kernel": nb.runner.kernel.state if nb.runner.kernel is not None else "idle",
                "python": nb.runner.kernel.python if nb.runner.kernel is not None else "",
                "busy": nb.busy,
            }
            for path, nb in self._open.items()
            if nb.kernel_started
        ]

    def display(self, path: Path) -> str:
        return self.scope.display(path)

    async def close(self) -> None:
        notebooks, self._open = list(self._open.values()), {}
        for notebook in notebooks:
            with contextlib.suppress(Exception):
                await notebook.close()


def shared_sessions() -> list[dict[str, Any]] | None:
    """Live kernels of the user's session registry, or ``None`` when there is none."""
    try:
        registry = importlib.import_module("sessions.kernel.registry")
    except ImportError:
        return None
    shown = ("key", "name", "notebook", "state", "python", "started", "last_activity")
    entries = registry.Registry().entries()
    return [{k: v for k, v in entry.to_json().items() if k in shown} for entry in entries]
