"""``publish.DiagnosticTexts``: a diagnostic's LSP JSON is reused from the
last publication only while everything it depends on is the same, and is
always what ``to_lsp`` makes from scratch."""

from __future__ import annotations

import json

from sessions.analysis.diagnostics import Diagnostic
from sessions.format.notebook import parse
from sessions.format.reparse import parse_edit
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


class CountingLines(NotebookLines):
    """Counts the cell lookups a diagnostic's text needed."""

    lookups = 0

    def cell_raw(self, line: int) -> str | None:
        CountingLines.lookups += 1
        return super().cell_raw(line)


def test_the_same_diagnostic_in_the_same_cell_object_needs_no_lookup() -> None:
    texts = DiagnosticTexts()
    notebook = parse(TEXT)
    diagnostic = _diagnostic(4, 4, 18)
    first = texts.text(diagnostic, CountingLines(notebook, TEXT), "utf-16")
    texts.published()
    CountingLines.lookups = 0
    # The next text keeps the cell (parse_edit reuses it), and the analysis the diagnostic.
    edited = TEXT.replace("x = 1", "x = 2")
    kept = parse_edit(TEXT, notebook, edited)
    assert kept.cells[1] is notebook.cells[1]
    again = texts.text(diagnostic, CountingLines(kept, edited), "utf-16")
    assert again is first and CountingLines.lookups == 0
    assert json.loads(again) == to_lsp(diagnostic, NotebookLines(kept, edited), "utf-16")


def test_the_same_diagnostic_object_in_an_edited_cell_is_made_again() -> None:
    """A cell object made anew (its text changed) is not trusted by identity:
    a wider character before the range moves the UTF-16 columns."""
    texts = DiagnosticTexts()
    before = TEXT.replace("y = undefined_name", "é = undefined_name")
    notebook = parse(before)
    diagnostic = _diagnostic(4, 4, 18)
    texts.text(diagnostic, NotebookLines(notebook, before), "utf-16")
    texts.published()
    after = TEXT.replace("y = undefined_name", "😀 = undefined_name")
    edited = parse_edit(before, notebook, after)
    again = json.loads(texts.text(diagnostic, NotebookLines(edited, after), "utf-16"))
    assert again == to_lsp(diagnostic, NotebookLines(edited, after), "utf-16")
    assert again["range"]["start"]["character"] == 5


def test_the_same_cell_object_in_another_encoding_is_made_again() -> None:
    texts = DiagnosticTexts()
    text = TEXT.replace("y = undefined_name", "é = undefined_name")
    notebook = parse(text)
    diagnostic = _diagnostic(4, 4, 18)
    for encoding, column in (("utf-16", 4), ("utf-8", 5), ("utf-16", 4)):
        found = json.loads(texts.text(diagnostic, NotebookLines(notebook, text), encoding))
        texts.published()
        assert found == to_lsp(diagnostic, NotebookLines(notebook, text), encoding)
        assert found["range"]["start"]["character"] == column
