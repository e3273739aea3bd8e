"""Same cells as Jupytext for every file of ``tests/corpus/percent`` (DESIGN §2).

Per file: cell count, cell types, sources, titles and metadata are compared
with ``jupytext.reads(text, fmt="py:percent")``. Only representational
differences are normalised, each explained where it is applied. Where
DESIGN and Jupytext disagree, DESIGN wins and the difference is asserted
explicitly in ``DESIGN_DIFFERENCES`` (so it cannot hide other differences).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jupytext
import pytest
from jupytext.header import header_to_metadata_and_cell

from sessions.notebook import Cell, parse, serialize

CORPUS = Path(__file__).parent / "corpus" / "percent"
FILES = sorted(CORPUS.glob("*.py"))

# Jupytext keys that describe how a cell is written, not what it is:
# blank lines around it, the markdown string delimiter, which spelling of the
# type was used, the Spyder sub-cell depth. Our cells keep the bytes instead.
REPRESENTATIONAL_KEYS = {
    "lines_to_next_cell",
    "lines_to_end_of_cell_marker",
    "cell_marker",
    "region_name",
    "cell_depth",
}

# DESIGN §2: "only known magic names count". Jupytext uncomments any
# ``# %word`` line, so it shows these comments as magics; we keep them.
# file -> (line as Jupytext shows it, line as we show it)
DESIGN_DIFFERENCES: dict[str, list[tuple[str, str]]] = {
    "13_not_magics.py": [("%d items were counted", "# %d items were counted")],
}


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def jupytext_cells(text: str) -> list[dict[str, Any]]:
    # A BOM is an encoding detail; Jupytext expects it stripped by the file reader.
    notebook = jupytext.reads(text.removeprefix("\ufeff"), fmt="py:percent")
    return [
        {"type": cell.cell_type, "source": cell.source, "metadata": dict(cell.metadata)}
        for cell in notebook.cells
    ]


def header_line_count(text: str) -> int:
    """Lines Jupytext reads as notebook metadata rather than as a cell.

    A shebang, a ``coding`` line and a ``# ---`` YAML block at the top become
    notebook metadata in Jupytext. In DESIGN they are the start of the preamble.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    _, _, header_cell, position = header_to_metadata_and_cell(lines, "#", "", ".py")
    assert header_cell is None, "the corpus has no root-level YAML metadata"
    return int(position)


def without_trailing_blank_lines(source: str) -> str:
    # Jupytext keeps a cell's trailing blank lines beyond the one or two it
    # treats as the separator; all of them are the separator for us.
    lines = source.split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    return "\n".join(lines)


def our_cells(text: str) -> list[dict[str, Any]]:
    notebook = parse(text)
    assert serialize(notebook) == text
    skip = header_line_count(text)
    cells: list[dict[str, Any]] = []
    for cell in notebook.cells:
        source = cell.source
        if cell.is_preamble and skip:
            source = "\n".join(source.split("\n")[skip:])
            if source.strip() == "":
                continue
        cells.append({"type": cell.kind, "source": source, "metadata": _metadata(cell)})
    return cells


def _metadata(cell: Cell) -> dict[str, Any]:
    metadata = dict(cell.metadata)
    if cell.title:
        metadata["title"] = cell.title  # Jupytext keeps the title as metadata
    return metadata


def normalised(cells: list[dict[str, Any]], name: str, theirs: bool) -> list[dict[str, Any]]:
    result = []
    for cell in cells:
        source = without_trailing_blank_lines(cell["source"])
        if theirs:
            for jupytext_line, our_line in DESIGN_DIFFERENCES.get(name, []):
                source = "\n".join(
                    our_line if line == jupytext_line else line for line in source.split("\n")
                )
        metadata = {k: v for k, v in cell["metadata"].items() if k not in REPRESENTATIONAL_KEYS}
        result.append({"type": cell["type"], "source": source, "metadata": metadata})
    return result


def test_corpus_is_large_enough() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_same_cells_as_jupytext(path: Path) -> None:
    text = read_text(path)
    ours = normalised(our_cells(text), path.name, theirs=False)
    theirs = normalised(jupytext_cells(text), path.name, theirs=True)
    assert len(ours) == len(theirs)
    assert [c["type"] for c in ours] == [c["type"] for c in theirs]
    assert [c["source"] for c in ours] == [c["source"] for c in theirs]
    assert [c["metadata"] for c in ours] == [c["metadata"] for c in theirs]


@pytest.mark.parametrize("name", sorted(DESIGN_DIFFERENCES))
def test_design_differences_are_real(name: str) -> None:
    """Each listed difference exists: Jupytext shows one line, we show the other."""
    text = read_text(CORPUS / name)
    jupytext_lines = {line for c in jupytext_cells(text) for line in c["source"].split("\n")}
    our_lines = {line for c in parse(text).cells for line in c.source.split("\n")}
    for jupytext_line, our_line in DESIGN_DIFFERENCES[name]:
        assert jupytext_line in jupytext_lines and jupytext_line not in our_lines
        assert our_line in our_lines
