"""Positions as LSP counts them: lines split at ``\\n``, ``\\r\\n`` and ``\\r`` only,
characters in the negotiated encoding (UTF-16 code units by default).

The engine counts columns in code points; these helpers convert at the edge
and apply incremental text changes without pygls's ``splitlines`` (which
also breaks lines at form feeds and other characters LSP does not).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from sessions.format.markers import split_lines
from sessions.format.notebook import ParsedNotebook

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Offset of the start of each line (a final empty line after a break included)."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def to_client_column(line: str, column: int, encoding: str) -> int:
    """Code-point ``column`` of ``line`` -> client units."""
    if encoding == "utf-32" or line.isascii():
        return column
    return sum(_units(char, encoding) for char in line[:column])


def from_client_column(line: str, units: int, encoding: str) -> int:
    """Client ``units`` into ``line`` -> code points (clamped to the line)."""
    if encoding == "utf-32" or line.isascii():
        return min(units, len(line))
    counted = 0
    for index, char in enumerate(line):
        if counted >= units:
            return index
        counted += _units(char, encoding)
    return len(line)


def line_text(text: str, line: int) -> str:
    """Line ``line`` of ``text`` as LSP counts lines, without indexing the whole
    text: one C-level split up to the line when the text has no carriage
    return. A hover built a :class:`LineIndex` of the document each time
    (4 ms for 5,000 lines, on the loop, per hover)."""
    if "\r" in text:
        return LineIndex(text).line_text(line)
    if line < 0:
        return ""
    parts = text.split("\n", line + 1)
    return parts[line] if line < len(parts) else ""


class LineIndex:
    """Line starts of one text, for offset <-> (line, column) conversions.

    The starts from line ``_from`` on are ``_delta`` past what ``_base``
    holds: an edit shifts every start below it, and adding the shift to each
    (new ``int`` objects) cost about 1 ms per keystroke at 50,000 lines; kept
    pending, typing on one line only changes ``_delta``. :attr:`starts`
    applies it when the whole list is asked for."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._base = line_starts(text)
        self._from = len(self._base)
        self._delta = 0

    @property
    def starts(self) -> list[int]:
        """Every line's start offset."""
        self._apply_shift()
        return self._base

    def _apply_shift(self) -> None:
        if self._delta:
            base, at = self._base, self._from
            self._base = [*base[:at], *map(self._delta.__add__, base[at:])]
            self._from, self._delta = len(self._base), 0

    @property
    def line_count(self) -> int:
        return len(self._base)

    def start(self, line: int) -> int:
        """Where ``line`` (0 <= line < ``line_count``) starts."""
        start = self._base[line]
        return start + self._delta if line >= self._from else start

    def line_of(self, offset: int) -> int:
        """The line ``offset`` is on (``bisect_right(starts, offset) - 1``)."""
        base, at, delta = self._base, self._from, self._delta
        if at < len(base) and offset >= base[at] + delta:  # on a shifted line
            return bisect_right(base, offset - delta, at) - 1
        return bisect_right(base, offset, 0, at) - 1

    def line_text(self, line: int) -> str:
        if not 0 <= line < len(self._base):
            return ""
        start = self.start(line)
        end = self.start(line + 1) if line + 1 < len(self._base) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset(self, line: int, units: int, encoding: str) -> int:
        """Offset of a client position; positions past the end clamp to it."""
        if line < 0:
            return 0
        if line >= len(self._base):
            return len(self.text)
        return self.start(line) + from_client_column(self.line_text(line), units, encoding)

    def position(self, offset: int) -> tuple[int, int]:
        """(line, code-point column) of an offset."""
        line = self.line_of(offset)
        return line, offset - self.start(line)


class NotebookLines:
    """``line_text`` of a notebook's text without indexing every line of it:
    a line is looked up in the cell that holds it (each cell knows its first
    line), and only the cells asked about are split. Publishing diagnostics
    asks about a few lines; a :class:`LineIndex` of the whole text cost 1.5 ms
    at 5,000 lines and 15 ms at 50,000, on every edit."""

    def __init__(self, notebook: ParsedNotebook, text: str) -> None:
        self.notebook = notebook
        self.text = text
        self._cells: dict[int, list[str]] = {}
        self._whole: LineIndex | None = None

    def cell_raw(self, line: int) -> str | None:
        """The text of the cell that holds ``line``, or None where :meth:`line_text`
        reads the whole text (the YAML header, blank lines before the first
        cell, line 0 after a BOM)."""
        index = self.notebook.cell_at_line(line)
        if (
            index is None
            or self.notebook.cells[index].is_frontmatter
            or (line == 0 and self.notebook.bom)
        ):
            return None
        return self.notebook.cells[index].raw

    def line_text(self, line: int) -> str:
        index = self.notebook.cell_at_line(line)
        if (
            index is None
            or self.notebook.cells[index].is_frontmatter
            or (line == 0 and self.notebook.bom)
        ):
            # The YAML header, blank lines before the first cell, or a BOM
            # (a character of line 0 for the client, in no cell's text).
            if self._whole is None:
                self._whole = LineIndex(self.text)
            return self._whole.line_text(line)
        cell = self.notebook.cells[index]
        lines = self._cells.get(index)
        if lines is None:
            lines = self._cells[index] = split_lines(cell.raw)
        offset = line - cell.start_line
        return lines[offset].rstrip("\r\n") if 0 <= offset < len(lines) else ""


def apply_change(
    text: str, start: tuple[int, int], end: tuple[int, int], new_text: str, encoding: str
) -> str:
    """``text`` with the client range ``start``..``end`` replaced by ``new_text``."""
    return apply_indexed_change(LineIndex(text), start, end, new_text, encoding).text


def apply_indexed_change(
    index: LineIndex, start: tuple[int, int], end: tuple[int, int], new_text: str, encoding: str
) -> LineIndex:
    """The index of ``index.text`` with the client range replaced by ``new_text``.

    Only the line starts near the change are found again; those after it are
    shifted (the shift kept pending: :class:`LineIndex`). Indexing the whole
    text on every keystroke cost 1.5 ms at 5,000 lines (15 ms at 50,000). The
    lines around the edit are re-read, so that a CR and an LF meeting across
    the edit (one CRLF break) count once.
    """
    text = index.text
    begin = index.offset(start[0], start[1], encoding)
    finish = max(begin, index.offset(end[0], end[1], encoding))
    new = text[:begin] + new_text + text[finish:]
    delta = len(new_text) - (finish - begin)
    first = max(index.line_of(begin) - 1, 0)  # the line before the edit's
    last = index.line_of(finish) + 2  # first start past the line after it
    # The pending shift may stay pending when the starts kept above the edit
    # have none of it and those kept below all have it (typing on one line).
    if index._delta and not first < index._from <= last:
        index._apply_shift()
    count = index.line_count
    window_start = index.start(first)
    window_end = index.start(last) + delta if last < count else len(new)
    middle = [m.end() for m in _LINE_BREAK.finditer(new, window_start, window_end)]
    if last < count and middle and middle[-1] == window_end:
        middle.pop()  # the tail's first start, shifted below
    base = index._base
    updated = LineIndex.__new__(LineIndex)
    updated.text = new
    updated._base = [*base[: first + 1], *middle, *base[last:]]
    updated._from = first + 1 + len(middle)
    updated._delta = index._delta + delta if last < count else 0
    return updated
