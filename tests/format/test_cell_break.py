"""``cell_break``: where a code cell's text, written under its own marker,
stops reading back as that one cell. Checked against the reader itself: a
text with no break reads back as one cell, a text with one does not."""

from __future__ import annotations

import pytest

from sessions.format.markers import cell_break, split_lines
from sessions.format.notebook import parse


def _reads_back_as_one_cell(text: str) -> bool:
    """Whether ``text`` under a marker, with a cell below it, reads back as two cells."""
    notebook = parse(f"# %%\n{text}\n\n# %%\nbelow = 1\n")
    return len(notebook.cells) == 2 and notebook.cells[1].source.strip() == "below = 1"


CASES = [
    ("x = 1\nprint(x)", None),
    ("", None),
    ('doc = """one\ntwo"""\nx = 1', None),
    ("doc = '''closed''' ; y = '''again'''", None),
    ("# %% a marker first", (0, "marker")),
    ("x = 1\n#%% no space still a marker", (1, "marker")),
    ('x = 1\ndoc = """never closed\nmore', (1, "string")),
    ("s = '''\nclosed\n'''\nt = '''\nopen again", (3, "string")),
    ('"""open\n# %% inside the string is not a marker', (0, "string")),
    ("x = '# %% in a string on one line'", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_cell_break_finds_the_line_that_changes_how_the_file_reads(
    text: str, expected: tuple[int, str] | None
) -> None:
    assert cell_break(split_lines(text)) == expected
    assert _reads_back_as_one_cell(text) is (expected is None)
