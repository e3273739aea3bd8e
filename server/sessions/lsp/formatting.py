"""``textDocument/formatting`` and ``rangeFormatting``: ruff per code cell, as TextEdits.

Only cells whose text changed get an edit (the whole cell's text), so
markers, markdown and magics stay untouched. ``format_notebook`` runs ruff
in a subprocess: call these functions from a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from sessions.format.notebook import ParsedNotebook, parse
from sessions.formatting import FormatterUnavailable, format_notebook
from sessions.lsp.documents import has_cell_marker
from sessions.lsp.errors import failed
from sessions.lsp.positions import LineIndex, to_client_column
from sessions.lsp.view_cells import cell_matches

if TYPE_CHECKING:
    from sessions.lsp.workspace import NotebookWorkspace


def _cell_offsets(notebook: ParsedNotebook) -> list[tuple[int, int]]:
    """(start, end) text offset of each cell, BOM, YAML header and blank prefix before them."""
    offset = (1 if notebook.bom else 0) + len(notebook.header) + len(notebook.prefix)
    spans: list[tuple[int, int]] = []
    for cell in notebook.cells:
        spans.append((offset, offset + len(cell.raw)))
        offset += len(cell.raw)
    return spans


def _position(index: LineIndex, offset: int, encoding: str) -> types.Position:
    line, col = index.position(offset)
    return types.Position(line, to_client_column(index.line_text(line), col, encoding))


def cells_in_lines(notebook: ParsedNotebook, first: int, last: int) -> list[int]:
    """Cells that overlap file lines ``first``..``last`` (inclusive)."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.start_line <= last and max(cell.end_line, cell.start_line + 1) > first
    ]


def format_edits(
    text: str, path: Path | None, encoding: str, cells: list[int] | None = None
) -> list[types.TextEdit]:
    """One TextEdit per changed cell (all code cells, or those in ``cells``)."""
    notebook = parse(text)
    result = format_notebook(notebook, path=path, cells=cells)
    if not result.changed:
        return []
    index = LineIndex(text)
    spans = _cell_offsets(notebook)
    edits: list[types.TextEdit] = []
    for changed in result.changed:
        start, end = spans[changed]
        edits.append(
            types.TextEdit(
                range=types.Range(
                    _position(index, start, encoding), _position(index, end, encoding)
                ),
                new_text=result.notebook.cells[changed].raw,
            )
        )
    return edits


def format_cell_source(text: str, path: Path | None, cell: int) -> str | None:
    """The formatted source of one cell (for notebook cell documents); None if unchanged."""
    notebook = parse(text)
    result = format_notebook(notebook, path=path, cells=[cell])
    if cell not in result.changed:
        return None
    return result.notebook.cells[cell].source


async def formatting_edits(
    workspace: NotebookWorkspace,
    uri: str,
    lines: tuple[int, int] | None,
    cell_text: Callable[[str], str],
) -> list[types.TextEdit] | None:
    """The edits that format document ``uri``: the ``.py`` text (the cells in
    ``lines``, or all) or one notebook cell, whose current text is ``cell_text(uri)``."""
    owner = workspace.documents.cell_owner(uri)
    notebook_uri = owner[0] if owner is not None else uri
    state = workspace.state_for(notebook_uri)
    if state is None or state.text is None or not has_cell_marker(state.text):
        return None
    text = state.text
    encoding = workspace.client.encoding()
    try:
        if owner is not None:
            view = workspace.documents.notebooks.get(owner[0])
            in_file = (await asyncio.to_thread(parse, text)).cells
            if (
                view is None
                or owner[1] >= len(in_file)
                or not cell_matches(view.cells[owner[1]], in_file[owner[1]])
            ):
                # The file's cell at this place is another (a string left open
                # above, view_cells.py): its code must not replace this cell's.
                return []
            source = await asyncio.to_thread(format_cell_source, text, state.path, owner[1])
            if source is None:
                return []
            cell = LineIndex(cell_text(uri))
            last = len(cell.starts) - 1
            last_line = cell.line_text(last)
            end_column = to_client_column(last_line, len(last_line), encoding)
            return [
                types.TextEdit(
                    range=types.Range(types.Position(0, 0), types.Position(last, end_column)),
                    new_text=source,
                )
            ]
        cells = None
        if lines is not None:
            cells = cells_in_lines(parse(text), lines[0], lines[1])
        return await asyncio.to_thread(format_edits, text, state.path, encoding, cells)
    except FormatterUnavailable as exc:
        raise failed(str(exc)) from exc
