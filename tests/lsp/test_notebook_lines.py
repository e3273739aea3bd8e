"""``NotebookLines`` reads a line from the cell that holds it, and gives what a
whole-text ``LineIndex`` gives, for every line of every corpus notebook — with
LF, CRLF and CR endings, a BOM, blank lines before the first cell, no final
newline, and a YAML header with a frontmatter cell (``tests/corpus/percent``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.format.notebook import parse
from sessions.lsp.positions import LineIndex, NotebookLines

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "bench" / "corpus").glob("*.py.txt")) + sorted(
    (ROOT / "tests" / "corpus" / "percent").glob("*.py")
)


def variants(text: str) -> list[str]:
    return [
        text,
        text.replace("\n", "\r\n"),
        text.replace("\n", "\r"),
        "\ufeff" + text,
        text.rstrip("\n"),
        "\n\n" + text,
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_line_reads_as_the_whole_text_index_reads_it(path: Path) -> None:
    for text in variants(path.read_text()):
        whole, lines = LineIndex(text), NotebookLines(parse(text), text)
        for line in range(-1, len(whole.starts) + 2):
            assert lines.line_text(line) == whole.line_text(line), (path.name, line)


def test_the_corpus_has_headers_and_markdown() -> None:
    notebooks = [parse(path.read_text()) for path in FILES]
    assert any(nb.header for nb in notebooks)
    assert any(cell.is_frontmatter for nb in notebooks for cell in nb.cells)
