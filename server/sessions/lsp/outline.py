"""``documentSymbol`` (one symbol per cell) and ``foldingRange`` (one range per cell)."""

from __future__ import annotations

from lsprotocol import types

from sessions.format.markers import split_lines
from sessions.format.notebook import Cell, ParsedNotebook


def last_content_line(cell: Cell) -> int:
    """Last file line of the cell's header and body (its trailing blank lines left out)."""
    content = cell.raw[: len(cell.raw) - len(cell.separator)]
    return max(cell.start_line, cell.start_line + len(split_lines(content)) - 1)


def _line_length(cell: Cell, line: int) -> int:
    lines = split_lines(cell.raw)
    offset = line - cell.start_line
    return len(lines[offset].rstrip("\r\n")) if 0 <= offset < len(lines) else 0


def document_symbols(notebook: ParsedNotebook) -> list[types.DocumentSymbol]:
    symbols: list[types.DocumentSymbol] = []
    for index, cell in enumerate(notebook.cells):
        last = last_content_line(cell)
        name = cell.display_name() or f"Cell {index}"
        kind = types.SymbolKind.Module if cell.kind == "code" else types.SymbolKind.String
        symbols.append(
            types.DocumentSymbol(
                name=name,
                detail=f"cell {index} · {cell.kind}",
                kind=kind,
                range=types.Range(
                    types.Position(cell.start_line, 0),
                    types.Position(last, _line_length(cell, last)),
                ),
                selection_range=types.Range(
                    types.Position(cell.start_line, 0),
                    types.Position(cell.start_line, _line_length(cell, cell.start_line)),
                ),
            )
        )
    return symbols


def folding_ranges(notebook: ParsedNotebook) -> list[types.FoldingRange]:
    ranges: list[types.FoldingRange] = []
    for cell in notebook.cells:
        last = last_content_line(cell)
        if last > cell.start_line:
            ranges.append(
                types.FoldingRange(
                    start_line=cell.start_line,
                    end_line=last,
                    kind=types.FoldingRangeKind.Region,
                )
            )
    return ranges
