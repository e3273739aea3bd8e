"""Addressing a cell by its 0-based index or by a unique text anchor (DESIGN §2).

Agents and scripts name cells the way they see them: a position, or a piece
of text they just read. Nothing invents ids. An anchor is a substring of a
cell's source, title or file text; it must match exactly one cell, otherwise
the error lists the candidates with their indexes so the caller can pick a
longer anchor or the index. A string of digits is read as an index (clients
that send every argument as a string should still address cell 3 as "3").
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessions.format.notebook import Cell, ParsedNotebook

CellRef = int | str
"""A 0-based cell index, or a text anchor that matches exactly one cell."""

_LISTED = 12
"""At most this many cells are named in an error message, to keep it readable."""


class CellAddressError(LookupError):
    """A cell reference that names no cell or several; the message says how to fix it."""


class NoSuchCell(CellAddressError):
    pass


class AmbiguousAnchor(CellAddressError):
    def __init__(self, message: str, candidates: Sequence[int]) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


def describe_cell(notebook: ParsedNotebook, index: int) -> str:
    """``3 "Load data" (line 12)``: how an error message names a cell."""
    cell = notebook.cells[index]
    label = "preamble" if cell.is_preamble else cell.display_name(50) or "(empty)"
    kind = "" if cell.kind == "code" else f"[{cell.kind}] "
    return f'{index} {kind}"{label}" (line {cell.start_line + 1})'


def _listing(notebook: ParsedNotebook, indexes: Sequence[int]) -> str:
    shown = [describe_cell(notebook, i) for i in indexes[:_LISTED]]
    more = len(indexes) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _index_error(notebook: ParsedNotebook, index: int) -> NoSuchCell:
    count = len(notebook.cells)
    if count == 0:
        return NoSuchCell(f"no cell {index}: the notebook has no cells yet; insert one first")
    return NoSuchCell(
        f"no cell {index}: the notebook has {count} cells, 0-based indexes 0–{count - 1}"
    )


def _as_index(ref: CellRef) -> int | None:
    if isinstance(ref, bool):
        raise NoSuchCell(f"{ref!r} is not a cell reference; use a 0-based index or a text anchor")
    if isinstance(ref, int):
        return ref
    text = ref.strip()
    if text.isdigit():
        return int(text)
    return None


def _matches(cell: Cell, anchor: str) -> bool:
    return anchor in cell.source or anchor in cell.title or anchor in cell.raw


def resolve_cell(notebook: ParsedNotebook, ref: CellRef) -> int:
    """The index of the one cell ``ref`` names; raises :class:`CellAddressError`.

    Among several cells containing the anchor, a cell whose title equals it
    exactly wins (``"load"`` names the cell titled ``load`` even when another
    cell's code mentions ``load``).
    """
    index = _as_index(ref)
    if index is not None:
        if not 0 <= index < len(notebook.cells):
            raise _index_error(notebook, index)
        return index
    anchor = str(ref)
    if not anchor.strip():
        raise NoSuchCell(
            "an empty anchor names no cell; use a 0-based index or some text of the cell"
        )
    found = [i for i, cell in enumerate(notebook.cells) if _matches(cell, anchor)]
    if len(found) == 1:
        return found[0]
    if not found:
        listing = _listing(notebook, range(len(notebook.cells))) or "none"
        raise NoSuchCell(
            f"no cell contains {anchor!r} (anchors are exact, case-sensitive text of a cell's "
            f"source or title). Cells: {listing}"
        )
    titled = [i for i in found if notebook.cells[i].title == anchor]
    if len(titled) == 1:
        return titled[0]
    raise AmbiguousAnchor(
        f"anchor {anchor!r} matches {len(found)} cells: {_listing(notebook, found)}. "
        "Use a longer anchor that only one cell contains, or the cell's index.",
        found,
    )


def resolve_position(notebook: ParsedNotebook, ref: CellRef) -> int:
    """Like :func:`resolve_cell`, but an index may also be ``len(notebook)``: the end."""
    index = _as_index(ref)
    if index is not None and index == len(notebook.cells):
        return index
    return resolve_cell(notebook, ref)
