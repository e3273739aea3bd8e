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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
class _WantedCell:
    kind: CellKind
    source: str
    raw: str | None
    preamble: bool
    title: str
    metadata: Mapping[str, Any]
    frontmatter: bool = False


def _to_lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _wanted(value: object, position: int) -> _WantedCell:
    if not isinstance(value, Mapping):
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
    if not isinstance(metadata, Mapping):
        metadata = {}
    return _WantedCell(
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


def _reads_as(raw: str, wanted: _WantedCell) -> bool:
    """Whether ``raw`` alone parses as one cell of the wanted kind and source."""
    reading = _reading(raw)
    if reading is None:
        return False
    preamble, kind, source = reading
    return preamble == wanted.preamble and kind == wanted.kind and source == _to_lf(wanted.source)


def _base_notebook(
    kept: Sequence[str], *, bom: bool, header: str, prefix: str, newline: str
) -> ParsedNotebook | None:
    """The notebook made of the header and the ``kept`` raw texts, or None if they
    do not read back alone."""
    raws = list(kept)
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


def serialize_payload(payload: Mapping[str, Any]) -> str:
    """The file text for ``{cells, bom?, newline?, prefix?, header?}``; raises :class:`PayloadError`."""
    cells = payload.get("cells")
    if not isinstance(cells, Sequence) or isinstance(cells, str):
        raise PayloadError("`cells` must be a list of cell objects")
    wanted = [_wanted(value, position) for position, value in enumerate(cells)]
    newline = _string(payload, "newline", "\n")
    if newline not in ("\n", "\r\n", "\r"):
        newline = "\n"
    prefix = _string(payload, "prefix", "")
    if prefix and not prefix.isspace():
        prefix = ""
    bom = bool(payload.get("bom", False))
    header = _header(payload)

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
    pending: list[_WantedCell] = []  # consecutive new cells, inserted together

    def flush() -> None:
        nonlocal notebook, position
        if pending:
            before = len(notebook)
            notebook = _insert(notebook, position, pending)
            position += len(notebook) - before
            pending.clear()

    for cell in wanted:
        if with_raw and cell is with_raw[0]:
            flush()
            with_raw.pop(0)
            before = len(notebook)
            if not (cell.raw is not None and _reads_as(cell.raw, cell)):
                notebook = set_source(notebook, position, cell.source)
            position += 1 + (len(notebook) - before)
            continue
        pending.append(cell)
    flush()
    return serialize(notebook)


def _has_frontmatter(notebook: ParsedNotebook) -> bool:
    return bool(notebook.cells) and notebook.cells[0].is_frontmatter


def _apply_frontmatter(
    base: ParsedNotebook, wanted: list[_WantedCell]
) -> tuple[ParsedNotebook, list[_WantedCell]]:
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


def _same_kind(wanted: _WantedCell, header: str) -> bool:
    """A cell whose kind changed is written anew (its header must change).

    Read after the notebook's header, where the cell sits: alone, a preamble
    of ``# ---`` lines would itself read as a YAML header.
    """
    if wanted.raw is None:
        return False
    return _kind_after(header, wanted.raw) == wanted.kind


def _insert(
    notebook: ParsedNotebook, position: int, cells: Sequence[_WantedCell]
) -> ParsedNotebook:
    while position < len(notebook) and not notebook.cells[position].has_marker:
        position += 1  # nothing goes above a preamble or the header's frontmatter
    position = min(position, len(notebook))
    return insert_cells(
        notebook,
        position,
        [NewCell(cell.source, cell.kind, cell.title, cell.metadata) for cell in cells],
    )
