"""``hover`` on a name: which cell defines it, and whether that cell is stale.

:func:`hover_at` maps the client's position (a line of the ``.py`` text or
of a notebook cell, a column in the negotiated encoding) to the file and
answers from the latest snapshot, or at once from the last one when the
hovered line is unchanged by the edit being analysed; :func:`hover_text` is
the pure part.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from sessions.analysis.snapshot import Snapshot
from sessions.lsp.positions import from_client_column
from sessions.lsp.positions import line_text as snapshot_line_text
from sessions.lsp.view_cells import cell_matches

if TYPE_CHECKING:
    from sessions.lsp.workspace import NotebookWorkspace

_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def word_at(line: str, column: int) -> str | None:
    for match in _IDENTIFIER.finditer(line):
        if match.start() <= column <= match.end():
            return match.group()
    return None


def _cell_label(snapshot: Snapshot, index: int) -> str:
    name = snapshot.notebook.cells[index].display_name(40)
    return f"cell {index}" + (f" “{name}”" if name else "")


def hover_text(snapshot: Snapshot, line: int, column: int, line_text: str) -> str | None:
    """Markdown for a hover at a file position; None when there is nothing to say."""
    cell = snapshot.notebook.cell_at_line(line)
    name = word_at(line_text, column)
    if cell is None or name is None:
        return None
    analysis = snapshot.graph.analyses[cell]
    if analysis is not None and name in analysis.defines:
        provider: int | None = cell
    else:
        provider = snapshot.graph.providers[cell].get(name)
    if provider is None:
        definers = [
            i for i, a in enumerate(snapshot.graph.analyses) if a is not None and name in a.defines
        ]
        if not definers:
            return None
        provider = definers[0]
    state = snapshot.states[provider]
    where = "this cell" if provider == cell else _cell_label(snapshot, provider)
    text = f"`{name}` — defined in {where}"
    if state.status == "fresh":
        text += " (fresh)"
    else:
        text += f" — **{state.status}**: {state.reason}"
    return text


async def hover_at(
    workspace: NotebookWorkspace, uri: str, position: types.Position
) -> types.Hover | None:
    """The hover at ``position`` of document ``uri`` (the ``.py`` text or a cell)."""
    line = position.line
    owner = workspace.documents.cell_owner(uri)
    state = workspace.state_for(uri) if owner is None else None
    settled = state.settled_line(line) if state is not None else None
    if settled is not None:  # the hovered line is unchanged by the edit being analysed
        snapshot, line_text = settled
    else:
        if owner is not None:  # a notebook cell: map to the file
            uri = owner[0]
        found = await workspace.snapshot_for(uri)
        if found is None:
            return None
        state, snapshot = found
        if owner is not None:
            view = workspace.documents.notebooks.get(owner[0])
            if owner[1] >= len(snapshot.notebook.cells) or view is None:
                return None
            cell = snapshot.notebook.cells[owner[1]]
            if not cell_matches(view.cells[owner[1]], cell):
                return None  # not the file's cell at its place (view_cells.py)
            line += cell.body_line
        line_text = snapshot_line_text(state.snapshot_text or "", line)
    column = from_client_column(line_text, position.character, workspace.client.encoding())
    text = hover_text(snapshot, line, column, line_text)
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))
