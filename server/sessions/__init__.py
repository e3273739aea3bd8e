"""Sessions: reactive notebooks kept as plain ``.py`` files with ``# %%`` cells.

The pure core (format, analysis, staleness, sidecar cache) never imports pygls;
the language server lives in :mod:`sessions.lsp`.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from sessions.anchors import AmbiguousAnchor, CellAddressError, CellRef, NoSuchCell
    from sessions.api import AsyncNotebook, ConcurrentEditError, Notebook, NotebookDocument
    from sessions.edits import Delete, EditError, Insert, Move, SetSource
    from sessions.engine import NotebookReadError
    from sessions.runner import RunListener, RunSettings, RunSummary
    from sessions.views import CellView

# The Python API (docs/api.md), imported on first use so that ``import sessions``
# stays cheap for the CLI and the language server.
_API = {
    "Notebook": "sessions.api",
    "AsyncNotebook": "sessions.api",
    "NotebookDocument": "sessions.api",
    "ConcurrentEditError": "sessions.api",
    "CellView": "sessions.views",
    "CellRef": "sessions.anchors",
    "CellAddressError": "sessions.anchors",
    "AmbiguousAnchor": "sessions.anchors",
    "NoSuchCell": "sessions.anchors",
    "EditError": "sessions.edits",
    "SetSource": "sessions.edits",
    "Insert": "sessions.edits",
    "Delete": "sessions.edits",
    "Move": "sessions.edits",
    "RunSettings": "sessions.runner",
    "RunSummary": "sessions.runner",
    "RunListener": "sessions.runner",
    "NotebookReadError": "sessions.engine",
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
]


def __getattr__(name: str) -> object:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'sessions' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
