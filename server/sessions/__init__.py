"""Sessions: reactive notebooks kept as plain ``.py`` files with ``# %%`` cells.

The pure core (format, analysis, staleness, sidecar cache) never imports pygls;
the language server lives in :mod:`sessions.lsp`.
"""

from typing import TYPE_CHECKING

from sessions._version import __version__

if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from sessions.api.notebook import AsyncNotebook, ConcurrentEditError, Notebook, NotebookDocument
    from sessions.api.views import CellView
    from sessions.bind import bind
    from sessions.format.anchors import AmbiguousAnchor, CellAddressError, CellRef, NoSuchCell
    from sessions.format.edits import Delete, EditError, Insert, Move, SetSource
    from sessions.format.files import NotebookReadError
    from sessions.run.runner import RunListener, RunSettings, RunSummary

# The Python API (docs/api.md), imported on first use so that ``import sessions``
# stays cheap for the CLI and the language server.
_API = {
    "Notebook": "sessions.api.notebook",
    "AsyncNotebook": "sessions.api.notebook",
    "NotebookDocument": "sessions.api.notebook",
    "ConcurrentEditError": "sessions.api.notebook",
    "CellView": "sessions.api.views",
    "CellRef": "sessions.format.anchors",
    "CellAddressError": "sessions.format.anchors",
    "AmbiguousAnchor": "sessions.format.anchors",
    "NoSuchCell": "sessions.format.anchors",
    "EditError": "sessions.format.edits",
    "SetSource": "sessions.format.edits",
    "Insert": "sessions.format.edits",
    "Delete": "sessions.format.edits",
    "Move": "sessions.format.edits",
    "RunSettings": "sessions.run.runner",
    "RunSummary": "sessions.run.runner",
    "RunListener": "sessions.run.runner",
    "NotebookReadError": "sessions.format.files",
    "bind": "sessions.bind",
}

__all__ = [
    "AmbiguousAnchor",
    "AsyncNotebook",
    "CellAddressError",
    "CellRef",
    "CellView",
    "ConcurrentEditError",
    "Delete",
    "EditError",
    "Insert",
    "Move",
    "NoSuchCell",
    "Notebook",
    "NotebookDocument",
    "NotebookReadError",
    "RunListener",
    "RunSettings",
    "RunSummary",
    "SetSource",
    "__version__",
    "bind",
]


def __getattr__(name: str) -> object:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'sessions' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
