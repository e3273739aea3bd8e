"""The ``# %%`` percent notebook format: parse, serialize, edit (DESIGN §2).

A :class:`Notebook` is a sequence of :class:`Cell` objects that each keep the
exact text they were parsed from (``raw``), so ``serialize(parse(t)) == t`` for
every string, and an edit to one cell rewrites only that cell's bytes. A
Jupytext YAML header at the top is notebook metadata, kept as exact text in
``Notebook.header`` and not a cell (see ``yaml_header``); root-level YAML in it
is the one cell without bytes of its own, the *frontmatter* raw cell on top.

Everything a UI or the analysis needs (title, kind, metadata, the uncommented
source, the code the kernel runs, file line numbers) is derived from ``raw``.

The edit functions return a new notebook that always equals what parsing its
text gives. When an edit's text would not stay where it was put (a new source
containing a ``# %%`` line or an unclosed triple-quoted string, or an empty
preamble, which is no preamble), the result is the honest re-parse.
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import accumulate, chain, pairwise
from typing import Any, Literal, overload

from sessions.format.hashing import code_hash
from sessions.format.language_cells import (
    LanguageMagic,
    cell_metadata,
    comment_body,
    magic_of_metadata,
    magic_of_source,
    uncomment_body,
)
from sessions.format.magics import comment_magics, uncomment_magics
from sessions.format.markdown import encode_markdown, quote_delimiter, uncomment_markdown
from sessions.format.markers import (
    CellHeader,
    format_header,
    line_ending,
    marker_lines,
    parse_header,
    split_lines,
)
from sessions.format.yaml_header import HeaderBlock, HeaderError, find_header

__all__ = [
    "Cell",
    "CellHeader",
    "CellKind",
    "HeaderError",
    "ParsedNotebook",
    "delete_cell",
    "format_header",
    "insert_cell",
    "make_header",
    "move_cell",
    "parse",
    "parse_header",
    "serialize",
    "set_source",
    "splice_cells",
    "split_lines",
]

CellKind = Literal["code", "markdown", "raw"]

_BOM = "\ufeff"
_FIRST_EOL = re.compile(r"\r\n|\r|\n")
_PREAMBLE_HEADER = CellHeader()
_FRONTMATTER_HEADER = CellHeader(cell_type="raw")


def _count_lines(text: str) -> int:
    """Number of lines in ``text``, a final line without an ending included."""
    count = text.count("\n") + text.count("\r") - text.count("\r\n")
    return count + 1 if text and text[-1] not in "\r\n" else count


def _to_lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _is_blank(text: str) -> bool:
    return text == "" or text.isspace()


@dataclass(frozen=True, eq=False)
class Cell:
    """One cell, holding the exact text it was parsed from.

    ``raw`` = header line (absent for the preamble) + body + separator, where
    the separator is the run of blank (whitespace-only) lines before the next
    marker or the end of the file. Concatenating every cell's ``raw`` gives
    the file back (after the BOM, YAML header and any blank prefix, see
    :class:`Notebook`).

    The frontmatter cell has no bytes of its own (``raw`` is empty): it is the
    root-level YAML of the notebook's header, shown as Jupytext shows it.
    """

    raw: str
    start_line: int
    """0-based file line of the header (or of the preamble's first line)."""
    is_preamble: bool = False
    frontmatter: str | None = None
    """For the frontmatter cell: its source (``---``, root-level YAML, ``---``)."""

    @property
    def is_frontmatter(self) -> bool:
        return self.frontmatter is not None

    @property
    def has_marker(self) -> bool:
        """Whether the cell's first line is a ``# %%`` marker."""
        return not self.is_preamble and self.frontmatter is None

    @cached_property
    def _parts(self) -> tuple[str, str, str]:
        """(header line with its line ending, body, separator)."""
        lines = split_lines(self.raw)
        header = ""
        if self.has_marker and lines:
            header = lines[0]
            del lines[0]
        end = len(lines)
        while end > 0 and lines[end - 1].isspace():
            end -= 1
        return header, "".join(lines[:end]), "".join(lines[end:])

    @property
    def header_line(self) -> str | None:
        """The marker line without its line ending; ``None`` for the preamble and frontmatter."""
        if not self.has_marker:
            return None
        header = self._parts[0]
        return header[: len(header) - len(line_ending(header))]

    @property
    def body(self) -> str:
        """Text between the header line and the separator, exactly as in the file."""
        return self._parts[1]

    @property
    def separator(self) -> str:
        """The blank lines after the body, exactly as in the file."""
        return self._parts[2]

    @cached_property
    def header(self) -> CellHeader:
        if self.is_preamble:
            return _PREAMBLE_HEADER
        if self.frontmatter is not None:
            return _FRONTMATTER_HEADER
        return parse_header(self._parts[0])

    @cached_property
    def language(self) -> LanguageMagic | None:
        """For a ``# %% language="bash"`` code cell: the cell magic it stands for."""
        if self.kind != "code" or not self.has_marker:
            return None
        return magic_of_metadata(self.header.metadata)

    @cached_property
    def kind(self) -> CellKind:
        return self.header.cell_type

    @property
    def title(self) -> str:
        return self.header.title

    @cached_property
    def metadata(self) -> Mapping[str, Any]:
        """The cell metadata, as Jupytext reads it (``language=`` keys are the magic)."""
        if self.kind != "code":
            return self.header.metadata
        return cell_metadata(self.header.metadata)

    @cached_property
    def id(self) -> str | None:
        """The explicit ``id="..."`` of the header, used first for cell identity."""
        value = self.metadata.get("id")
        return value if isinstance(value, str) else None

    @cached_property
    def body_line(self) -> int:
        """0-based file line of line 0 of ``code``: line k of ``code`` is ``body_line + k``.

        The body starts there, except in a ``language=`` cell, whose code line 0
        (``%%bash``) is the marker line that writes it.
        """
        if not self.has_marker or self.language is not None:
            return self.start_line
        return self.start_line + 1

    @cached_property
    def line_count(self) -> int:
        """Lines of ``raw``: header, body and separator (counted once: the
        language server asks every cell's ``end_line`` on every edit)."""
        return _count_lines(self.raw)

    @property
    def end_line(self) -> int:
        """0-based file line just after this cell (its separator included)."""
        return self.start_line + self.line_count

    @cached_property
    def source(self) -> str:
        """What a notebook UI shows: LF line endings, no trailing newline.

        Markdown and raw cells are uncommented; code cells show magics
        uncommented, as Jupytext does, so the text is what the kernel runs; a
        ``language=`` cell is its cell magic and its uncommented body.
        """
        if self.frontmatter is not None:
            return self.frontmatter
        text = _to_lf(self.body)
        if text.endswith("\n"):
            text = text[:-1]
        if self.kind == "code":
            magic = self.language
            if magic is not None:
                return magic.line + "\n" + uncomment_body(text) if text else magic.line
            return uncomment_magics(text)
        return uncomment_markdown(text)

    @property
    def code(self) -> str:
        """The code the kernel receives (empty for markdown and raw cells)."""
        return self.source if self.kind == "code" else ""

    @cached_property
    def hash(self) -> str:
        """``code_hash`` of the source (for code cells: of the code that runs)."""
        return code_hash(self.source)

    def display_name(self, limit: int = 60) -> str:
        """Title, or the first non-empty source line, shortened for tables."""
        text = self.title or next(
            (line.strip() for line in self.source.splitlines() if line.strip()), ""
        )
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def _at(self, start_line: int) -> Cell:
        """The same cell at another file line, keeping what was already derived."""
        if start_line == self.start_line:
            return self
        # A copy of the fields and of every value derived so far (the frozen
        # dataclass's __init__ would set each field again: 4 times slower, and
        # the notebook view moves thousands of cells per keystroke). Each
        # derived value depends on the text alone, except ``body_line``, which
        # moves with the cell: kept stale, a cell's diagnostics and hovers
        # stayed on its old lines after lines were added above it.
        moved = object.__new__(Cell)
        values = moved.__dict__
        values.update(self.__dict__)
        values["start_line"] = start_line
        body_line = values.get("body_line")
        if body_line is not None:
            values["body_line"] = body_line + start_line - self.start_line
        return moved

    @cached_property
    def memo(self) -> dict[str, Any]:
        """Values other layers derive from this cell's text (not its place),
        kept with the cell across edits elsewhere (``reuse_unchanged_cells``)."""
        return {}


def reuse_unchanged_cells(previous: ParsedNotebook, notebook: ParsedNotebook) -> ParsedNotebook:
    """``notebook`` with every cell whose text is unchanged since ``previous``
    carrying over what was already derived from it (source, code, hash).

    An edit then re-derives only the cells it touched: a full re-derivation
    would redo all 250 cells of the reference notebook on every keystroke
    (DESIGN §9: didChange -> diagnostics p50 ≤ 15 ms). The result equals
    ``notebook`` in every observable property.
    """
    earlier = {(cell.raw, cell.is_preamble, cell.frontmatter): cell for cell in previous.cells}
    cells = tuple(
        kept._at(cell.start_line)
        if (kept := earlier.get((cell.raw, cell.is_preamble, cell.frontmatter))) is not None
        else cell
        for cell in notebook.cells
    )
    return replace(notebook, cells=cells)


@dataclass(frozen=True)
class ParsedNotebook:
    """A parsed notebook. ``serialize(nb)`` is the exact text it came from."""

    cells: tuple[Cell, ...]
    bom: bool = False
    prefix: str = ""
    """Whitespace-only lines before the first marker (there is no preamble then)."""
    newline: str = "\n"
    """Line ending used for text we add (the file's first line ending)."""
    header: str = ""
    """The Jupytext YAML header's exact text (with the shebang and coding line
    above it and the blank line after it), or empty. It comes first, after the
    BOM; :meth:`metadata` reads it."""

    @cached_property
    def header_block(self) -> HeaderBlock | None:
        return find_header(split_lines(self.header)) if self.header else None

    def metadata(self) -> dict[str, Any]:
        """The notebook metadata the header holds (``{}`` without one).

        Raises :class:`HeaderError` when the header's YAML cannot be read.
        """
        block = self.header_block
        return block.metadata() if block is not None else {}

    def __len__(self) -> int:
        return len(self.cells)

    def __getitem__(self, index: int) -> Cell:
        return self.cells[index]

    def __iter__(self) -> Iterator[Cell]:
        return iter(self.cells)

    # -- columns: one value per cell, as one sequence ------------------------------
    #
    # At 2,500 cells a pass that reads one attribute of every cell costs about
    # 1 ms per keystroke in the language server (each cell is a cache miss), and
    # several layers each made one. A column is read once per notebook, and
    # :func:`splice_cells` (an edit, ``reparse``) builds the next notebook's
    # columns from this one's by slicing, without touching the cells it kept.

    @cached_property
    def raws(self) -> tuple[str, ...]:
        """Each cell's ``raw``."""
        return tuple(map(_RAW, self.cells))

    @cached_property
    def raw_offsets(self) -> tuple[int, ...]:
        """Where each cell's ``raw`` starts in ``serialize(self)``, then where
        the last one ends (the frontmatter cell, without bytes, at 0)."""
        first = 1 if self.cells and self.cells[0].is_frontmatter else 0
        head = len(self.header) + len(self.prefix) + (1 if self.bom else 0)
        return (0,) * first + tuple(accumulate(map(len, self.raws[first:]), initial=head))

    @cached_property
    def memos(self) -> tuple[dict[str, Any], ...]:
        """Each cell's ``memo`` (the same dict while the cell's text is the same)."""
        return tuple(map(_MEMO, self.cells))

    @cached_property
    def kinds(self) -> tuple[CellKind, ...]:
        """Each cell's ``kind``."""
        return tuple(map(_KIND, self.cells))

    @cached_property
    def hashes(self) -> tuple[str, ...]:
        """Each cell's ``hash``."""
        return tuple(map(_HASH, self.cells))

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return tuple(map(_START_LINE, self.cells))

    @property
    def line_count(self) -> int:
        """Lines in the file (a final line without an ending counts)."""
        if self.cells and self.cells[-1].raw:
            return self.cells[-1].end_line
        return _count_lines(self.header) + _count_lines(self.prefix)

    def cell_at_line(self, line: int) -> int | None:
        """Index of the cell containing 0-based file ``line``, if any."""
        index = bisect_right(self._starts, line) - 1
        if index < 0 or line >= self.line_count:
            return None
        return index


_RAW = operator.attrgetter("raw")
_MEMO = operator.attrgetter("memo")
_START_LINE = operator.attrgetter("start_line")
_KIND = operator.attrgetter("kind")
_HASH = operator.attrgetter("hash")


def splice_cells(
    previous: ParsedNotebook,
    start: int,
    end: int,
    middle: Sequence[Cell],
    following: Sequence[Cell],
) -> ParsedNotebook:
    """``previous`` with its cells ``start:end`` replaced by ``middle``;
    ``following`` are its cells ``end:`` moved to the lines below ``middle``
    (``Cell._at``: the same text and everything derived from it). The columns
    ``previous`` had are spliced rather than read again from every cell."""
    cells = previous.cells
    notebook = ParsedNotebook(
        cells=(*cells[:start], *middle, *following),
        bom=previous.bom,
        prefix=previous.prefix,
        newline=previous.newline,
        header=previous.header,
    )
    known = previous.__dict__
    columns = notebook.__dict__  # what ``cached_property`` fills in
    if "raw_offsets" in known:
        offsets = previous.raw_offsets
        delta = sum(map(len, map(_RAW, middle))) - (offsets[end] - offsets[start])
        tail = offsets[end + 1 :]
        columns["raw_offsets"] = (
            *offsets[:start],
            *accumulate(map(len, map(_RAW, middle)), initial=offsets[start]),
            *(map(delta.__add__, tail) if delta else tail),
        )
    # A moved cell has the text, memo, kind and hash of the cell it was moved
    # from: the column read them, so they were in the ``__dict__`` ``_at`` copied.
    for name, read in (("raws", _RAW), ("memos", _MEMO), ("kinds", _KIND), ("hashes", _HASH)):
        if name in known:
            column = known[name]
            columns[name] = (*column[:start], *map(read, middle), *column[end:])
    if "_starts" in known:
        shift = following[0].start_line - cells[end].start_line if following else 0
        starts = previous._starts[end:]
        columns["_starts"] = (
            *previous._starts[:start],
            *map(_START_LINE, middle),
            *(map(shift.__add__, starts) if shift else starts),
        )
    return notebook


def parse(text: str) -> ParsedNotebook:
    """Split ``text`` into cells. Never raises; any string is a notebook."""
    bom = text.startswith(_BOM)
    if bom:
        text = text[1:]
    eol = _FIRST_EOL.search(text)
    newline = eol.group() if eol else "\n"
    lines = split_lines(text)
    block = find_header(lines) if text.startswith("#") else None
    skip = len(block.lines) if block is not None else 0
    # The header is all comments: no marker and no string can start inside it.
    starts, _ = marker_lines(lines[skip:] if skip else lines)
    if skip:
        starts = [start + skip for start in starts]

    cells: list[Cell] = []
    if block is not None and block.frontmatter is not None:
        cells.append(Cell(raw="", start_line=0, frontmatter=block.frontmatter))
    prefix = ""
    first = starts[0] if starts else len(lines)
    if first > skip:
        head = "".join(lines[skip:first])
        if head.isspace():
            prefix = head
        else:
            cells.append(Cell(raw=head, start_line=skip, is_preamble=True))
    bounds = [*starts, len(lines)]
    for begin, end in pairwise(bounds):
        cells.append(Cell(raw="".join(lines[begin:end]), start_line=begin))
    header = block.text if block is not None else ""
    return ParsedNotebook(
        cells=tuple(cells), bom=bom, prefix=prefix, newline=newline, header=header
    )


def serialize(notebook: ParsedNotebook) -> str:
    """The file text; ``serialize(parse(t)) == t`` for every string ``t``."""
    head = notebook.header + notebook.prefix
    return (_BOM + head if notebook.bom else head) + "".join(cell.raw for cell in notebook.cells)


def make_header(
    kind: CellKind = "code", title: str = "", metadata: Mapping[str, Any] | None = None
) -> str:
    """The marker line for a new cell, without a line ending."""
    return format_header(CellHeader(title=title, cell_type=kind, metadata=dict(metadata or {})))


def _encode_body(
    source: str,
    kind: CellKind,
    newline: str,
    opener: str | None = None,
    language: tuple[LanguageMagic, str] | None = None,
) -> str:
    """UI source -> file body lines, each ending with ``newline`` ("" for no lines).

    ``language`` is ``magic_of_source(source)`` for a cell written with a
    ``language=`` header: its body is commented.
    """
    source = _to_lf(source)
    if kind != "code":
        text = encode_markdown(source, opener)
    elif language is not None:
        text = comment_body(language[1])
    else:
        text = comment_magics(source)
    if text == "" and source == "":
        return ""
    return newline.join(text.split("\n")) + newline


def _language_of(source: str, kind: CellKind) -> tuple[LanguageMagic, str] | None:
    """How a new code source is written: with a ``language=`` header, or not."""
    return magic_of_source(_to_lf(source)) if kind == "code" else None


def _with_language(
    metadata: Mapping[str, Any], language: tuple[LanguageMagic, str] | None
) -> dict[str, Any]:
    """Header metadata for a cell written (or not) with a ``language=`` header."""
    kept = dict(cell_metadata(metadata))
    return {**kept, **language[0].metadata()} if language is not None else kept


def _join(text: str, following: str) -> str:
    """``text + following`` without a CR at the end of ``text`` and an LF at the
    start of ``following`` fusing into one CRLF (a lost blank line)."""
    if text.endswith("\r") and following.startswith("\n"):
        text += "\n"
    return text + following


def _drop_final_eol(text: str) -> str:
    return text[: len(text) - len(line_ending(text))]


def set_source(notebook: ParsedNotebook, index: int, source: str) -> ParsedNotebook:
    """Replace one cell's source; every other cell keeps its exact bytes.

    The cell keeps its header and separator; line breaks in ``source`` are
    written with the file's line ending, and a missing final newline stays
    missing. Trailing blank lines of a code source join the separator.
    """
    cell = notebook.cells[index]
    if _to_lf(source) == cell.source:
        return notebook
    if cell.frontmatter is not None:
        return _set_frontmatter(notebook, source)
    return _replace_one(notebook, index, _with_source(notebook, index, source))


def _with_source(notebook: ParsedNotebook, index: int, source: str) -> Cell:
    """Cell ``index`` (no frontmatter) with ``source``, as :func:`set_source`
    writes it: it depends on that cell, its being the last, and the line ending."""
    cell = notebook.cells[index]
    header, body, separator = cell._parts
    nl = notebook.newline
    opener = None if cell.kind == "code" else quote_delimiter(_to_lf(body))
    language = _language_of(source, cell.kind) if cell.has_marker else None
    if (language[0] if language is not None else None) != cell.language:
        # The magic changed, and with it the header that writes it.
        metadata = _with_language(cell.header.metadata, language)
        header = make_header("code", cell.title, metadata) + line_ending(header)
    new_body = _encode_body(source, cell.kind, nl, opener, language)
    if new_body and header and not line_ending(header):
        header += nl
    text = _join(header, new_body)  # a CR header line and a blank first line stay two lines
    is_last = index == len(notebook.cells) - 1
    if is_last and not separator and not line_ending(cell.raw):
        text = _drop_final_eol(text)  # keep a missing final newline missing
    return Cell(
        raw=_join(text, separator), start_line=cell.start_line, is_preamble=cell.is_preamble
    )


def set_sources_text(notebook: ParsedNotebook, edits: Sequence[tuple[int, str]]) -> str | None:
    """``serialize`` of ``set_source`` applied for each ``(index, source)`` of
    ``edits`` in order (distinct indexes), without building the notebooks in
    between; None when one of those calls would not keep every other cell as
    it is (the header or the edited cell no longer reads back alone, or a
    frontmatter edit): then the caller folds ``set_source`` itself.

    The notebook view serializes every cell edited since it opened the
    notebook on each keystroke. A ``set_source`` that changes a cell's line
    count moves every cell below it to new start lines, which serializing
    never reads: at 50,000 lines with 30 such cells, 1.4 of 1.5 ms per cell.
    """
    replaced = _sources_set(notebook, edits)
    if replaced is None:
        return None
    if not replaced:
        return serialize(notebook)
    head = notebook.header + notebook.prefix
    raws = list(notebook.raws)
    for index, cell in replaced.items():
        raws[index] = cell.raw
    return (_BOM + head if notebook.bom else head) + "".join(raws)


def set_sources(
    notebook: ParsedNotebook, edits: Sequence[tuple[int, str]], *, placed: bool = True
) -> ParsedNotebook | None:
    """:func:`set_sources_text` as a notebook: ``set_source`` applied for each
    edit in order, with the cells below moved once instead of after each.

    ``placed=False``: no cell is moved to its new start line (see
    :func:`insert_cells`), for a notebook that is only serialized."""
    replaced = _sources_set(notebook, edits)
    if replaced is None:
        return None
    if not replaced:
        return notebook
    cells = notebook.cells
    if not placed:
        unplaced = list(cells)
        for index, cell in replaced.items():
            unplaced[index] = cell
        return replace(notebook, cells=tuple(unplaced))
    first = min(replaced)
    line = cells[first].start_line
    moved = list(cells[:first])
    for index in range(first, len(cells)):
        cell = replaced.get(index, cells[index])
        moved.append(cell._at(line))
        line += cell.line_count
    return ParsedNotebook(
        cells=tuple(moved),
        bom=notebook.bom,
        prefix=notebook.prefix,
        newline=notebook.newline,
        header=notebook.header,
    )


def _sources_set(
    notebook: ParsedNotebook, edits: Sequence[tuple[int, str]]
) -> dict[int, Cell] | None:
    """The cells ``set_source`` would write for ``edits`` in turn, by index,
    when each call keeps every other cell as it is; else None."""
    cells = notebook.cells
    patched = _PatchedCells(cells)
    for index, source in edits:
        cell = cells[index]
        if _to_lf(source) == cell.source:
            continue  # set_source returns the notebook as it is
        if cell.frontmatter is not None or index in patched.replaced:
            return None
        patched.replaced[index] = _with_source(notebook, index, source)
        if not _one_reads_back_in(notebook.header, notebook.prefix, patched, index):
            return None
    return patched.replaced


class _PatchedCells(Sequence[Cell]):
    """``cells`` with some replaced, read without copying them (the header
    check reads only the first few)."""

    def __init__(self, cells: Sequence[Cell]) -> None:
        self.cells = cells
        self.replaced: dict[int, Cell] = {}

    def __len__(self) -> int:
        return len(self.cells)

    @overload
    def __getitem__(self, index: int) -> Cell: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Cell]: ...
    def __getitem__(self, index: int | slice) -> Cell | Sequence[Cell]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.cells)))]
        if index < 0:
            index += len(self.cells)
        found = self.replaced.get(index)
        return found if found is not None else self.cells[index]

    def __iter__(self) -> Iterator[Cell]:
        replaced = self.replaced
        for index, cell in enumerate(self.cells):
            yield replaced.get(index, cell)


def _replace_one(notebook: ParsedNotebook, index: int, new: Cell) -> ParsedNotebook:
    """``notebook`` (which reads back) with cell ``index`` replaced by ``new``
    (at the same start line): :func:`_finish` for one changed cell, without a
    Python pass over every cell. The notebook view sets the source of each
    cell edited since the notebook was opened on every keystroke, and a pass
    over every cell for each cost 3–5 ms at 50,000 lines."""
    cells = notebook.cells
    old = cells[index]
    following: Sequence[Cell] = cells[index + 1 :]
    if new.line_count != old.line_count:
        line = new.start_line + new.line_count
        moved: list[Cell] = []
        for cell in following:
            moved.append(cell._at(line))
            line += cell.line_count
        following = moved
    result = splice_cells(notebook, index, index + 1, [new], following)
    if _one_reads_back(result, index):
        return result
    return _reparse(result, notebook.newline)


def _one_reads_back(notebook: ParsedNotebook, index: int) -> bool:
    """:func:`_reads_back` of a notebook that read back before its cell
    ``index`` changed (its kind of cell, preamble or not, did not): only the
    header and that cell can read differently now."""
    return _one_reads_back_in(notebook.header, notebook.prefix, notebook.cells, index)


def _one_reads_back_in(header: str, prefix: str, cells: Sequence[Cell], index: int) -> bool:
    """:func:`_one_reads_back` of the notebook with this header, prefix and cells."""
    if not _header_reads_back_in(header, prefix, cells):
        return False
    cell = cells[index]
    if cell.is_preamble and (index > (1 if cells[0].is_frontmatter else 0) or _is_blank(cell.raw)):
        return False
    if index < len(cells) - 1 and not line_ending(cell.raw):
        return False
    starts, open_string = marker_lines(split_lines(cell.raw))
    if starts != ([] if cell.is_preamble else [0]):
        return False
    return index == len(cells) - 1 or open_string is None


def _set_frontmatter(notebook: ParsedNotebook, source: str) -> ParsedNotebook:
    """Rewrite the header's root-level YAML; text that is no frontmatter becomes a raw cell.

    The ``jupyter:`` section (the notebook metadata) is kept as it is.
    """
    block = notebook.header_block
    if block is None:  # pragma: no cover - a frontmatter cell always has a header
        raise ValueError("the notebook has no YAML header")
    source = _to_lf(source)
    header = block.with_frontmatter(source, notebook.newline)
    if header is not None:
        return _reparse(replace(notebook, header=header), notebook.newline)
    without = _reparse(
        replace(notebook, header=block.with_frontmatter("", notebook.newline) or ""),
        notebook.newline,
    )
    if without.cells and without.cells[0].is_preamble:
        # The text was above the preamble: to stay there, the preamble needs a marker.
        cells = list(without.cells)
        cells[0] = Cell(raw=make_header() + notebook.newline + cells[0].raw, start_line=0)
        without = _reparse(replace(without, cells=tuple(cells)), notebook.newline)
    return insert_cell(without, 0, source, kind="raw")


def _reparse(notebook: ParsedNotebook, newline: str) -> ParsedNotebook:
    """The notebook its text reads as (after an edit of the header)."""
    return replace(parse(serialize(notebook)), newline=newline)


def _check_insertion(cells: Sequence[Cell], index: int) -> None:
    """Refuse an insertion point out of range, or above the preamble or the frontmatter."""
    if not 0 <= index <= len(cells):
        raise IndexError(f"cell index {index} out of range 0..{len(cells)}")
    if index < _fixed_count(cells):
        what = "preamble" if cells[index].is_preamble else "YAML header's frontmatter"
        raise ValueError(f"nothing can be inserted above the {what}")


def insert_cell(
    notebook: ParsedNotebook,
    index: int,
    source: str = "",
    kind: CellKind = "code",
    title: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> ParsedNotebook:
    """Insert a new cell before position ``index`` (``len(notebook)`` appends).

    Exactly one blank line separates the new cell from its neighbour: the new
    cell carries it when a cell follows; when appending, the previous last
    cell gets it (and a final line ending, if it had none) unless it already
    ends with a blank line. No other byte changes. Nothing can go above the
    preamble (text before the first marker is the preamble), so ``index`` 0
    with a preamble raises ``ValueError``.
    """
    cells = list(notebook.cells)
    _check_insertion(cells, index)
    nl = notebook.newline
    prefix = notebook.prefix
    header = notebook.header
    language = _language_of(source, kind)
    head = make_header(
        kind, title, _with_language(metadata or {}, language) if kind == "code" else metadata
    )
    text = head + nl + _encode_body(source, kind, nl, language=language)
    checked = {index}
    if index < len(cells):
        text += nl
    elif cells:
        last = cells[-1]
        raw = last.raw if line_ending(last.raw) else last.raw + nl
        if not last.separator:
            raw += nl
        if raw != last.raw:
            cells[-1] = Cell(raw=raw, start_line=last.start_line, is_preamble=last.is_preamble)
        checked.add(index - 1)  # it is no longer last: it must not end inside a string
    elif prefix and not line_ending(prefix):
        prefix += nl
    elif not prefix and header and not line_ending(header):
        header += nl
    cells.insert(index, Cell(raw=text, start_line=0))
    return _finish(replace(notebook, header=header), cells, prefix, checked=checked)


@dataclass(frozen=True)
class NewCell:
    """A cell to insert with :func:`insert_cells`."""

    source: str = ""
    kind: CellKind = "code"
    title: str = ""
    metadata: Mapping[str, Any] | None = None


def _new_cell_text(cell: NewCell, newline: str) -> str:
    language = _language_of(cell.source, cell.kind)
    metadata = cell.metadata
    try:
        head = make_header(
            cell.kind,
            cell.title,
            _with_language(metadata or {}, language) if cell.kind == "code" else metadata,
        )
    except (TypeError, ValueError):
        # Metadata the header cannot hold: keep the cell, drop what cannot be written.
        head = make_header(
            cell.kind, cell.title, _with_language({}, language) if cell.kind == "code" else None
        )
    return head + newline + _encode_body(cell.source, cell.kind, newline, language=language)


def insert_cells(
    notebook: ParsedNotebook, index: int, new: Sequence[NewCell], *, placed: bool = True
) -> ParsedNotebook:
    """``insert_cell`` for several consecutive cells at once: the same text as
    inserting them one by one, in time linear in the notebook (one placement
    of the cells instead of one per inserted cell), which matters when a
    front end saves a notebook whose cells it created itself.

    ``placed=False``: the cells keep the start lines they had (the new ones
    0), for a notebook that is only serialized, as the notebook view's is on
    each keystroke: moving the thousands of cells below an edit to their new
    lines was most of its cost. Its cells' lines are then wrong, though its
    text is exactly the placed notebook's; only a re-parse places them again."""
    if not new:
        return notebook
    cells = list(notebook.cells)
    _check_insertion(cells, index)
    nl = notebook.newline
    prefix = notebook.prefix
    header = notebook.header
    appending = index == len(cells)
    texts = [_new_cell_text(cell, nl) for cell in new]
    for position in range(len(texts) - (1 if appending else 0)):
        texts[position] += nl  # one blank line before the next cell
    checked = set(range(index, index + len(texts)))
    if appending and cells:
        last = cells[-1]
        raw = last.raw if line_ending(last.raw) else last.raw + nl
        if not last.separator:
            raw += nl
        if raw != last.raw:
            cells[-1] = Cell(raw=raw, start_line=last.start_line, is_preamble=last.is_preamble)
        checked.add(index - 1)
    elif appending and prefix and not line_ending(prefix):
        prefix += nl
    elif appending and not prefix and header and not line_ending(header):
        header += nl
    cells[index:index] = [Cell(raw=text, start_line=0) for text in texts]
    return _finish(replace(notebook, header=header), cells, prefix, checked=checked, placed=placed)


def delete_cell(notebook: ParsedNotebook, index: int) -> ParsedNotebook:
    """Remove exactly one cell's bytes (its header, body and separator).

    Deleting the frontmatter removes the header's root-level YAML and keeps
    its ``jupyter:`` section, the notebook metadata.
    """
    cells = list(notebook.cells)
    if cells[index].is_frontmatter:
        return _set_frontmatter(notebook, "")
    del cells[index]
    return _finish(notebook, cells, notebook.prefix, checked=set())


def move_cell(notebook: ParsedNotebook, source_index: int, target_index: int) -> ParsedNotebook:
    """Move a cell so that it ends up at ``target_index`` (list pop + insert).

    Headers and bodies move unchanged. The end of the file stays the end of
    the file: when the last cell changes, the old and the new last cell trade
    separators (and the missing final newline, if any), so no two cells run
    together and the file's trailing blank lines stay where they were. The
    preamble cannot move and nothing can move above it (``ValueError``).
    """
    cells = list(notebook.cells)
    count = len(cells)
    if not (-count <= source_index < count and -count <= target_index < count):
        raise IndexError("cell index out of range")
    source_index %= count
    target_index %= count
    if min(source_index, target_index) < _fixed_count(cells):
        raise ValueError(
            "the preamble and the YAML header's frontmatter cannot move "
            "and nothing can move above them"
        )
    if source_index == target_index:
        return notebook
    old_last = cells[-1]
    cells.insert(target_index, cells.pop(source_index))
    new_last = cells[-1]
    checked: set[int] = set()
    if new_last is not old_last:
        old_end, new_end = _trade_endings(old_last, new_last, notebook.newline)
        at_old, at_new = cells.index(old_last), count - 1
        cells[at_old], cells[at_new] = old_end, new_end
        checked = {at_old, at_new}
    moved = _finish(notebook, cells, notebook.prefix, checked=checked)
    if [c.source for c in moved.cells] != [c.source for c in cells]:
        # The moved text reads as other cells (a cell's ``# ---`` line now
        # closing a YAML header that the preamble opens, say): refused, so a
        # move never changes cells it did not move.
        raise ValueError(
            "moving this cell there would make the file read back as other cells (a line "
            "that reads as a cell marker or YAML header would land in a new place); "
            "edit the text instead"
        )
    return moved


def _fixed_count(cells: Sequence[Cell]) -> int:
    """How many cells at the top have no marker (frontmatter, preamble): they stay first."""
    count = 0
    while count < len(cells) and not cells[count].has_marker:
        count += 1
    return count


def _trade_endings(old_last: Cell, new_last: Cell, newline: str) -> tuple[Cell, Cell]:
    """Give ``new_last`` the file's ending (``old_last``'s separator) and vice versa."""
    old_header, old_body, old_separator = old_last._parts
    new_header, new_body, new_separator = new_last._parts
    old_text = old_header + old_body
    if old_text and not line_ending(old_text):
        old_text += newline
    new_text = new_header + new_body
    if not old_separator and not line_ending(old_last.raw):
        new_text = _drop_final_eol(new_text)
    return (
        Cell(raw=_join(old_text, new_separator), start_line=0, is_preamble=old_last.is_preamble),
        Cell(raw=_join(new_text, old_separator), start_line=0, is_preamble=new_last.is_preamble),
    )


def _finish(
    notebook: ParsedNotebook,
    cells: Sequence[Cell],
    prefix: str,
    checked: set[int],
    placed: bool = True,
) -> ParsedNotebook:
    """Place ``cells`` on their file lines (unless not ``placed``); re-parse if
    the text would read differently.

    Only the cells in ``checked`` (new or changed text) and the cell boundaries
    can differ from a parse, so only those are verified.
    """
    if placed:
        line = _count_lines(notebook.header) + _count_lines(prefix)
        on_lines: list[Cell] = []
        for cell in cells:
            on_lines.append(cell._at(0) if cell.is_frontmatter else cell._at(line))
            line += cell.line_count
        cells = on_lines
    result = ParsedNotebook(
        cells=tuple(cells),
        bom=notebook.bom,
        prefix=prefix,
        newline=notebook.newline,
        header=notebook.header,
    )
    if _reads_back(result, checked):
        return result
    return _reparse(result, notebook.newline)


def _reads_back(notebook: ParsedNotebook, checked: set[int]) -> bool:
    """Whether ``parse(serialize(notebook))`` has exactly these cells."""
    cells = notebook.cells
    frontmatter = bool(cells) and cells[0].is_frontmatter
    if not _header_reads_back(notebook):
        return False
    if frontmatter:
        cells = cells[1:]
    if not cells:
        return _is_blank(notebook.prefix)
    if notebook.prefix and (cells[0].is_preamble or not line_ending(notebook.prefix)):
        return False
    last = len(cells) - 1
    for index, cell in enumerate(cells):
        if cell.is_preamble and (index > 0 or _is_blank(cell.raw)):
            return False
        if cell.is_frontmatter or (index < last and not line_ending(cell.raw)):
            return False
    for index in checked:
        if frontmatter:
            index -= 1
        if not 0 <= index <= last:
            continue
        cell = cells[index]
        starts, open_string = marker_lines(split_lines(cell.raw))
        if starts != ([] if cell.is_preamble else [0]):
            return False
        if index < last and open_string is not None:
            return False
    return True


def _header_reads_back(notebook: ParsedNotebook) -> bool:
    """Whether the text still starts with exactly this header (or with none).

    Only the first lines decide that: a blank line now right after a header
    that did not end with one, or leading comments that now read as a header.
    """
    return _header_reads_back_in(notebook.header, notebook.prefix, notebook.cells)


def _header_reads_back_in(header: str, prefix: str, cells: Sequence[Cell]) -> bool:
    """:func:`_header_reads_back` of the notebook with this header, prefix and cells."""
    has_frontmatter = bool(cells) and cells[0].is_frontmatter
    texts = chain((prefix,), map(_RAW, cells))  # only the first lines are read
    if header:
        block = find_header([*split_lines(header), *_leading_lines(texts, 1)])
        return (
            block is not None
            and block.text == header
            and (block.frontmatter is not None) == has_frontmatter
        )
    if has_frontmatter:
        return False
    return find_header(_leading_lines(texts)) is None


def _leading_lines(texts: Iterable[str], limit: int | None = None) -> list[str]:
    """The first lines of ``texts`` joined: up to ``limit``, or up to and including
    the first line that is not a comment (no header reaches past it)."""
    lines: list[str] = []
    for text in texts:
        for line in split_lines(text):
            lines.append(line)
            if len(lines) == limit or (limit is None and not line.startswith("#")):
                return lines
    return lines
