"""``view_cells``: the first notebook-view cell that is not the file's cell at
the same position, on real notebooks opened as the VS Code extension opens
them, and what the user is told about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.format.notebook import parse
from sessions.lsp.documents import CellDoc, NotebookDoc
from sessions.lsp.notebook_json import parse_payload
from sessions.lsp.view_cells import command_refused, first_unmatched, unmatched
from tests.lsp.test_documents import REAL_NOTEBOOKS, notebook_doc


def _opened(text: str) -> NotebookDoc:
    return notebook_doc(parse_payload(text))


def _typed(doc: NotebookDoc, position: int, text: str) -> NotebookDoc:
    """``doc`` with ``text`` typed at the end of the cell at ``position``."""
    cells = list(doc.cells)
    old = cells[position]
    cells[position] = CellDoc(old.uri, old.kind, old.text + text, old.version + 1, old.metadata)
    return NotebookDoc(doc.version + 1, doc.metadata, cells)


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
def test_an_opened_real_notebook_has_every_view_cell_in_its_place(path: Path) -> None:
    doc = _opened(path.read_text(encoding="utf-8"))
    assert first_unmatched(doc, parse(doc.text())) is None
    assert unmatched(doc, parse(doc.text())) is None


TEXT = "# %%\na = 1\n\n# %%\nb = a + 1\n\n# %%\nc = b + 1\n"


def test_a_string_left_open_is_found_on_its_cell_and_line() -> None:
    doc = _typed(_opened(TEXT), 1, '\ndoc = """never closed')
    notebook = parse(doc.text())
    assert len(notebook.cells) == 2  # the string took in the last cell
    found = unmatched(doc, notebook)
    assert found is not None
    assert (found.position, found.line) == (1, 1)
    assert "triple-quoted string" in found.message
    refused = command_refused("sessions.run", found)
    assert refused.startswith("sessions.run: cell 2 of the notebook view (index 1), line 2: ")


def test_a_typed_marker_is_found_on_its_line() -> None:
    doc = _typed(_opened(TEXT), 0, "\n# %% typed")
    notebook = parse(doc.text())
    assert len(notebook.cells) == 4  # the file has a cell more
    found = unmatched(doc, notebook)
    assert found is not None
    assert (found.position, found.line) == (0, 1)
    assert "cell marker" in found.message


def test_closing_the_string_puts_every_cell_back() -> None:
    doc = _typed(_typed(_opened(TEXT), 1, '\ndoc = """never closed'), 1, '\n"""')
    assert first_unmatched(doc, parse(doc.text())) is None


def test_a_view_cell_the_file_does_not_have_is_unmatched() -> None:
    """Same count, different cells (the file text changed under the view): the
    first differing position, with the generic message."""
    doc = _opened(TEXT)
    notebook = parse(TEXT.replace("b = a + 1", "b = a + 2"))
    found = unmatched(doc, notebook)
    assert found is not None
    assert (found.position, found.line) == (1, 0)
    assert "does not read back as one cell" in found.message
