"""The JSON shapes of ``sessions.parse`` and ``sessions.serialize`` (docs/protocol.md).

A notebook front end (the VS Code serializer) turns the ``.py`` text into
cells with :func:`parse_payload` and back with :func:`serialize_payload`.
Each parsed cell carries its exact file text (``raw``), so a cell whose
``raw`` still reads as the given ``kind`` and ``source`` is written back byte
for byte: an untouched notebook saves identical, an edit rewrites only its
cell. Pure: no I/O, no LSP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from .markers import line_ending
from .notebook import (
    Cell,
    CellKind,
    Notebook,
    insert_cell,
    parse,
    serialize,
    set_source,
)

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
    }


def parse_payload(text: str) -> dict[str, Any]:
    """``{cells, bom, newline, prefix}`` for ``text``; never raises."""
    notebook = parse(text)
    return {
        "cells": [cell_payload(cell) for cell in notebook.cells],
        "bom": notebook.bom,
        "newline": notebook.newline,
        "prefix": notebook.prefix,
    }


@dataclass(frozen=True)
class _WantedCell:
    kind: CellKind
    source: str
    raw: str | None
    preamble: bool
    title: str
    metadata: Mapping[str, Any]


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
    )


def _reads_as(raw: str, wanted: _WantedCell) -> bool:
    """Whether ``raw`` alone parses as one cell of the wanted kind and source."""
    cells = parse(raw).cells
    if len(cells) != 1 or cells[0].is_preamble != wanted.preamble:
        return False
    cell = cells[0]
    return cell.kind == wanted.kind and cell.source == _to_lf(wanted.source)


def _base_notebook(kept: Sequence[str], *, bom: bool, prefix: str, newline: str) -> Notebook | None:
    """The notebook made of the ``kept`` raw texts, or None if they do not read back alone."""
    raws = list(kept)
    for position in range(len(raws) - 1):
        if not line_ending(raws[position]):
            raws[position] += newline  # a former last cell, now followed by another
    text = ("\ufeff" if bom else "") + prefix + "".join(raws)
    notebook = parse(text)
    if [cell.raw for cell in notebook.cells] != raws:
        return None
    return replace(notebook, newline=newline)


def _string(payload: Mapping[str, Any], key: str, default: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else default


def serialize_payload(payload: Mapping[str, Any]) -> str:
    """The file text for ``{cells, bom?, newline?, prefix?}``; raises :class:`PayloadError`."""
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

    # Start from every cell that still has its file text, then edit and insert
    # the others in place, so untouched cells keep their bytes.
    with_raw = [w for w in wanted if w.raw is not None and _same_kind(w)]
    base = _base_notebook(
        [w.raw for w in with_raw if w.raw is not None], bom=bom, prefix=prefix, newline=newline
    )
    if base is None:
        with_raw = []
        base = Notebook(cells=(), bom=bom, prefix=prefix, newline=newline)
    notebook = base
    position = 0
    for cell in wanted:
        if with_raw and cell is with_raw[0]:
            with_raw.pop(0)
            before = len(notebook)
            if not (cell.raw is not None and _reads_as(cell.raw, cell)):
                notebook = set_source(notebook, position, cell.source)
            position += 1 + (len(notebook) - before)
            continue
        before = len(notebook)
        notebook = _insert(notebook, position, cell)
        position += len(notebook) - before
    return serialize(notebook)


def _same_kind(wanted: _WantedCell) -> bool:
    """A cell whose kind changed is written anew (its header must change)."""
    if wanted.raw is None:
        return False
    cells = parse(wanted.raw).cells
    return len(cells) == 1 and cells[0].kind == wanted.kind


def _insert(notebook: Notebook, position: int, cell: _WantedCell) -> Notebook:
    if position == 0 and notebook.cells and notebook.cells[0].is_preamble:
        position = 1  # nothing can go above a preamble: text there *is* the preamble
    position = min(position, len(notebook))
    try:
        return insert_cell(
            notebook,
            position,
            cell.source,
            kind=cell.kind,
            title=cell.title,
            metadata=cell.metadata,
        )
    except (TypeError, ValueError):
        # Metadata the header cannot hold: keep the cell, drop what cannot be written.
        return insert_cell(notebook, position, cell.source, kind=cell.kind, title=cell.title)
