"""``textDocument/formatting`` and ``rangeFormatting``: ruff per code cell, as TextEdits.

Only cells whose text changed get an edit (the whole cell's text), so
markers, markdown and magics stay untouched. ``format_notebook`` runs ruff
in a subprocess: call these functions from a worker thread.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from sessions.format.notebook import Notebook, parse
from sessions.formatting import format_notebook
from sessions.lsp.positions import LineIndex, to_client_column


def _cell_offsets(notebook: Notebook) -> list[tuple[int, int]]:
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


def cells_in_lines(notebook: Notebook, first: int, last: int) -> list[int]:
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
