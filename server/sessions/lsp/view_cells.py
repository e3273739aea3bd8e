"""Whether the notebook view's cells are the ``.py`` file's cells, position by position.

The notebook view addresses cells by position: diagnostics, statuses, runs,
cleared outputs and formatting all go to "cell N". The file the view's cells
make is read back by its markers, and two kinds of cell text change how it
reads: a triple-quoted string left open (the file reads the cells below as
part of it) and a line that reads as a marker (the file has a cell more
there). Until the user fixes that cell, cell N of the view is not cell N of
the file, and nothing may be done to one for the other: here the first such
cell is found, and what to tell the user about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sessions.format.markers import cell_break, split_lines
from sessions.format.notebook import Cell, ParsedNotebook
from sessions.lsp.documents import CellDoc, NotebookDoc

CELL_BOUNDARY = "cell-boundary"
"""The diagnostic code on the view cell that makes the file read differently."""


def _shown(text: str) -> str:
    # The file keeps its own line endings and trailing blank lines (a cell's
    # last blank lines are its separator): neither makes another cell.
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def cell_matches(view_cell: CellDoc, cell: Cell) -> bool:
    """Whether the file's ``cell`` holds what the view's cell shows."""
    return _shown(cell.source) == _shown(view_cell.text)


def first_unmatched(view: NotebookDoc, notebook: ParsedNotebook) -> int | None:
    """The first position where the view's cell is not the file's, or None
    when every cell is (O(cells): for commands, and for a keystroke only when
    the counts already differ)."""
    cells = notebook.cells
    for position, view_cell in enumerate(view.cells):
        if position >= len(cells) or not cell_matches(view_cell, cells[position]):
            return position
    return None if len(cells) == len(view.cells) else len(view.cells) - 1


@dataclass(frozen=True)
class Unmatched:
    """The view cell that makes the file read differently, and why."""

    position: int
    line: int
    """0-based line in the cell's text: the marker, or where the open string starts."""
    message: str


def unmatched(view: NotebookDoc, notebook: ParsedNotebook) -> Unmatched | None:
    """Why the view's cells are not the file's, on the first cell where they differ."""
    position = first_unmatched(view, notebook)
    if position is None or not view.cells:
        return None
    found = cell_break(split_lines(view.cells[position].text))
    if found is None:
        return Unmatched(
            position,
            0,
            "This cell does not read back as one cell of the .py file, so the notebook "
            "view's cells are not the file's from here on. Until it does, Sessions shows "
            "no statuses or diagnostics for this notebook and runs no cell.",
        )
    line, kind = found
    if kind == "string":
        return Unmatched(
            position,
            line,
            "This cell leaves a triple-quoted string open (from this line): in the .py "
            "file it takes in the cells below it, so the notebook view's cells are not "
            "the file's. Close the string; until then Sessions shows no statuses or "
            "diagnostics for this notebook and runs no cell.",
        )
    return Unmatched(
        position,
        line,
        "This line reads as a cell marker (`# %%`) in the .py file, which starts a new "
        "cell there, so the notebook view's cells are not the file's. Change the line "
        "(or split the cell here); until then Sessions shows no statuses or diagnostics "
        "for this notebook and runs no cell.",
    )


def command_refused(command: str, found: Unmatched) -> str:
    """A command's error for a notebook whose cells do not read back as the view's."""
    return (
        f"{command}: cell {found.position + 1} of the notebook view (index {found.position}), "
        f"line {found.line + 1}: {found.message}"
    )
