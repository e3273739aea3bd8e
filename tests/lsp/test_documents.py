"""Open notebook documents -> the file text: what each cell document keeps
between keystrokes (its checked payload, what serializing found out about it)
never changes the text. Each step's text is compared with the text of the
same cells made afresh, which share nothing with the steps before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.lsp.documents import CellDoc, Documents, NotebookDoc
from sessions.lsp.notebook_json import parse_payload

ROOT = Path(__file__).resolve().parents[2]
REAL_NOTEBOOKS = sorted(
    [*(ROOT / "bench" / "corpus").glob("*.py.txt"), *(ROOT / "tests" / "corpus").rglob("*.py")]
)


def notebook_doc(parsed: dict[str, Any]) -> NotebookDoc:
    """The notebook document the VS Code extension opens for ``parsed``."""
    cells = [
        CellDoc(
            f"cell{i}",
            "markdown" if cell["kind"] == "markdown" else "code",
            cell["source"],
            1,
            {k: v for k, v in cell.items() if k != "source"},
        )
        for i, cell in enumerate(parsed["cells"])
    ]
    metadata = {k: parsed[k] for k in ("bom", "newline", "prefix", "header") if k in parsed}
    return NotebookDoc(1, metadata, cells)


def afresh(doc: NotebookDoc) -> str:
    """The text of the same cells, as new objects (nothing kept from before)."""
    cells = [CellDoc(c.uri, c.kind, str(c.text), c.version, dict(c.metadata)) for c in doc.cells]
    return NotebookDoc(doc.version, dict(doc.metadata), cells).text()


TYPED = st.sampled_from(["x", "\n", "\n\n", " = 1", "\n# %% typed marker", '"""', ""])
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["type", "undo", "kind", "metadata", "newline"]),
        st.integers(0, 10_000),
        TYPED,
    ),
    min_size=1,
    max_size=10,
)


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
@settings(max_examples=10, deadline=None)
@given(steps=STEPS)
def test_what_cells_keep_between_keystrokes_never_changes_the_text(
    path: Path, steps: list[tuple[str, int, str]]
) -> None:
    text = path.read_text(encoding="utf-8")
    doc = notebook_doc(parse_payload(text))
    assert doc.text() == text
    originals = [cell.text for cell in doc.cells]
    for step, where, typed in steps:
        position = where % len(doc.cells)
        cell = doc.cells[position]
        if step == "type":
            cell.text = cell.text + typed  # a new string, as each keystroke gives
        elif step == "undo":
            cell.text = originals[position]  # the very string the cell was opened with
        elif step == "kind":
            cell.kind = "code" if cell.kind == "markdown" else "markdown"
        elif step == "metadata":
            cell.metadata = {**cell.metadata, "title": f"Retitled {where}"}
        else:
            newline = "\r\n" if doc.metadata.get("newline") == "\n" else "\n"
            doc.metadata = {**doc.metadata, "newline": newline}
        assert doc.text() == afresh(doc)


def test_changing_cell_texts_in_place_finds_the_cells_and_refuses_unknown_ones() -> None:
    documents = Documents()
    text = "# %%\na = 1\n\n# %%\nb = a\n"
    documents.set_notebook("file:///n.py", notebook_doc(parse_payload(text)))
    assert documents.change_cell_texts("file:///n.py", 2, {"cell1": ("b = a + 1", 2)})
    doc = documents.notebooks["file:///n.py"]
    assert (doc.version, doc.cells[1].text, doc.cells[1].version) == (2, "b = a + 1", 2)
    assert doc.text() == "# %%\na = 1\n\n# %%\nb = a + 1\n"
    assert documents.cell_owner("cell1") == ("file:///n.py", 1)
    # A cell this notebook does not have, or a notebook not open: nothing changes.
    assert not documents.change_cell_texts("file:///n.py", 3, {"cell0": ("a = 2", 3), "x": ("", 3)})
    assert not documents.change_cell_texts("file:///other.py", 3, {"cell0": ("a = 2", 3)})
    assert (doc.version, doc.cells[0].text) == (2, "a = 1")
