"""Parsing an edited text from its previous parse: only the cells the edit touched.

A keystroke changes one cell; parsing the whole file again (splitting every
line, scanning every line for markers, building every cell) is what made a
one-cell edit cost O(file) at 50,000 lines. :func:`parse_edit` finds the
cells at the start and at the end of the previous text that the new text
still holds byte for byte, parses only the stretch between them, and moves
the cells after it to their new lines (keeping what was derived from them).

The stretch starts one cell before the first changed one: the edit may have
removed the marker that separated them, or added text that belongs to the
cell above. It ends where an unchanged cell starts on a new line with no
string left open, so that its marker is still a marker. When any of that is
not certain (an edit in the first cell, the YAML header or the preamble; a
triple-quoted string opened; a marker deleted at the stretch's start) the
whole text is parsed, as :func:`~sessions.format.notebook.parse` would.
The result always equals ``parse(text)`` (``tests/format/test_reparse.py``).
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Sequence
from itertools import compress, count, pairwise

from sessions.format.markers import marker_lines, split_lines
from sessions.format.notebook import (
    Cell,
    ParsedNotebook,
    parse,
    reuse_unchanged_cells,
    splice_cells,
)
from sessions.format.yaml_header import opens_header

_BOM = "\ufeff"


def parse_edit(previous_text: str, previous: ParsedNotebook, text: str) -> ParsedNotebook:
    """``parse(text)``, given that ``previous`` is ``parse(previous_text)``:
    the cells the edit did not touch are ``previous``'s own (moved to their
    new lines), so everything derived from them is kept."""
    if text is previous_text:
        return previous
    updated = _reparse(previous_text, previous, text)
    if updated is not None:
        return updated
    return reuse_unchanged_cells(previous, parse(text))


def _head(notebook: ParsedNotebook) -> str:
    """The text before the first cell's bytes: BOM, YAML header, blank prefix."""
    head = notebook.header + notebook.prefix
    return _BOM + head if notebook.bom else head


def _reparse(previous_text: str, previous: ParsedNotebook, text: str) -> ParsedNotebook | None:
    cells = previous.cells
    first = 1 if cells and cells[0].is_frontmatter else 0
    if len(cells) - first < 3:
        return None  # nothing worth keeping
    head = _head(previous)
    if not text.startswith(head):
        return None
    if not previous.header and opens_header(split_lines(head + cells[first].raw)):
        return None  # an unclosed header: a rule typed anywhere below would close it
    # Each cell's offset in the previous text, and which cells the new text
    # still holds at the same offset (from the start) or at the same distance
    # from the end, compared in C (``map``): a Python loop over the cells cost
    # about 4 ms per keystroke at 50,000 lines. The offsets and texts are the
    # previous notebook's columns, spliced from the one before (no pass over
    # the cells).
    raws, offsets = previous.raws, previous.raw_offsets
    # Unchanged cells from the start (the first real cell included: an edit
    # there may change what counts as preamble or header).
    same = map(text.startswith, raws[first:], offsets[first:])
    kept = next(compress(count(first), map(operator.not_, same)), len(cells))
    offset = offsets[kept]
    if kept == len(cells) and offset == len(text):
        return previous  # the same text
    # The stretch starts one cell before the first changed one, never at the first.
    start = kept - 1
    if start <= first:
        return None
    region_start = offsets[kept - 1]
    # Unchanged cells from the end, not reaching into the stretch's first cell
    # (only the frontmatter cell, the first, is empty; it is never among them).
    delta = len(text) - offsets[-1]  # from a cell's old offset to where it ends as far from the end
    lowest = max(kept, bisect_left(offsets, region_start - delta, kept, len(cells)))
    moved_offsets = map(delta.__add__, reversed(offsets[lowest : len(cells)]))
    matching = map(text.startswith, reversed(raws[lowest:]), moved_offsets)
    from_end = next(compress(count(), map(operator.not_, matching)), len(cells) - lowest)
    end = len(cells) - from_end
    new_end = len(text) if end == len(cells) else offsets[end] + delta
    if new_end < region_start:
        return None
    # The suffix's first marker must start a line of the new text.
    if end < len(cells) and new_end > region_start and text[new_end - 1] not in "\n\r":
        return None
    region = text[region_start:new_end]
    lines = split_lines(region)
    starts, state = marker_lines(lines)
    if state is not None or not starts or starts[0] != 0:
        return None  # an open string or a lost marker: the boundaries may move anywhere
    line = cells[start].start_line
    earlier = {cell.raw: cell for cell in cells[start:end]}
    middle: list[Cell] = []
    for begin, stop in pairwise([*starts, len(lines)]):
        raw = "".join(lines[begin:stop])
        reused = earlier.get(raw)
        cell = reused._at(line + begin) if reused is not None else Cell(raw, line + begin)
        middle.append(cell)
    line += len(lines)
    following: Sequence[Cell] = cells[end:]
    if following and following[0].start_line != line:  # moved: each cell's lines change
        moved: list[Cell] = []
        for cell in following:
            moved.append(cell._at(line))
            line += cell.line_count
        following = moved
    return splice_cells(previous, start, end, middle, following)
