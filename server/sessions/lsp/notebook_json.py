"""The JSON shapes of ``sessions.parse`` and ``sessions.serialize`` (docs/protocol.md).

A notebook front end (the VS Code serializer) turns the ``.py`` text into
cells with :func:`parse_payload` and back with :func:`serialize_payload`.
Each parsed cell carries its exact file text (``raw``), so a cell whose
``raw`` still reads as the given ``kind`` and ``source`` is written back byte
for byte: an untouched notebook saves identical, an edit rewrites only its
cell. The notebook's Jupytext YAML header travels as one notebook-level
``header`` string, written back as it is; its root-level YAML, if any, is the
``frontmatter`` cell on top (a raw cell whose edits rewrite that part of the
header). Pure: no I/O, no LSP.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, cast

from sessions.format.markers import line_ending, split_lines
from sessions.format.notebook import (
    Cell,
    CellKind,
    NewCell,
    ParsedNotebook,
    delete_cell,
    insert_cells,
    parse,
    serialize,
    set_source,
    set_sources,
    set_sources_text,
)
from sessions.format.yaml_header import find_header

_KINDS: tuple[CellKind, ...] = ("code", "markdown", "raw")


class PayloadError(ValueError):
    """The ``sessions.serialize`` argument is not in the documented shape."""


def cell_payload(cell: Cell) -> dict[str, Any]:
    return {
        "kind": cell.kind,
        "source": cell.source,
        "title": cell.title,
        "metadata": dict(cell.metadata),
        "raw": cell.raw,
        "preamble": cell.is_preamble,
        "frontmatter": cell.is_frontmatter,
    }


def parse_payload(text: str) -> dict[str, Any]:
    """``{cells, bom, newline, prefix, header}`` for ``text``; never raises."""
    notebook = parse(text)
    return {
        "cells": [cell_payload(cell) for cell in notebook.cells],
        "bom": notebook.bom,
        "newline": notebook.newline,
        "prefix": notebook.prefix,
        "header": notebook.header,
    }


@dataclass(frozen=True)
class WantedCell:
    """One cell of a ``sessions.serialize`` payload, checked."""

    kind: CellKind
    source: str
    raw: str | None
    preamble: bool
    title: str
    metadata: Mapping[str, Any]
    frontmatter: bool = False
    # What serializing found out about this cell, kept for the next call that
    # is given the same object (the notebook view's cells, one keystroke to the next).
    _kind_after: tuple[str, bool] | None = field(default=None, compare=False, repr=False)
    """(header, whether ``raw`` read after it is one cell of ``kind``)."""
    _reads_back: bool | None = field(default=None, compare=False, repr=False)
    """Whether ``raw`` alone reads as this cell (``_reads_as``)."""


def _to_lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_mapping(value: object) -> bool:
    # ``type is dict`` first: what JSON gives; an ABC check costs ~1 µs, per cell per keystroke.
    return type(value) is dict or isinstance(value, Mapping)


def wanted_cell(value: object, position: int) -> WantedCell:
    """Cell ``position`` of a payload, checked; raises :class:`PayloadError`."""
    if not _is_mapping(value):
        raise PayloadError(f"cell {position} is not an object")
    item = cast(Mapping[str, Any], value)
    kind = item.get("kind", "code")
    if kind not in _KINDS:
        raise PayloadError(
            f"cell {position}: kind must be one of {', '.join(_KINDS)}, not {kind!r}"
        )
    source = item.get("source", "")
    if not isinstance(source, str):
        raise PayloadError(f"cell {position}: source must be a string")
    raw = item.get("raw")
    title = item.get("title") or ""
    metadata = item.get("metadata") or {}
    if not _is_mapping(metadata):
        metadata = {}
    return WantedCell(
        kind=cast(CellKind, kind),
        source=source,
        raw=raw if isinstance(raw, str) and raw else None,
        preamble=bool(item.get("preamble", False)),
        title=title if isinstance(title, str) else str(title),
        metadata=metadata,
        frontmatter=item.get("frontmatter") is True,
    )


# The notebook view sends every cell's ``raw`` (kept in its metadata since the
# notebook was opened) with each keystroke, and serializing read each one
# back — two parses per cell, 28 ms per keystroke at 5,000 lines. What a raw
# reads as depends on its text alone (and the header's), so it is kept, for
# as many raws as a few large notebooks have.
_RAW_READINGS = 16_384


@lru_cache(maxsize=_RAW_READINGS)
def _reading(raw: str) -> tuple[bool, CellKind, str] | None:
    """(is preamble, kind, source) of ``raw`` read alone, if it is one cell."""
    cells = parse(raw).cells
    if len(cells) != 1:
        return None
    cell = cells[0]
    return cell.is_preamble, cell.kind, cell.source


@lru_cache(maxsize=_RAW_READINGS)
def _kind_after(header: str, raw: str) -> CellKind | None:
    """The kind ``raw`` reads as after ``header``, if it is one cell there."""
    cells = [cell for cell in parse(header + raw).cells if not cell.is_frontmatter]
    return cells[0].kind if len(cells) == 1 else None


def _reads_as(raw: str, wanted: WantedCell) -> bool:
    """Whether ``raw`` alone parses as one cell of the wanted kind and source."""
    known = wanted._reads_back
    if known is not None:
        return known
    reading = _reading(raw)
    if reading is None:
        answer = False
    else:
        preamble, kind, source = reading
        answer = (
            preamble == wanted.preamble and kind == wanted.kind and source == _to_lf(wanted.source)
        )
    if raw is wanted.raw:
        object.__setattr__(wanted, "_reads_back", answer)  # a memo, not a field's value
    return answer


_ENDS_LINE = operator.methodcaller("endswith", ("\n", "\r"))
"""Whether a text ends with a line ending (``line_ending``'s answer is not empty)."""


def _base_notebook(
    kept: Sequence[str], *, bom: bool, header: str, prefix: str, newline: str
) -> ParsedNotebook | None:
    """The notebook made of the header and the ``kept`` raw texts, or None if they
    do not read back alone."""
    raws = list(kept)
    if not all(map(_ENDS_LINE, raws[:-1])):  # in C: one check per cell, every keystroke
        for position in range(len(raws) - 1):
            if not line_ending(raws[position]):
                raws[position] += newline  # a former last cell, now followed by another
    if raws and header and not prefix and not line_ending(header):
        return None
    return _base_of(tuple(raws), bom, header, prefix, newline)


@lru_cache(maxsize=8)
def _base_of(
    raws: tuple[str, ...], bom: bool, header: str, prefix: str, newline: str
) -> ParsedNotebook | None:
    """:func:`_base_notebook` once its raws are final: the same for every
    keystroke in the notebook view (the raws the notebook was opened with)."""
    text = ("\ufeff" if bom else "") + header + prefix + "".join(raws)
    notebook = parse(text)
    if notebook.header != header:
        return None
    if [cell.raw for cell in notebook.cells if not cell.is_frontmatter] != list(raws):
        return None
    return replace(notebook, newline=newline)


def _header(payload: Mapping[str, Any]) -> str:
    """The payload's ``header``: exactly one Jupytext YAML header, or empty."""
    header = _string(payload, "header", "")
    if not header:
        return ""
    block = find_header(split_lines(header))
    if block is None or block.text != header:
        raise PayloadError(
            "`header` must be the notebook's YAML header exactly as `sessions.parse` returned it"
        )
    return header


def _string(payload: Mapping[str, Any], key: str, default: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else default


@dataclass(frozen=True)
class NotebookFields:
    """The notebook-level fields of a payload, checked."""

    bom: bool
    newline: str
    prefix: str
    header: str


def notebook_fields(payload: Mapping[str, Any]) -> NotebookFields:
    """``bom``, ``newline``, ``prefix`` and ``header`` of a payload (defaults for
    what is missing or unusable); raises :class:`PayloadError` for a bad header."""
    newline = _string(payload, "newline", "\n")
    if newline not in ("\n", "\r\n", "\r"):
        newline = "\n"
    prefix = _string(payload, "prefix", "")
    if prefix and not prefix.isspace():
        prefix = ""
    return NotebookFields(bool(payload.get("bom", False)), newline, prefix, _header(payload))


def serialize_payload(payload: Mapping[str, Any]) -> str:
    """The file text for ``{cells, bom?, newline?, prefix?, header?}``; raises :class:`PayloadError`."""
    cells = payload.get("cells")
    if not isinstance(cells, Sequence) or isinstance(cells, str):
        raise PayloadError("`cells` must be a list of cell objects")
    wanted = [wanted_cell(value, position) for position, value in enumerate(cells)]
    return serialize_cells(wanted, notebook_fields(payload))


def serialize_cells(wanted: Sequence[WantedCell], fields: NotebookFields) -> str:
    """The file text for these cells (:func:`serialize_payload` once checked).

    Given the same :class:`WantedCell` objects again, it reuses what it found
    out about them: the notebook view keeps each cell's between keystrokes."""
    bom, newline, prefix, header = fields.bom, fields.newline, fields.prefix, fields.header
    wanted = _preamble_on_top(wanted)
    # Start from every cell that still has its file text, then edit and insert
    # the others in place, so untouched cells keep their bytes.
    with_raw = [w for w in wanted if w.raw is not None and _same_kind(w, header)]
    base = _base_notebook(
        [w.raw for w in with_raw if w.raw is not None],
        bom=bom,
        header=header,
        prefix=prefix,
        newline=newline,
    )
    if base is None:
        with_raw = []
        base = _base_notebook([], bom=bom, header=header, prefix=prefix, newline=newline)
        if base is None:  # a header without a final line ending, and cells after it
            base = _base_notebook(
                [], bom=bom, header=header + newline, prefix=prefix, newline=newline
            )
    if base is None:  # pragma: no cover - a checked header always reads back alone
        raise PayloadError("`header` does not read back as a header")
    notebook, wanted = _apply_frontmatter(base, wanted)
    position = len(notebook) - (len(base) - (1 if _has_frontmatter(base) else 0))
    if len(wanted) == len(with_raw) and all(map(operator.is_, wanted, with_raw)):
        # Every cell has its file text (what typing in the notebook view sends):
        # only the edited ones change, and they are written without building
        # the notebook after each (set_sources_text; the same text).
        text = set_sources_text(notebook, _edits(wanted, position))
        if text is not None:
            return text
    folded = _in_turn(notebook, position, wanted, with_raw)
    if folded is None:
        folded = _from_the_end(notebook, position, wanted, with_raw)
    if folded is None:  # pragma: no cover - editing from the end keeps every position
        folded = _insert(base, len(base), wanted)
    return serialize(folded)


def _preamble_on_top(wanted: Sequence[WantedCell]) -> Sequence[WantedCell]:
    """The cells, with a preamble no longer on top made an ordinary cell.

    A preamble is the text above the first marker, so it can only be the first
    cell (after the header's frontmatter). When the notebook view adds a cell
    above it, or moves it down, it is written anew with a marker of its own;
    kept as it was, it would read back above the cells the view shows before
    it, and the view, which addresses cells by position, would run, format
    and show one cell for another."""
    top = 1 if wanted and wanted[0].frontmatter else 0
    if not any(map(_IS_PREAMBLE, itertools.islice(wanted, top + 1, None))):  # every keystroke
        return wanted
    return [
        replace(cell, raw=None, preamble=False, _kind_after=None, _reads_back=None)
        if cell.preamble and at != top
        else cell
        for at, cell in enumerate(wanted)
    ]


_IS_PREAMBLE = operator.attrgetter("preamble")


def _edits(cells: Sequence[WantedCell], first: int) -> list[tuple[int, str]]:
    """(position, source) of each of ``cells`` (kept, at ``first`` on) whose
    raw no longer reads as it."""
    return [
        (at, cell.source)
        for at, cell in enumerate(cells, first)
        if not (cell.raw is not None and _reads_as(cell.raw, cell))
    ]


def _in_turn(
    notebook: ParsedNotebook,
    position: int,
    wanted: Sequence[WantedCell],
    with_raw: Sequence[WantedCell],
) -> ParsedNotebook | None:
    """Each cell set or inserted in turn, from the first, on the result of the
    last; None when an edit made the cells after it read differently (an open
    string that takes in the markers below it), so the positions are lost.

    The cells kept between two insertions are set together (``set_sources``:
    the same notebook, with the cells below moved once, not once per edited
    cell), unless one of them would change more than itself; then one at a time.
    The notebooks made on the way are only serialized, so no cell is moved
    to its new start line (``placed=False``).
    """
    kept = iter(with_raw)  # in the order of ``wanted``, which holds them all
    next_kept = next(kept, None)
    pending: list[WantedCell] = []  # consecutive new cells, inserted together
    batch: list[WantedCell] = []  # consecutive kept cells, set together
    batch_at = position

    def settle() -> bool:
        nonlocal notebook, position
        if batch_at < 0 or batch_at + len(batch) > len(notebook):
            return False
        together = set_sources(notebook, _edits(batch, batch_at), placed=False)
        if together is not None:
            notebook, position = together, batch_at + len(batch)
            batch.clear()
            return True
        position = batch_at
        for cell in batch:
            if not 0 <= position < len(notebook):
                return False
            before = notebook
            if not (cell.raw is not None and _reads_as(cell.raw, cell)):
                notebook = set_source(notebook, position, cell.source)
                if not _below_kept(before, notebook, position + 1):
                    return False
            position += 1 + (len(notebook) - len(before))
        batch.clear()
        return True

    for cell in wanted:
        if cell is next_kept:
            next_kept = next(kept, None)
            if pending:
                if not 0 <= position <= len(notebook):
                    return None
                before = notebook
                notebook = _insert(notebook, position, pending, placed=False)
                if not _below_kept(before, notebook, position):
                    return None
                position += len(notebook) - len(before)
                pending = []
            if not batch:
                batch_at = position
            batch.append(cell)
            position += 1  # where the next cell is, if this one stays one cell
            continue
        if batch and not settle():
            return None
        pending.append(cell)
    if batch and not settle():
        return None
    if pending:
        if not 0 <= position <= len(notebook):
            return None
        notebook = _insert(notebook, position, pending, placed=False)
    return notebook


def _below_kept(before: ParsedNotebook, after: ParsedNotebook, below: int) -> bool:
    """Whether the cells of ``before`` from ``below`` on end ``after``
    unchanged: a step that opened a string took them in (or moved them), and
    the positions counted from them are lost. The same cell objects unless
    the text was read again."""
    old = before.cells[below:]
    if len(old) > len(after.cells):
        return False
    new = after.cells[len(after.cells) - len(old) :]
    return all(map(operator.is_, new, old)) or list(map(_RAW, new)) == list(map(_RAW, old))


_RAW = operator.attrgetter("raw")


def _from_the_end(
    notebook: ParsedNotebook,
    position: int,
    wanted: Sequence[WantedCell],
    with_raw: Sequence[WantedCell],
) -> ParsedNotebook | None:
    """:func:`_in_turn` from the last cell up: an edit can change how the text
    below it reads, not above, so each cell is still where it was."""
    kept = {id(cell) for cell in with_raw}
    steps: list[tuple[int, WantedCell | list[WantedCell]]] = []
    pending: list[WantedCell] = []
    for cell in wanted:
        if id(cell) in kept:
            if pending:
                steps.append((position, pending))
                pending = []
            steps.append((position, cell))
            position += 1
        else:
            pending.append(cell)
    if pending:
        steps.append((position, pending))
    for at, step in reversed(steps):
        if isinstance(step, list):
            if not 0 <= at <= len(notebook):
                return None
            notebook = _insert(notebook, at, step)
        elif not (step.raw is not None and _reads_as(step.raw, step)):
            if not 0 <= at < len(notebook):
                return None
            notebook = set_source(notebook, at, step.source)
    return notebook


def _has_frontmatter(notebook: ParsedNotebook) -> bool:
    return bool(notebook.cells) and notebook.cells[0].is_frontmatter


def _apply_frontmatter(
    base: ParsedNotebook, wanted: Sequence[WantedCell]
) -> tuple[ParsedNotebook, Sequence[WantedCell]]:
    """Edit or remove the header's frontmatter as the first wanted cell says.

    Returns the notebook and the wanted cells still to place. A frontmatter
    cell the notebook has no header for is placed as an ordinary raw cell.
    """
    if not _has_frontmatter(base):
        return base, wanted
    first = wanted[0] if wanted else None
    if first is None or not first.frontmatter or first.kind != "raw":
        return delete_cell(base, 0), wanted
    return set_source(base, 0, first.source), wanted[1:]


def _same_kind(wanted: WantedCell, header: str) -> bool:
    """A cell whose kind changed is written anew (its header must change).

    Read after the notebook's header, where the cell sits: alone, a preamble
    of ``# ---`` lines would itself read as a YAML header.
    """
    if wanted.raw is None:
        return False
    known = wanted._kind_after
    if known is not None and known[0] == header:
        return known[1]
    answer = _kind_after(header, wanted.raw) == wanted.kind
    object.__setattr__(wanted, "_kind_after", (header, answer))  # a memo, not a field's value
    return answer


def _insert(
    notebook: ParsedNotebook, position: int, cells: Sequence[WantedCell], *, placed: bool = True
) -> ParsedNotebook:
    while position < len(notebook) and not notebook.cells[position].has_marker:
        position += 1  # nothing goes above a preamble or the header's frontmatter
    position = min(position, len(notebook))
    return insert_cells(
        notebook,
        position,
        [NewCell(cell.source, cell.kind, cell.title, cell.metadata) for cell in cells],
        placed=placed,
    )
