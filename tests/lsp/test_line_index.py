"""``positions.apply_indexed_change``: the line index an edit leaves behind
answers every question as an index of the new text made afresh would.

The index is updated, not rebuilt, on each keystroke (only the lines around
the edit are read again, the starts below are shifted, and a shift may be
kept pending while typing stays on one line), so each step of random edit
sequences — typing on one line, jumping elsewhere, inserting and deleting
line breaks of every kind, a CR and an LF meeting across the edit — is
compared with ``LineIndex(new_text)``.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.lsp.positions import LineIndex, apply_indexed_change, line_starts

PIECES = ["x", "é", "😀", "\n", "\r\n", "\r", "ab\ncd", "\n\n", " = 1\n", ""]


def assert_same(index: LineIndex, text: str, *, whole: bool = False) -> None:
    """Every answer of ``index`` is that of a fresh index of ``text``; the
    whole ``starts`` list is asked for only when ``whole`` (asking applies a
    pending shift, and the next edit must also work with one pending)."""
    fresh = LineIndex(text)
    assert index.text == text
    assert index.line_count == len(line_starts(text))
    assert [index.start(line) for line in range(index.line_count)] == line_starts(text)
    lines = len(fresh.starts)
    for line in (-1, 0, lines // 2, lines - 1, lines, lines + 3):
        assert index.line_text(line) == fresh.line_text(line)
        for units in (0, 1, 3, 100):
            for encoding in ("utf-16", "utf-8", "utf-32"):
                assert index.offset(line, units, encoding) == fresh.offset(line, units, encoding)
    for offset in {0, len(text) // 3, len(text) // 2, max(len(text) - 1, 0), len(text)}:
        assert index.position(offset) == fresh.position(offset)
    if whole:
        assert index.starts == fresh.starts


def random_edit(index: LineIndex, rng: random.Random, line: int) -> tuple[LineIndex, int]:
    """Type, delete or paste near ``line`` (or, now and then, anywhere)."""
    lines = len(index.starts)
    if rng.random() < 0.2:
        line = rng.randrange(lines)
    line = min(line, lines - 1)
    column = rng.randrange(0, 6)
    if rng.random() < 0.5:
        start = end = (line, column)
    else:
        end_line = min(lines - 1, line + rng.choice([0, 0, 0, 1, 2]))
        start, end = (line, column), (end_line, rng.randrange(0, 6))
        if end < start:
            start, end = end, start
    piece = rng.choice(PIECES)
    return apply_indexed_change(index, start, end, piece, "utf-16"), line


def base_text(rng: random.Random) -> str:
    return "".join(
        rng.choice(["a = 1\n", "bb\r\n", "c\r", "\n", "long line here\n", "é😀\n"])
        for _ in range(40)
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_every_step_of_an_edit_sequence_indexes_the_new_text(seed: int) -> None:
    rng = random.Random(seed)
    text = base_text(rng)
    index = LineIndex(text)
    line = rng.randrange(len(index.starts))
    for _ in range(40):
        index, line = random_edit(index, rng, line)
        assert_same(index, index.text, whole=rng.random() < 0.2)


def test_typing_on_one_line_then_elsewhere() -> None:
    text = "".join(f"line {n} = {n}\n" for n in range(200))
    index = LineIndex(text)
    for n in range(30):  # typing, then deleting, on line 100
        if n % 2 == 0:
            index = apply_indexed_change(index, (100, 4), (100, 4), "7", "utf-16")
        else:
            index = apply_indexed_change(index, (100, 4), (100, 5), "", "utf-16")
        assert_same(index, index.text)
        assert index._from == 102  # the shift stays pending while typing stays on the line
    for where in [(10, 0), (150, 3), (100, 2), (199, 1), (0, 0)]:  # jumps, with newlines
        index = apply_indexed_change(index, where, where, "x\r\ny", "utf-16")
        assert_same(index, index.text)
        index = apply_indexed_change(index, (where[0] + 1, 0), (where[0] + 1, 0), "z", "utf-16")
        assert_same(index, index.text)
    assert index.text.count("x\r\nzy") == 5
    assert_same(index, index.text, whole=True)


def test_a_cr_and_an_lf_that_meet_across_an_edit_count_once() -> None:
    text = "a\rXb\nc\n"
    index = LineIndex(text)
    index = apply_indexed_change(index, (1, 0), (1, 1), "", "utf-16")  # the X goes
    assert_same(index, "a\rb\nc\n")
    index = apply_indexed_change(LineIndex("a\rX\nc\n"), (1, 0), (1, 1), "", "utf-16")
    assert_same(index, "a\r\nc\n")
