"""``match_records_kept``: matching a notebook's records to its cells from the
last match (what the language server does on every keystroke) gives what
matching afresh gives, after any sequence of edits, and takes the short way
when one cell's code changed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.cache import identity
from sessions.cache.identity import RecordMatching, match_records, match_records_kept
from sessions.cache.records import CellRecord
from sessions.format.notebook import ParsedNotebook, parse
from sessions.format.reparse import parse_edit


def notebook_text(cells: int) -> str:
    parts = []
    for i in range(cells):
        if i % 4 == 3:  # markdown cells: as many records as code cells, fewer than cells
            parts.append(f"# %% [markdown]\n# Notes {i}\n")
        else:
            parts.append(f"# %% step {i}\nvalue_{i} = compute({i}, factor={i * 7})\n")
    return "\n".join(parts)


def records_of(notebook: ParsedNotebook) -> list[CellRecord]:
    """A record for every code cell, as a run leaves them (listed out of order:
    matching orders them by ``index``)."""
    records = [
        CellRecord(hash=cell.hash, index=index, run=index + 1, code=cell.code)
        for index, cell in enumerate(notebook.cells)
        if cell.kind == "code"
    ]
    return records[1::2] + records[::2]


class Editor:
    """One open notebook, edited as text and parsed as the server parses it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.notebook = parse(text)

    def replace_line(self, line: int, new: str) -> None:
        lines = self.text.split("\n")
        lines[line] = new
        self.edit("\n".join(lines))

    def edit(self, text: str) -> None:
        self.notebook = parse_edit(self.text, self.notebook, text)
        self.text = text


def code_line(editor: Editor, seed: int) -> int:
    lines = editor.text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.startswith(("value_", "fresh_"))]
    return candidates[seed % len(candidates)]


operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["type", "revert", "copy", "steal", "newline", "insert", "delete", "retitle"]
        ),
        st.integers(0, 10**6),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(4, 30), operations)
def test_kept_matching_agrees_with_matching_afresh(
    cells: int, steps: list[tuple[str, int]]
) -> None:
    original = notebook_text(cells)
    editor = Editor(original)
    records = records_of(editor.notebook)
    first_lines = original.split("\n")
    _, kept = match_records_kept(records, editor.notebook.cells)
    for operation, seed in steps:
        if "\nvalue_" not in editor.text and "\nfresh_" not in editor.text:
            operation = "insert"  # every code cell deleted: add one
        lines = editor.text.split("\n")
        line = code_line(editor, seed) if operation != "insert" else 0
        if operation == "type":  # a character typed into one cell's code
            editor.replace_line(line, lines[line] + str(seed % 10))
        elif operation == "revert" and line < len(first_lines):  # back to what ran
            editor.replace_line(line, first_lines[line])
        elif operation == "copy":  # the same code as another cell (edited or not)
            editor.replace_line(line, lines[code_line(editor, seed // 7)])
        elif operation == "steal":  # the code another cell had when it ran
            ran = [text for text in first_lines if text.startswith("value_")]
            editor.replace_line(line, ran[(seed // 7) % len(ran)])
        elif operation == "newline":  # every cell below moves
            editor.edit(editor.text.replace(lines[line], lines[line] + "\n", 1))
        elif operation == "insert":
            editor.edit(editor.text + f"\n# %% new {seed}\nfresh_{seed} = {seed}\n")
        elif operation == "delete":
            start = editor.text.find("# %% step")
            end = editor.text.find("# %%", start + 1)
            if end > start >= 0:
                editor.edit(editor.text[:start] + editor.text[end:])
        elif operation == "retitle":  # the text changes, the code does not
            editor.edit(editor.text.replace("# %% step", "# %% Step", 1))
        matched, kept = match_records_kept(records, editor.notebook.cells, kept)
        assert matched == match_records(records, editor.notebook.cells)


def test_one_cell_typed_into_is_matched_from_the_last_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    editor = Editor(notebook_text(200))
    records = records_of(editor.notebook)
    _, kept = match_records_kept(records, editor.notebook.cells)
    assert kept is not None
    afresh: list[int] = []
    matched_afresh = identity._matched_afresh

    def counting(*args: Any) -> RecordMatching:
        afresh.append(len(args[2]))
        return matched_afresh(*args)

    monkeypatch.setattr(identity, "_matched_afresh", counting)
    ran = editor.text.split("\n")
    for seed in range(20):  # typing in one cell, then in another, and undoing it
        line = code_line(editor, seed // 10 * 37)
        typed = ran[line] + "1" if seed % 4 < 2 else ran[line]
        editor.replace_line(line, typed + ("2" if seed % 4 == 1 else ""))
        matched, kept = match_records_kept(records, editor.notebook.cells, kept)
        assert matched == match_records(records, editor.notebook.cells)
    assert afresh == []  # every keystroke matched from the last match
    cells = editor.notebook.cells
    # The cells typed into keep their records (pass 3 pairs them by similarity,
    # pass 2 by their code once it is what ran again).
    codes = [record for record, cell in zip(matched, cells, strict=True) if cell.kind == "code"]
    assert None not in codes
