"""``publish.DiagnosticTexts``: a diagnostic's LSP JSON is reused from the
last publication only while everything it depends on is the same, and is
always what ``to_lsp`` makes from scratch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sessions.analysis.diagnostics import Diagnostic
from sessions.format.notebook import parse
from sessions.format.reparse import parse_edit
from sessions.lsp import publish
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


# -- a text document's whole list at a time (``DiagnosticTexts.texts``) -----------

MANY = "".join(f"# %% cell {n}\nv{n} = undefined_{n}\n\n" for n in range(6))


def _undefined(notebook_text: str, cell: int) -> Diagnostic:
    """The diagnostic of ``undefined_N`` in cell ``cell`` of a ``MANY``-like text."""
    line = 3 * cell + 1
    body = notebook_text.split("\n")[line]
    col = body.index("undefined_")
    return Diagnostic("undefined", "warning", "not defined", cell, line, col, line, len(body))


def _fresh(found: list[Diagnostic], text: str, encoding: str = "utf-16") -> list[object]:
    index = NotebookLines(parse(text), text)
    return [to_lsp(d, index, encoding) for d in found]


def test_a_list_is_what_to_lsp_makes_and_is_reused_whole_when_nothing_changed() -> None:
    texts = DiagnosticTexts()
    notebook = parse(MANY)
    found = [_undefined(MANY, n) for n in range(6)]
    first = texts.texts(found, NotebookLines(notebook, MANY), "utf-16")
    texts.published()
    assert [json.loads(t) for t in first] == _fresh(found, MANY)
    CountingLines.lookups = 0
    again = texts.texts(found, CountingLines(notebook, MANY), "utf-16")
    texts.published()
    assert all(a is b for a, b in zip(again, first, strict=True))
    assert CountingLines.lookups == 0


def test_a_list_after_an_edit_remakes_only_what_the_edit_can_change() -> None:
    """Cell 2 gets a character that is two UTF-16 units wide before its range
    (its ``Cell`` is made anew, the ``Diagnostic`` object is kept), a
    diagnostic goes and a new one comes: those are made again, the rest kept."""
    texts = DiagnosticTexts()
    notebook = parse(MANY)
    found = [_undefined(MANY, n) for n in range(6)]
    first = texts.texts(found, NotebookLines(notebook, MANY), "utf-16")
    texts.published()
    edited_text = MANY.replace("v2 = undefined_2", "😀 = undefined_2")
    edited = parse_edit(MANY, notebook, edited_text)
    assert edited.cells[2] is not notebook.cells[2] and edited.cells[3] is notebook.cells[3]
    newcomer = Diagnostic("undefined", "warning", "again", 4, 13, 0, 13, 2)
    now = [found[0], found[2], found[3], newcomer, found[5]]
    again = texts.texts(now, NotebookLines(edited, edited_text), "utf-16")
    texts.published()
    assert [json.loads(t) for t in again] == _fresh(now, edited_text)
    assert again[0] is first[0] and again[2] is first[3] and again[4] is first[5]
    assert json.loads(again[1])["range"]["start"]["character"] == 6  # 😀 counts two units


def test_a_list_in_another_encoding_or_after_lines_moved_is_made_again() -> None:
    texts = DiagnosticTexts()
    text = MANY.replace("v4 = ", "é4 = ")
    notebook = parse(text)
    found = [_undefined(text, n) for n in range(6)]
    texts.texts(found, NotebookLines(notebook, text), "utf-16")
    texts.published()
    in_utf8 = texts.texts(found, NotebookLines(notebook, text), "utf-8")
    texts.published()
    assert [json.loads(t) for t in in_utf8] == _fresh(found, text, "utf-8")
    # A line above every cell: each cell moves (new objects), each diagnostic with it.
    moved_text = "\n" + text
    moved = parse_edit(text, notebook, moved_text)
    shifted = [_undefined(moved_text[1:], n) for n in range(6)]
    shifted = [
        Diagnostic(
            d.code, d.severity, d.message, d.cell, d.line + 1, d.col, d.end_line + 1, d.end_col
        )
        for d in shifted
    ]
    after = texts.texts(shifted, NotebookLines(moved, moved_text), "utf-8")
    assert [json.loads(t) for t in after] == _fresh(shifted, moved_text, "utf-8")


def test_a_list_with_a_diagnostic_outside_every_cell_is_made_as_to_lsp_makes_it() -> None:
    """The server's own ``kernel-setup`` diagnostic and the header's are in no
    cell the list can check: they are made each time."""
    header = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n"
    text = header + MANY
    notebook = parse(text)
    outside = Diagnostic("kernel-setup", "error", "no kernel", -1, 1, 0, 1, 5)
    found = [outside, _undefined(MANY, 0)]
    found[1] = Diagnostic("undefined", "warning", "not defined", 0, 7, 5, 7, 16)
    texts = DiagnosticTexts()
    for _ in range(2):
        made = texts.texts(found, NotebookLines(notebook, text), "utf-16")
        texts.published()
        assert [json.loads(t) for t in made] == _fresh(found, text)
    assert id(outside) not in texts._last_objects and id(found[1]) in texts._last_objects


def test_a_diagnostic_moved_down_with_its_cell_is_its_last_text_on_new_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Enter above a cell moves it, and its diagnostics, a line down: the text
    is the last one with the two line numbers changed (no conversion of its
    columns again), and equal to what ``to_lsp`` makes; in UTF-16 too."""
    before = TEXT.replace("y = undefined_name", "😀 = undefined_name")
    after = before.replace("x = 1\n", "x = 1\n\n")
    texts = DiagnosticTexts()
    kept, fresh = _texts_and_fresh(texts, before, _diagnostic(4, 4, 18))
    assert kept == fresh
    conversions: list[Diagnostic] = []

    def counted(diagnostic: Diagnostic, *args: Any, **kwargs: Any) -> dict[str, Any]:
        conversions.append(diagnostic)
        return to_lsp(diagnostic, *args, **kwargs)

    monkeypatch.setattr(publish, "to_lsp", counted)
    moved = _diagnostic(5, 4, 18)
    index = NotebookLines(parse(after), after)
    text = texts.text(moved, index, "utf-16")
    assert conversions == []  # from the template: only the lines are new
    assert json.loads(text) == to_lsp(moved, index, "utf-16")
    assert json.loads(text)["range"]["start"] == {"line": 5, "character": 5}
    texts.published()
    other = _diagnostic(5, 4, 9)  # another place in the cell: converted
    assert json.loads(texts.text(other, index, "utf-16")) == to_lsp(other, index, "utf-16")
    assert conversions == [other]
