"""Same cells and notebook metadata as Jupytext for every file of ``tests/corpus/percent``.

Per file: cell count, cell types, sources, titles and metadata are compared
with ``jupytext.reads(text, fmt="py:percent")``, both as Sessions parses the
file and as ``sessions export`` writes it into an ``.ipynb``; for files with
a YAML header, the exported notebook metadata is compared too. The corpus
holds files in the style of Jupytext's documentation and test outputs
(headers, ``language=`` cells, raw cells, root-level YAML), all written for
this project. Only representational differences are normalised, each
explained where it is applied. Where DESIGN and Jupytext disagree, DESIGN
wins and the difference is asserted explicitly (so it cannot hide others).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jupytext
import pytest
from jupytext.header import header_to_metadata_and_cell

from sessions.format.notebook import Cell, parse, serialize
from sessions.ipynb import to_ipynb

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "percent"
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
# ``# %word`` line and help lines (``# ?obj``, ``# obj?``), so it shows these
# comments as IPython syntax; we keep them as comments.
# file -> (line as Jupytext shows it, line as we show it)
DESIGN_DIFFERENCES: dict[str, list[tuple[str, str]]] = {
    "13_not_magics.py": [("%d items were counted", "# %d items were counted")],
    "51_help_lines.py": [
        ("?statistics.mean", "# ?statistics.mean"),
        ("statistics.median?", "# statistics.median?"),
    ],
}

# DESIGN §2: a shebang or coding line *without* a YAML header below it is the
# start of the preamble (Jupytext moves it into notebook metadata). With a
# header below, it belongs to the header, as in Jupytext (44_header_shebang_coding).
PREAMBLE_KEEPS_FIRST_LINES = {
    "18_preamble_shebang.py",
    "21_shebang_docstring_pep723.py",
    "40_encoding_line.py",
}

# Without a ``jupyter:`` section the file holds no notebook metadata: export
# writes the default kernelspec and Jupytext invents its own bookkeeping
# (``notebook_metadata_filter: -all`` and friends) instead.
JUPYTEXT_BOOKKEEPING = {"main_language", "notebook_metadata_filter", "cell_metadata_filter"}


def read_text(path: Path) -> str:
    # A BOM is an encoding detail; Jupytext expects it stripped by the file reader.
    return path.read_bytes().decode("utf-8").removeprefix("\ufeff")


def jupytext_notebook(text: str) -> Any:
    return jupytext.reads(text, fmt="py:percent")


def jupytext_cells(text: str) -> list[dict[str, Any]]:
    return [
        {"type": cell.cell_type, "source": cell.source, "metadata": dict(cell.metadata)}
        for cell in jupytext_notebook(text).cells
    ]


def jupytext_header_lines(text: str) -> int:
    """Lines Jupytext reads as notebook metadata (shebang, coding line, YAML header)."""
    _, _, _, position = header_to_metadata_and_cell(text.splitlines(), "#", "", ".py")
    return int(position)


def without_trailing_blank_lines(source: str) -> str:
    # Jupytext keeps a cell's trailing blank lines beyond the one or two it
    # treats as the separator (and ends an empty ``language=`` cell with a
    # newline); all of them are the separator for us.
    lines = source.split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    return "\n".join(lines)


def our_cells(text: str, name: str) -> list[dict[str, Any]]:
    notebook = parse(text)
    assert serialize(notebook) == text
    cells: list[dict[str, Any]] = []
    for cell in notebook.cells:
        source = cell.source
        if cell.is_preamble and name in PREAMBLE_KEEPS_FIRST_LINES:
            source = "\n".join(source.split("\n")[jupytext_header_lines(text) :])
            if source.strip() == "":
                continue
        cells.append({"type": cell.kind, "source": source, "metadata": _metadata(cell)})
    return cells


def exported_cells(text: str) -> list[dict[str, Any]]:
    notebook = parse(text)
    data = to_ipynb(notebook, [None] * len(notebook.cells))
    cells = []
    for parsed, cell in zip(notebook.cells, data["cells"], strict=True):
        # Our own key, marking the header-less first cell for a re-import.
        metadata = {k: v for k, v in cell["metadata"].items() if k != "sessions"}
        if parsed.id is not None and cell["id"] == parsed.id:
            # ``id="..."`` becomes the nbformat cell id (cell identity, DESIGN §2);
            # Jupytext keeps it as cell metadata.
            metadata["id"] = parsed.id
        cells.append({"type": cell["cell_type"], "source": cell["source"], "metadata": metadata})
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


def assert_same_cells(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert len(ours) == len(theirs)
    assert [c["type"] for c in ours] == [c["type"] for c in theirs]
    assert [c["source"] for c in ours] == [c["source"] for c in theirs]
    assert [c["metadata"] for c in ours] == [c["metadata"] for c in theirs]


def has_jupyter_metadata(text: str) -> bool:
    block = parse(text).header_block
    return block is not None and bool(block.jupyter)


def test_corpus_is_large_enough() -> None:
    assert len(FILES) >= 50
    headers = [path for path in FILES if has_jupyter_metadata(read_text(path))]
    assert len(headers) >= 10


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_same_cells_as_jupytext(path: Path) -> None:
    text = read_text(path)
    ours = normalised(our_cells(text, path.name), path.name, theirs=False)
    theirs = normalised(jupytext_cells(text), path.name, theirs=True)
    assert_same_cells(ours, theirs)


# The preamble keeps a shebang or coding line (DESIGN §2), which Jupytext
# moves to the notebook metadata: those files are compared on reading above.
EXPORTED = [path for path in FILES if path.name not in PREAMBLE_KEEPS_FIRST_LINES]


@pytest.mark.parametrize("path", EXPORTED, ids=[path.name for path in EXPORTED])
def test_export_writes_the_cells_jupytext_reads(path: Path) -> None:
    text = read_text(path)
    ours = normalised(exported_cells(text), path.name, theirs=False)
    theirs = normalised(jupytext_cells(text), path.name, theirs=True)
    assert_same_cells(ours, theirs)


HEADER_FILES = [path for path in FILES if has_jupyter_metadata(read_text(path))]


@pytest.mark.parametrize("path", HEADER_FILES, ids=[path.name for path in HEADER_FILES])
def test_export_writes_the_notebook_metadata_jupytext_reads(path: Path) -> None:
    text = read_text(path)
    notebook = parse(text)
    ours = to_ipynb(notebook, [None] * len(notebook.cells))["metadata"]
    assert ours.pop("language_info") == {"name": "python"}  # filled in by export
    theirs = dict(jupytext_notebook(text).metadata)
    # Jupytext drops the text representation when it writes an .ipynb too.
    theirs.get("jupytext", {}).pop("text_representation", None)
    if theirs.get("jupytext") == {}:
        del theirs["jupytext"]
    assert filters_as_sets(ours) == filters_as_sets(theirs)


def filters_as_sets(metadata: dict[str, Any]) -> dict[str, Any]:
    """Jupytext lists the cell metadata keys of a filter in set order: compare them as sets."""
    jupytext_table = metadata.get("jupytext")
    if not isinstance(jupytext_table, dict):
        return metadata
    table = {
        key: frozenset(value.split(",")) if key.endswith("_metadata_filter") else value
        for key, value in jupytext_table.items()
    }
    return {**metadata, "jupytext": table}


@pytest.mark.parametrize(
    "name", ["01_minimal.py", "43_header_only_root.py"], ids=["no-header", "root-only-header"]
)
def test_without_jupyter_metadata_export_writes_the_default_kernel(name: str) -> None:
    """The explicit difference: no ``jupyter:`` section, no Jupytext bookkeeping."""
    text = read_text(CORPUS / name)
    notebook = parse(text)
    ours = to_ipynb(notebook, [None] * len(notebook.cells))["metadata"]
    assert ours == {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    theirs = dict(jupytext_notebook(text).metadata)
    assert set(theirs) == {"jupytext"}
    assert set(theirs["jupytext"]) - {"text_representation"} <= JUPYTEXT_BOOKKEEPING


@pytest.mark.parametrize("name", sorted(DESIGN_DIFFERENCES))
def test_design_differences_are_real(name: str) -> None:
    """Each listed difference exists: Jupytext shows one line, we show the other."""
    text = read_text(CORPUS / name)
    jupytext_lines = {line for c in jupytext_cells(text) for line in c["source"].split("\n")}
    our_lines = {line for c in parse(text).cells for line in c.source.split("\n")}
    for jupytext_line, our_line in DESIGN_DIFFERENCES[name]:
        assert jupytext_line in jupytext_lines and jupytext_line not in our_lines
        assert our_line in our_lines


@pytest.mark.parametrize("name", sorted(PREAMBLE_KEEPS_FIRST_LINES))
def test_preamble_keeps_shebang_and_coding_lines(name: str) -> None:
    text = read_text(CORPUS / name)
    first = text.splitlines()[0]
    assert parse(text).cells[0].is_preamble
    assert parse(text).cells[0].source.startswith(first)
    assert jupytext_header_lines(text) >= 1
