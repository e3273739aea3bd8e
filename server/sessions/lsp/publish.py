"""Publishing a notebook's analysis: ``textDocument/publishDiagnostics`` and ``sessions/state``.

Diagnostics carry ``source = "sessions"`` and the document version they were
computed for. For a notebook document they go to each cell's URI with
cell-relative lines. ``sessions/state`` is only sent when its content changed;
to a client that declared ``experimental.sessionsStateChanges`` it carries,
after a notebook's first, only the cells whose entry changed.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, count, repeat
from typing import Any

from lsprotocol import types

from sessions.analysis.diagnostics import Diagnostic
from sessions.format.notebook import Cell, ParsedNotebook
from sessions.lsp.documents import Documents, NotebookDoc
from sessions.lsp.encoded import encode, join_array, join_object
from sessions.lsp.notebook_state import NotebookState, is_notebook
from sessions.lsp.positions import NotebookLines, to_client_column
from sessions.lsp.state_payload import StateCells
from sessions.lsp.view_cells import CELL_BOUNDARY, Unmatched, cell_matches, unmatched

log = logging.getLogger(__name__)

SOURCE = "sessions"

TOO_LARGE = "notebook-too-large"
"""Diagnostic code of a document over ``sessions.maxNotebookBytes`` (not analysed)."""

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def kernel_setup_diagnostic(message: str, notebook: ParsedNotebook) -> Diagnostic:
    first = notebook.cells[0].raw.split("\n", 1)[0].rstrip("\r") if notebook.cells else ""
    return Diagnostic("kernel-setup", "error", message, 0, 0, 0, 0, len(first))


def state_diagnostics(state: NotebookState) -> list[Diagnostic]:
    """The engine's diagnostics plus the server's own (``kernel-setup``)."""
    snapshot = state.snapshot
    if snapshot is None:
        return []
    found = list(snapshot.diagnostics)
    if state.setup_error is not None:
        found.insert(0, kernel_setup_diagnostic(state.setup_error.message, snapshot.notebook))
    return found


LspDiagnostic = dict[str, Any]
"""An LSP ``Diagnostic`` as the JSON it is sent as (built directly: through
lsprotocol's classes and cattrs, 100 diagnostics cost about 2 ms per edit)."""


def _position(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def to_lsp(
    diagnostic: Diagnostic,
    index: NotebookLines,
    encoding: str,
    line_shift: int = 0,
    max_line: int | None = None,
) -> LspDiagnostic:
    def position(line: int, col: int) -> dict[str, int]:
        text = index.line_text(line)
        target = line - line_shift
        if target < 0:
            target, col = 0, 0
        if max_line is not None and target > max_line:
            target = max_line
        return _position(target, to_client_column(text, min(col, len(text)), encoding))

    return {
        "range": {
            "start": position(diagnostic.line, diagnostic.col),
            "end": position(diagnostic.end_line, diagnostic.end_col),
        },
        "message": diagnostic.message,
        "severity": int(_SEVERITY[diagnostic.severity]),
        "code": diagnostic.code,
        "source": SOURCE,
    }


def boundary_diagnostic(cell_text: str, found: Unmatched, encoding: str) -> LspDiagnostic:
    """The ``cell-boundary`` error on the line of the view cell to fix."""
    lines = cell_text.split("\n")
    line = min(found.line, len(lines) - 1)
    text = lines[line].rstrip("\r")
    return {
        "range": {
            "start": _position(line, 0),
            "end": _position(line, to_client_column(text, len(text), encoding)),
        },
        "message": found.message,
        "severity": int(types.DiagnosticSeverity.Error),
        "code": CELL_BOUNDARY,
        "source": SOURCE,
    }


def _template(lsp: LspDiagnostic) -> tuple[str, str, str]:
    """``encode(lsp)`` around its start and end lines: (head, middle, tail)
    such that the text is head + start line + middle + end line + tail."""
    start, end = lsp["range"]["start"], lsp["range"]["end"]
    rest = encode({key: value for key, value in lsp.items() if key != "range"})
    return (
        '{"range": {"start": {"line": ',
        f', "character": {start["character"]}}}, "end": {{"line": ',
        f', "character": {end["character"]}}}}}, {rest[1:]}',
    )


DiagnosticKey = tuple[object, ...]
"""What a diagnostic's LSP JSON depends on: the diagnostic's fields (but its
cell's index, which the JSON does not show), the text of the cells its start
and end lie in (columns are counted in the client's units on those lines),
the line shift and clamp of a cell document, the encoding. Plain fields, not
the ``Diagnostic``: its dataclass ``__hash__`` runs in Python, three times
per diagnostic per keystroke."""


class DiagnosticTexts:
    """Each diagnostic's LSP JSON text, kept from one publication to the next.

    Most diagnostics survive an edit unchanged; converting them to LSP
    positions (which reads the lines they are on) and encoding them again
    cost 9 ms per keystroke with 1,000 diagnostics. A publication keeps only
    the texts it used, so this holds what the client was last sent.

    The analysis keeps a cell's ``Diagnostic`` objects while the cell is the
    same ``Cell`` object, so a diagnostic that is the same object, in the same
    cell object, is found by its ``id`` first: finding the cells its lines are
    in and hashing its fields cost 2–3 ms per keystroke at 1,000 diagnostics."""

    def __init__(self) -> None:
        self._last: dict[DiagnosticKey, str] = {}
        self._next: dict[DiagnosticKey, str] = {}
        self._last_objects: dict[int, _Reused] = {}
        self._next_objects: dict[int, _Reused] = {}
        self._last_templates: dict[DiagnosticKey, _Template] = {}
        self._next_templates: dict[DiagnosticKey, _Template] = {}
        """A diagnostic's text but its two line numbers, by its place in its cell's text."""

    def text(
        self,
        diagnostic: Diagnostic,
        index: NotebookLines,
        encoding: str,
        line_shift: int = 0,
        max_line: int | None = None,
    ) -> str:
        cells = index.notebook.cells
        cell = cells[diagnostic.cell] if 0 <= diagnostic.cell < len(cells) else None
        reused = self._last_objects.get(id(diagnostic))
        if (
            reused is not None
            and reused.diagnostic is diagnostic
            and reused.cell is cell
            and reused.params == (line_shift, max_line, encoding)
        ):
            self._next_objects[id(diagnostic)] = reused
            if reused.key:
                self._next[reused.key] = reused.text
            return reused.text
        if (
            cell is not None
            and line_shift == 0
            and max_line is None
            and cell.start_line <= diagnostic.line
            and diagnostic.end_line < cell.end_line
        ):
            # In its cell, in a text document: kept by its place in the cell's
            # text (``_in_cell``), which also serves it after the cell moved.
            text = self._in_cell(diagnostic, cell, index, encoding)
            self._next_objects[id(diagnostic)] = _Reused(
                diagnostic, cell, (line_shift, max_line, encoding), (), text
            )
            return text
        start = index.cell_raw(diagnostic.line)
        end = (
            start if diagnostic.end_line == diagnostic.line else index.cell_raw(diagnostic.end_line)
        )
        if start is None or end is None:  # in the header: not worth keeping
            return encode(to_lsp(diagnostic, index, encoding, line_shift, max_line))
        key: DiagnosticKey = (
            diagnostic.code,
            diagnostic.severity,
            diagnostic.message,
            diagnostic.line,
            diagnostic.col,
            diagnostic.end_line,
            diagnostic.end_col,
            start,
            end,
            line_shift,
            max_line,
            encoding,
        )
        found = self._last.get(key) or self._next.get(key)
        if found is None:
            found = encode(to_lsp(diagnostic, index, encoding, line_shift, max_line))
        self._next[key] = found
        if cell is not None and start is cell.raw and end is cell.raw:  # both lines in its cell
            self._next_objects[id(diagnostic)] = _Reused(
                diagnostic, cell, (line_shift, max_line, encoding), key, found
            )
        return found

    def _in_cell(
        self,
        diagnostic: Diagnostic,
        cell: Cell,
        index: NotebookLines,
        encoding: str,
    ) -> str:
        """The text of a diagnostic that lies in ``cell`` of a text document,
        from the last one at the same place in the same cell text on other
        lines: Enter above a cell moves it and its diagnostics a line down,
        and converting and encoding the 1,000 below the middle of a 50,000-line
        notebook again cost 15 ms per Enter. Its lines are all that differ."""
        top = cell.start_line
        place: DiagnosticKey = (
            diagnostic.code,
            diagnostic.severity,
            diagnostic.message,
            diagnostic.line - top,
            diagnostic.col,
            diagnostic.end_line - top,
            diagnostic.end_col,
            cell.raw,
            encoding,
        )
        kept = self._last_templates.get(place) or self._next_templates.get(place)
        lines = (diagnostic.line, diagnostic.end_line)
        if kept is not None and kept.lines == lines:
            self._next_templates[place] = kept
            return kept.text  # the very text sent: unchanged where it is
        if kept is None:
            head, middle, tail = _template(to_lsp(diagnostic, index, encoding))
        else:
            head, middle, tail = kept.head, kept.middle, kept.tail
        text = f"{head}{diagnostic.line}{middle}{diagnostic.end_line}{tail}"
        self._next_templates[place] = _Template(head, middle, tail, lines, text)
        return text

    def texts(self, found: Sequence[Diagnostic], index: NotebookLines, encoding: str) -> list[str]:
        """:meth:`text` of each diagnostic of a text document (no line shift).

        Those that are the same objects as last time, whose cell is still one
        of the notebook's cells (the same text on the same lines: the JSON does
        not show the cell's index), are checked and taken a whole list at a
        time in C: one call of :meth:`text` each cost 2 ms per keystroke at
        1,000 diagnostics. The rest go through :meth:`text`."""
        hits = list(map(self._last_objects.get, map(id, found), repeat(_MISSING)))
        live = set(map(id, index.notebook.cells))
        params = (0, None, encoding)
        good = list(
            map(
                all,
                zip(
                    map(operator.is_, map(_REUSED_DIAGNOSTIC, hits), found),
                    map(live.__contains__, map(id, map(_REUSED_CELL, hits))),
                    map(params.__eq__, map(_REUSED_PARAMS, hits)),
                    strict=True,
                ),
            )
        )
        kept = list(compress(hits, good))
        # Kept by object only: hashing each one's key (a dozen fields) cost
        # 0.5 ms; an equal diagnostic made again later is encoded again.
        self._next_objects.update(zip(map(id, map(_REUSED_DIAGNOSTIC, kept)), kept, strict=True))
        out = list(map(_REUSED_TEXT, hits))
        for position in compress(count(), map(operator.not_, good)):
            out[position] = self.text(found[position], index, encoding)
        return out

    def published(self) -> None:
        """The texts asked for since the last call are what the client has now."""
        self._last, self._next = self._next, {}
        self._last_objects, self._next_objects = self._next_objects, {}
        self._last_templates, self._next_templates = self._next_templates, {}


@dataclass(frozen=True, slots=True)
class _Template:
    """A diagnostic's text in a text document around its two line numbers
    (``head + line + middle + end line + tail``), and the last text made."""

    head: str
    middle: str
    tail: str
    lines: tuple[int, int]
    text: str


@dataclass(frozen=True, slots=True)
class _Reused:
    """A diagnostic's text and what it was made from (``DiagnosticTexts``).
    Holding the diagnostic keeps its ``id`` from being reused meanwhile."""

    diagnostic: Diagnostic | None
    cell: Cell | None
    params: tuple[int, int | None, str]
    """The line shift, line clamp and encoding it was made for."""
    key: DiagnosticKey
    """Where :attr:`DiagnosticTexts._next` keeps the text; ``()`` for one kept
    by its place in its cell (``_in_cell``)."""
    text: str


_MISSING = _Reused(None, None, (0, None, ""), (), "")
"""What :meth:`DiagnosticTexts.texts` finds for a diagnostic not kept (matches none)."""
_REUSED_DIAGNOSTIC = operator.attrgetter("diagnostic")
_REUSED_CELL = operator.attrgetter("cell")
_REUSED_PARAMS = operator.attrgetter("params")
_REUSED_TEXT = operator.attrgetter("text")


def changed_entries(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """The entries of ``after`` (cells' JSON texts) that differ from ``before``'s
    at the same place, and those past its end. Compared in C: an unchanged cell
    is the same ``str`` (``StateCells``), a rebuilt but equal one an equal one."""
    common = min(len(before), len(after))
    changed = [after[index] for index in compress(count(), map(operator.ne, before, after))]
    changed.extend(after[common:])
    return changed


class Publisher:
    """Sends what changed about a notebook to the client."""

    def __init__(
        self,
        notify: Callable[[str, Any], None],
        documents: Documents,
        encoding: Callable[[], str],
        *,
        only_changes: Callable[[], bool] = lambda: False,
    ) -> None:
        self._notify = notify
        self._documents = documents
        self._encoding = encoding
        self._only_changes = only_changes
        """Whether the client applies partial ``sessions/state`` (asked each time:
        capabilities arrive with ``initialize``, after the workspace is made)."""
        self._last_state: dict[str, Any] = {}
        self._published: dict[str, set[str]] = {}
        """Notebook URI -> document URIs that last got diagnostics (to clear them later)."""
        self._too_large_shown: set[str] = set()
        """Notebook URIs over the size limit whose message window was shown."""
        self._state_cells: dict[str, StateCells] = {}
        """Per notebook URI: the cells of its last ``sessions/state``, reused where unchanged."""
        self._diagnostic_texts: dict[str, DiagnosticTexts] = {}
        """Per notebook URI: its diagnostics' JSON texts, reused where unchanged."""
        self._sent: dict[str, tuple[int | None, list[str]]] = {}
        """Per document URI: the version and diagnostics (JSON texts) it was last
        sent, so that a cell document whose diagnostics did not change is not
        sent them again (``_publish_cells``)."""
        self._view_differs: set[str] = set()
        """Notebook URIs whose view's cells were not the file's at the last
        publish: checked whole again until they are (``_view_matches``)."""

    def _send_diagnostics(
        self, uri: str, version: int | None, found: Sequence[LspDiagnostic | str]
    ) -> None:
        """Diagnostics as dicts, or as their JSON texts (``DiagnosticTexts``)."""
        parts = [d if isinstance(d, str) else encode(d) for d in found]
        self._sent[uri] = (version, parts)
        fields = {"uri": encode(uri), "diagnostics": join_array(parts)}
        if version is not None:
            fields["version"] = encode(version)
        self._notify(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, join_object(fields))

    def clear(self, uri: str) -> None:
        for target in self._published.pop(uri, set()):
            self._send_diagnostics(target, None, [])
            self._sent.pop(target, None)
        self._last_state.pop(uri, None)
        self._state_cells.pop(uri, None)
        self._diagnostic_texts.pop(uri, None)
        self._too_large_shown.discard(uri)
        self._view_differs.discard(uri)

    def _view_matches(self, uri: str, view: NotebookDoc, cells: Sequence[Cell]) -> bool:
        """Whether the view's cells are the file's ``cells``, position by position.
        Only a cell edited since the last publish can have made them differ
        (typed a marker, opened a string), so a keystroke compares the edited
        cells with the file's at their places; a whole check is made while the
        counts differ or the last publish found them different (a merge and a
        split can cancel out in count, in one change or over two)."""
        if len(cells) != len(view.cells):
            return False
        sent = self._sent
        if uri in self._view_differs:
            positions: Iterable[int] = range(len(cells))
        else:
            positions = (
                position
                for position, cell_doc in enumerate(view.cells)
                if (entry := sent.get(cell_doc.uri)) is None or entry[0] != cell_doc.version
            )
        return all(cell_matches(view.cells[position], cells[position]) for position in positions)

    def _publish_too_large(self, state: NotebookState, message: str) -> None:
        """A document over ``sessions.maxNotebookBytes``: one diagnostic on its first
        line (the first cell of a notebook document) and, once, a message window."""
        text = state.text or ""
        first = text[: text.find("\n")] if "\n" in text[:10_000] else text[:10_000]
        first = first.rstrip("\r")
        end = to_client_column(first, len(first), self._encoding())
        target, version = state.uri, state.version
        notebook_doc = self._documents.notebooks.get(state.uri)
        if state.document == "notebook" and notebook_doc is not None and notebook_doc.cells:
            target, version = notebook_doc.cells[0].uri, notebook_doc.cells[0].version
            first_cell = notebook_doc.cells[0].text.split("\n", 1)[0].rstrip("\r")
            end = to_client_column(first_cell, len(first_cell), self._encoding())
        diagnostic: LspDiagnostic = {
            "range": {"start": _position(0, 0), "end": _position(0, end)},
            "message": message,
            "severity": int(types.DiagnosticSeverity.Warning),
            "code": TOO_LARGE,
            "source": SOURCE,
        }
        # The message window goes first, so a client that reacts to the diagnostic
        # has already been told why (notifications arrive in the order sent).
        if state.uri not in self._too_large_shown:
            self._too_large_shown.add(state.uri)
            self._notify(
                types.WINDOW_SHOW_MESSAGE,
                types.ShowMessageParams(type=types.MessageType.Warning, message=message),
            )
        for stale in self._published.get(state.uri, set()) - {target}:
            self._send_diagnostics(stale, None, [])
        self._send_diagnostics(target, version, [diagnostic])
        self._published[state.uri] = {target}
        self._last_state.pop(state.uri, None)  # sent again once it is analysed

    def publish(self, state: NotebookState) -> None:
        if state.document is None:
            return  # closed: nothing is shown for it
        if state.too_large is not None:
            self._publish_too_large(state, state.too_large)
            return
        self._too_large_shown.discard(state.uri)
        snapshot = state.snapshot
        if snapshot is None or state.snapshot_text is None:
            return
        if not is_notebook(snapshot.notebook):
            self.clear(state.uri)  # a plain .py file gets nothing
            return
        found = state_diagnostics(state)
        index = NotebookLines(snapshot.notebook, state.snapshot_text)
        texts = self._diagnostic_texts.setdefault(state.uri, DiagnosticTexts())
        if state.document == "notebook":
            targets = self._publish_cells(state, found, index, texts)
        else:
            encoding = self._encoding()
            self._send_diagnostics(
                state.uri, state.snapshot_version, texts.texts(found, index, encoding)
            )
            targets = {state.uri}
        texts.published()
        for stale in self._published.get(state.uri, set()) - targets:
            self._send_diagnostics(stale, None, [])
        self._published[state.uri] = targets
        self.publish_state(state)

    def _publish_cells(
        self,
        state: NotebookState,
        found: Sequence[Diagnostic],
        index: NotebookLines,
        texts: DiagnosticTexts,
    ) -> set[str]:
        snapshot = state.snapshot
        notebook_doc = self._documents.notebooks.get(state.uri)
        if snapshot is None or notebook_doc is None:
            return set()
        encoding = self._encoding()
        cells = snapshot.notebook.cells
        by_cell: dict[int, list[str]] = {i: [] for i in range(len(notebook_doc.cells))}
        if self._view_matches(state.uri, notebook_doc, cells):
            self._view_differs.discard(state.uri)
            for diagnostic in found:
                cell = cells[diagnostic.cell]
                last = cell.source.count("\n")  # the cell document's last line
                by_cell[diagnostic.cell].append(
                    texts.text(
                        diagnostic, index, encoding, line_shift=cell.body_line, max_line=last
                    )
                )
        else:
            # A string left open or a marker typed in a cell: the file's cells
            # are not the view's, so nothing is put on a cell but the one to fix.
            log.info("%s: the file's cells are not the view's after an edit", state.uri)
            self._view_differs.add(state.uri)
            found_break = unmatched(notebook_doc, snapshot.notebook)
            if found_break is not None:
                view_cell = notebook_doc.cells[found_break.position]
                by_cell[found_break.position] = [
                    encode(boundary_diagnostic(view_cell.text, found_break, encoding))
                ]
        targets: set[str] = set()
        sent = self._sent
        for position, cell_doc in enumerate(notebook_doc.cells):
            targets.add(cell_doc.uri)
            now = (cell_doc.version, by_cell.get(position, []))
            if sent.get(cell_doc.uri) == now:
                # The client has these for this version of the cell already:
                # sending every cell each keystroke was one notification per
                # cell (2,500 at 50,000 lines) for the one or few that changed.
                continue
            self._send_diagnostics(cell_doc.uri, *now)
        return targets

    def last_state(self, uri: str) -> Any:
        """The last ``sessions/state`` params sent for ``uri``, its cells as JSON
        texts (a new object when it changed)."""
        return self._last_state.get(uri)

    def publish_state(self, state: NotebookState) -> None:
        snapshot = state.snapshot
        if snapshot is None or state.document is None or not is_notebook(snapshot.notebook):
            return
        if state.document == "notebook":
            view = self._documents.notebooks.get(state.uri)
            if view is not None and (
                state.uri in self._view_differs or len(view.cells) != len(snapshot.notebook.cells)
            ):
                # Statuses go to cells by position: they wait, as diagnostics do,
                # until the view's cells are the file's again (view_cells.py).
                return
        cells = self._state_cells.setdefault(state.uri, StateCells()).build(
            snapshot,
            loaded=state.loaded_cells(),
            running=state.running,
            restored=state.restored_cells(),
        )
        # What was sent, with each cell as its JSON text (unchanged cells are the same str).
        params = {"uri": state.uri, "version": state.snapshot_version, "cells": cells}
        last = self._last_state.get(state.uri)
        if last == params:
            return
        self._last_state[state.uri] = params
        fields = {"uri": encode(state.uri), "version": encode(state.snapshot_version)}
        if last is not None and self._only_changes():
            # The client holds ``last`` (notifications arrive in the order sent; a
            # notebook cleared or too large has no ``last``: it gets every cell).
            fields["onlyChanged"] = "true"
            fields["cellCount"] = encode(len(cells))
            fields["cells"] = join_array(changed_entries(last["cells"], cells))
        else:
            fields["cells"] = join_array(cells)
        self._notify("sessions/state", join_object(fields))
