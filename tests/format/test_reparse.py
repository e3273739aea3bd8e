"""Re-parsing an edited text from its previous parse equals parsing it afresh.

``parse_edit`` parses only the stretch of cells an edit touched (issue 12: a
one-cell edit must not cost the whole file). On every real notebook of
``bench/corpus`` and ``tests/corpus/percent``, and on texts built to hit its
edge cases (a marker deleted, a triple-quoted string opened across cells, a
YAML header left open then closed far below, CRLF, a text without a final
newline), each of a seeded series of edits gives exactly ``parse``'s cells,
and the cells the edit did not touch are the previous objects.
"""

from __future__ import annotations

import operator
import random
import sys
from pathlib import Path

import pytest

from sessions.format.notebook import ParsedNotebook, parse
from sessions.format.reparse import _reparse, parse_edit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from reference_notebook import reference_notebook

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "bench" / "corpus").glob("*.py.txt")) + sorted(
    (ROOT / "tests" / "corpus" / "percent").glob("*.py")
)

SNIPPETS = [
    "x = 1\n",
    "# %%\n",
    "# %% [markdown]\n",
    "# A comment\n",
    '"""\n',
    "'''\n",
    "\n",
    "\n\n",
    "# ---\n",
    "print('%%')\n",
    "  # %% indented\n",
    "# %%time\n",
    "def f():\n    return 2\n",
    "\r\n",
    "y = 2",
]


def shape(notebook: ParsedNotebook) -> tuple[object, ...]:
    return (
        tuple(
            (c.raw, c.start_line, c.body_line, c.is_preamble, c.frontmatter) for c in notebook.cells
        ),
        notebook.bom,
        notebook.prefix,
        notebook.newline,
        notebook.header,
    )


def edit(text: str, rng: random.Random) -> str:
    """Insert, delete or replace a little text somewhere."""
    if not text:
        return rng.choice(SNIPPETS)
    at = rng.randrange(len(text) + 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:at] + rng.choice(SNIPPETS) + text[at:]
    end = min(len(text), at + rng.randint(1, 40))
    if kind == 1:
        return text[:at] + text[end:]
    return text[:at] + rng.choice(SNIPPETS) + text[end:]


COLUMNS = ("raws", "raw_offsets", "memos", "kinds", "hashes", "_starts")


def read_columns(notebook: ParsedNotebook, rng: random.Random) -> None:
    """Read some of the notebook's columns (then the next edit splices them)
    and its cells' body lines (kept by the cells the edit moves)."""
    for name in COLUMNS:
        if rng.random() < 0.7:
            getattr(notebook, name)
    if rng.random() < 0.7:  # as the analysis does: then the cells moved must move them
        assert all(cell.body_line >= cell.start_line for cell in notebook.cells)


def assert_columns_are_the_cells(notebook: ParsedNotebook, fresh: ParsedNotebook) -> None:
    """Each column ``parse_edit`` spliced holds what reading the cells gives."""
    spliced = notebook.__dict__
    if "raws" in spliced:
        assert notebook.raws == fresh.raws
    if "raw_offsets" in spliced:
        assert notebook.raw_offsets == fresh.raw_offsets
    if "_starts" in spliced:
        assert notebook._starts == fresh._starts
    if "kinds" in spliced:
        assert notebook.kinds == fresh.kinds
    if "hashes" in spliced:
        assert notebook.hashes == fresh.hashes
    if "memos" in spliced:
        assert all(map(operator.is_, notebook.memos, (cell.memo for cell in notebook.cells)))
    assert len(notebook.memos) == len(notebook.cells)


def replay(text: str, seed: int, steps: int) -> int:
    """Edits of ``text``; returns how many were re-parsed in part (not in full)."""
    rng = random.Random(seed)
    previous = parse(text)
    partial = 0
    for _ in range(steps):
        new_text = edit(text, rng)
        read_columns(previous, rng)
        partial += _reparse(text, previous, new_text) is not None
        updated = parse_edit(text, previous, new_text)
        fresh = parse(new_text)
        assert shape(updated) == shape(fresh), (text, new_text)
        assert_columns_are_the_cells(updated, fresh)
        text, previous = new_text, updated
    return partial


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_edits_of_real_notebooks_parse_as_parse_does(path: Path) -> None:
    replay(path.read_text(), seed=len(path.name), steps=60)


def test_cells_the_edit_did_not_touch_are_kept() -> None:
    text = "".join(f"# %% cell {i}\nvalue_{i} = {i}\n\n" for i in range(40))
    previous = parse(text)
    new_text = text.replace("value_20 = 20", "value_20 = 21")
    updated = parse_edit(text, previous, new_text)
    assert shape(updated) == shape(parse(new_text))
    changed = [i for i, cell in enumerate(updated.cells) if cell is not previous.cells[i]]
    assert changed == [20]  # the cell above is re-read, and kept: it did not change


@pytest.mark.parametrize(
    ("text", "before", "after"),
    [
        # The marker between two cells deleted: they are one cell now.
        ("# %% a\nx = 1\n# %% b\ny = 2\n# %% c\nz = 3\n# %% d\nw = 4\n", "# %% b\n", ""),
        # A string opened in one cell swallows the markers below it.
        ("# %% a\nx = 1\n# %% b\ny = 2\n# %% c\nz = 3\n# %% d\nw = 4\n", "y = 2", 'y = """'),
        # A header left open at the top, closed by a rule typed far below.
        (
            "# ---\n# %% [markdown]\n# a\n# %% [markdown]\n# b\n# %% [markdown]\n# c\n",
            "# c",
            "# ---",
        ),
        # CRLF, and a last line without an ending.
        ("# %% a\r\nx = 1\r\n# %% b\r\ny = 2\r\n# %% c\r\nz = 3", "y = 2", "y = 3\r\n# %% new"),
        # Text typed at the start of a cell's marker line joins the cell above.
        ("# %% a\nx = 1\n# %% b\ny = 2\n# %% c\nz = 3\n# %% d\nw = 4\n", "# %% c", "q # %% c"),
    ],
    ids=["marker-deleted", "string-opened", "header-closed", "crlf", "marker-broken"],
)
def test_edits_that_move_cell_boundaries(text: str, before: str, after: str) -> None:
    previous = parse(text)
    new_text = text.replace(before, after, 1)
    assert new_text != text
    assert shape(parse_edit(text, previous, new_text)) == shape(parse(new_text))


def test_a_header_and_frontmatter_are_kept() -> None:
    text = (
        "# ---\n# title: T\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n"
        + "".join(f"# %% s{i}\nv{i} = {i}\n\n" for i in range(10))
    )
    previous = parse(text)
    new_text = text.replace("v5 = 5", "v5 = 6")
    assert shape(parse_edit(text, previous, new_text)) == shape(parse(new_text))


def test_synthetic_edits_near_every_boundary() -> None:
    rng = random.Random(11)
    for trial in range(300):
        cells = [rng.choice(SNIPPETS) + rng.choice(SNIPPETS) for _ in range(rng.randint(3, 12))]
        text = "".join(("# %%\n" if rng.random() < 0.8 else "") + body for body in cells)
        replay(text, seed=trial, steps=5)


def test_most_edits_of_a_long_notebook_are_parsed_in_part() -> None:
    """Random edits also land in the first cells or open a string that runs to
    the end (then the whole text is parsed); still, on the 250-cell reference
    notebook most are parsed in part — else the tests above check nothing new."""
    steps = 60
    partial = replay(reference_notebook(), seed=2, steps=steps)
    assert partial >= steps // 2
