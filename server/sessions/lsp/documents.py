"""Open documents -> the current text of each notebook, per ``.py`` URI.

Text documents are kept here (not in pygls's workspace) so incremental
changes are applied with LSP's line breaks (see ``positions.py``). Notebook
documents (``sessions-notebook``) are rebuilt into the exact file text from
their cells: each cell's metadata carries what ``sessions.parse`` returned
(``kind``, ``raw``, ``preamble``, ``frontmatter``, ``title``, ``metadata``),
the notebook's metadata ``bom``, ``newline``, ``prefix`` and ``header`` (the
YAML header, which is no cell); ``sessions.serialize`` logic then writes
untouched cells byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from lsprotocol import types
from pygls.workspace import Workspace

from sessions.lsp.notebook_json import (
    NotebookFields,
    PayloadError,
    WantedCell,
    notebook_fields,
    serialize_cells,
    serialize_payload,
    wanted_cell,
)
from sessions.lsp.positions import LineIndex, apply_indexed_change

# A byte order mark, when a client leaves it in the text, is no part of the first line.
_MARKER = re.compile(r"^\ufeff?[ \t]*#[ \t]*%%", re.MULTILINE)


def has_cell_marker(text: str) -> bool:
    """Whether ``text`` may be a notebook (a ``# %%`` line; the parser decides exactly)."""
    return _MARKER.search(text) is not None


@dataclass
class TextDoc:
    text: str
    version: int | None
    language_id: str
    index: LineIndex | None = None
    """Line starts of ``text``, kept up to date by ranged changes (made on first use)."""


@dataclass
class CellDoc:
    """One cell of an open notebook document."""

    uri: str
    kind: str
    text: str
    version: int | None
    metadata: Mapping[str, Any]
    _wanted: tuple[str, str, Mapping[str, Any], WantedCell] | None = field(
        default=None, repr=False, compare=False
    )
    """(kind, text, metadata, what they ask serializing for), for the next keystroke."""

    def wanted(self, position: int) -> WantedCell:
        """This cell as serializing takes it: made again only when it changed
        (a keystroke changes one cell's text, and the others keep theirs, so
        what serializing found out about them is kept too)."""
        memo = self._wanted
        if (
            memo is not None
            and memo[1] is self.text
            and memo[2] is self.metadata
            and memo[0] == self.kind
        ):
            return memo[3]
        wanted = wanted_cell(_cell_payload(self), position)
        self._wanted = (self.kind, self.text, self.metadata, wanted)
        return wanted


@dataclass
class NotebookDoc:
    version: int | None
    metadata: Mapping[str, Any]
    cells: list[CellDoc] = field(default_factory=list)
    _fields: tuple[Mapping[str, Any], NotebookFields | PayloadError] | None = field(
        default=None, repr=False, compare=False
    )
    _positions: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def text(self) -> str:
        """The ``.py`` text these cells stand for."""
        try:
            fields = self._notebook_fields()
            return serialize_cells(
                [cell.wanted(position) for position, cell in enumerate(self.cells)], fields
            )
        except PayloadError:
            # A client that sends no usable metadata: plain cells are still a notebook.
            return serialize_payload(
                {"cells": [{"kind": "code", "source": c.text} for c in self.cells]}
            )

    def _notebook_fields(self) -> NotebookFields:
        memo = self._fields
        if memo is None or memo[0] is not self.metadata:
            try:
                found: NotebookFields | PayloadError = notebook_fields(
                    _notebook_fields(self.metadata)
                )
            except PayloadError as error:
                found = error
            memo = self._fields = (self.metadata, found)
        if isinstance(memo[1], PayloadError):
            raise memo[1]
        return memo[1]

    def position_of(self, cell_uri: str) -> int | None:
        """Where the cell document ``cell_uri`` is among the cells."""
        if self._positions is None:
            self._positions = {cell.uri: position for position, cell in enumerate(self.cells)}
        return self._positions.get(cell_uri)


def _sessions_fields(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # ``type is dict`` first: what JSON gives; an ABC check costs ~1 µs, per cell per keystroke.
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        return {}
    nested = metadata.get("sessions")
    if nested is None:
        return metadata
    return cast(Mapping[str, Any], nested) if isinstance(nested, Mapping) else metadata


def _notebook_fields(metadata: Mapping[str, Any]) -> dict[str, Any]:
    fields = _sessions_fields(metadata)
    return {key: fields[key] for key in ("bom", "newline", "prefix", "header") if key in fields}


def _cell_payload(cell: CellDoc) -> dict[str, Any]:
    fields = _sessions_fields(cell.metadata)
    kind = fields.get("kind")
    if cell.kind == "markdown":
        kind = "markdown"
    elif kind not in ("code", "raw"):
        kind = "code"
    return {
        "kind": kind,
        "source": cell.text,
        "raw": fields.get("raw"),
        "preamble": bool(fields.get("preamble", False)),
        "frontmatter": fields.get("frontmatter") is True,
        "title": fields.get("title") or "",
        "metadata": fields.get("metadata") or {},
    }


class Documents:
    """What the client has open: text documents and notebook documents, by URI."""

    def __init__(self) -> None:
        self.texts: dict[str, TextDoc] = {}
        self.notebooks: dict[str, NotebookDoc] = {}
        self._cell_owner: dict[str, str] = {}

    # -- text documents -------------------------------------------------------

    def open_text(self, uri: str, text: str, version: int | None, language_id: str) -> None:
        self.texts[uri] = TextDoc(text, version, language_id)

    def change_text(
        self,
        uri: str,
        version: int | None,
        changes: Sequence[tuple[tuple[int, int], tuple[int, int], str] | str],
        encoding: str,
    ) -> None:
        """Apply full (``str``) and ranged changes, in order."""
        doc = self.texts.get(uri)
        if doc is None:
            return
        text, index = doc.text, doc.index
        for change in changes:
            if isinstance(change, str):
                text, index = change, None
            else:
                start, end, new_text = change
                if index is None or index.text is not text:
                    index = LineIndex(text)
                index = apply_indexed_change(index, start, end, new_text, encoding)
                text = index.text
        doc.text, doc.version, doc.index = text, version, index

    def close_text(self, uri: str) -> None:
        self.texts.pop(uri, None)

    # -- notebook documents ---------------------------------------------------

    def set_notebook(self, uri: str, notebook: NotebookDoc) -> None:
        old = self.notebooks.get(uri)
        if old is not None:
            for cell in old.cells:
                self._cell_owner.pop(cell.uri, None)
        self.notebooks[uri] = notebook
        for cell in notebook.cells:
            self._cell_owner[cell.uri] = uri

    def close_notebook(self, uri: str) -> None:
        old = self.notebooks.pop(uri, None)
        if old is not None:
            for cell in old.cells:
                self._cell_owner.pop(cell.uri, None)

    def cell_owner(self, cell_uri: str) -> tuple[str, int] | None:
        """(notebook URI, cell position) of a notebook cell document."""
        owner = self._cell_owner.get(cell_uri)
        if owner is None:
            return None
        position = self.notebooks[owner].position_of(cell_uri)
        return None if position is None else (owner, position)

    def change_cell_texts(
        self, uri: str, version: int | None, texts: Mapping[str, tuple[str, int | None]]
    ) -> bool:
        """Set the text and version of some cells of the open notebook ``uri``
        (cell URI -> text, version), and the notebook's version; False, with
        nothing changed, when the notebook or one of the cells is not open here
        (the caller then reads the whole notebook again)."""
        notebook = self.notebooks.get(uri)
        if notebook is None:
            return False
        changed: list[tuple[CellDoc, str, int | None]] = []
        for cell_uri, (text, cell_version) in texts.items():
            position = notebook.position_of(cell_uri)
            if position is None:
                return False
            changed.append((notebook.cells[position], text, cell_version))
        for cell, text, cell_version in changed:
            cell.text, cell.version = text, cell_version
        notebook.version = version
        return True

    # -- the current text -----------------------------------------------------

    def text_of(self, uri: str) -> tuple[str, int | None] | None:
        """The open text and version for a notebook URI; None when not open."""
        doc = self.texts.get(uri)
        if doc is not None:
            return doc.text, doc.version
        notebook = self.notebooks.get(uri)
        if notebook is not None:
            return notebook.text(), notebook.version
        return None


def _mapping(value: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def notebook_doc(workspace: Workspace, uri: str) -> NotebookDoc | None:
    """The notebook document ``uri`` as pygls's workspace holds it, cells with their text."""
    document = workspace.get_notebook_document(notebook_uri=uri)
    if document is None:
        return None
    cells: list[CellDoc] = []
    for cell in document.cells:
        text_doc = workspace.get_text_document(cell.document)
        kind = "markdown" if cell.kind == types.NotebookCellKind.Markup else "code"
        cells.append(
            CellDoc(cell.document, kind, text_doc.source, text_doc.version, _mapping(cell.metadata))
        )
    return NotebookDoc(document.version, _mapping(document.metadata), cells)
