"""``publish.DiagnosticTexts``: a diagnostic's LSP JSON is reused from the
last publication only while everything it depends on is the same, and is
always what ``to_lsp`` makes from scratch."""

from __future__ import annotations

import json

from sessions.analysis.diagnostics import Diagnostic
from sessions.format.notebook import parse
from sessions.lsp.positions import NotebookLines
from sessions.lsp.publish import DiagnosticTexts, to_lsp

TEXT = "# %% one\nx = 1\n\n# %% two\ny = undefined_name\n"


def _diagnostic(line: int, col: int, end_col: int) -> Diagnostic:
    return Diagnostic(
        "undefined", "warning", "`undefined_name` is not defined", 1, line, col, line, end_col
    )


def _texts_and_fresh(
    texts: DiagnosticTexts, text: str, diagnostic: Diagnostic, **where: int
) -> tuple[dict[str, object], dict[str, object]]:
    index = NotebookLines(parse(text), text)
    kept = json.loads(texts.text(diagnostic, index, "utf-16", **where))
    texts.published()
    return kept, to_lsp(diagnostic, NotebookLines(parse(text), text), "utf-16", **where)


def test_the_same_diagnostic_on_the_same_cell_text_is_reused() -> None:
    texts = DiagnosticTexts()
    diagnostic = _diagnostic(4, 4, 18)
    index = NotebookLines(parse(TEXT), TEXT)
    first = texts.text(diagnostic, index, "utf-16")
    texts.published()
    again = texts.text(diagnostic, NotebookLines(parse(TEXT), TEXT), "utf-16")
    assert again is first  # reused, not encoded again
    assert json.loads(again) == to_lsp(diagnostic, index, "utf-16")


def test_a_character_wider_in_utf16_before_the_range_is_not_served_from_the_cache() -> None:
    """Same code-point columns (the same Diagnostic), other UTF-16 columns:
    the cell's text is part of what the JSON depends on."""
    texts = DiagnosticTexts()
    before = TEXT.replace("y = undefined_name", "é = undefined_name")
    after = TEXT.replace("y = undefined_name", "😀 = undefined_name")
    diagnostic = _diagnostic(4, 4, 18)
    kept, fresh = _texts_and_fresh(texts, before, diagnostic)
    assert kept == fresh and kept["range"]["start"]["character"] == 4  # type: ignore[index]
    kept, fresh = _texts_and_fresh(texts, after, diagnostic)
    assert kept == fresh and kept["range"]["start"]["character"] == 5  # type: ignore[index]


def test_a_cell_document_shift_is_part_of_the_key() -> None:
    texts = DiagnosticTexts()
    diagnostic = _diagnostic(4, 4, 18)
    for shift in (0, 4, 3):
        kept, fresh = _texts_and_fresh(texts, TEXT, diagnostic, line_shift=shift, max_line=1)
        assert kept == fresh


def test_only_what_the_last_publication_used_is_kept() -> None:
    texts = DiagnosticTexts()
    index = NotebookLines(parse(TEXT), TEXT)
    old = _diagnostic(4, 4, 18)
    texts.text(old, index, "utf-16")
    texts.published()
    texts.published()  # a publication without it
    assert texts._last == {}
