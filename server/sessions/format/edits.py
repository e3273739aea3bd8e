"""Cell edits as data, applied to a parsed notebook (pure: no I/O).

One edit or a batch of them becomes one new notebook text, so a batch costs
one file write and editors watching the file see one change. In a batch, each
edit addresses cells in the notebook as the previous edits left it; anchors
(text of the cell) are therefore the robust way to name cells in a batch.

Edits also come as plain dicts (JSON from an agent):
``{"op": "set_source", "cell": 3, "source": "x = 1"}``,
``{"op": "insert", "source": "...", "before": "anchor" | 0, "after": ..., "kind": "code", "title": ""}``,
``{"op": "delete", "cell": ...}``, ``{"op": "move", "cell": ..., "to": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from sessions.format.anchors import CellAddressError, CellRef, resolve_cell, resolve_position
from sessions.format.notebook import (
    CellKind,
    ParsedNotebook,
    delete_cell,
    insert_cell,
    move_cell,
    set_source,
)

CELL_KINDS: tuple[str, ...] = get_args(CellKind)
_KIND_ALIASES = {"md": "markdown"}


class EditError(ValueError):
    """An edit that cannot be applied; the message says why and how to fix it."""


@dataclass(frozen=True)
class SetSource:
    """Replace a cell's source (what a notebook UI shows: markdown uncommented)."""

    cell: CellRef
    source: str


@dataclass(frozen=True)
class Insert:
    """A new cell before ``before``, after ``after``, or (neither) at the end.

    ``before`` may also be the index ``len(notebook)``, the end.
    """

    source: str = ""
    before: CellRef | None = None
    after: CellRef | None = None
    kind: CellKind = "code"
    title: str = ""


@dataclass(frozen=True)
class Delete:
    cell: CellRef


@dataclass(frozen=True)
class Move:
    """Move ``cell`` so that it ends up at the current index of ``to`` (list pop + insert)."""

    cell: CellRef
    to: CellRef


Edit = SetSource | Insert | Delete | Move


def _insert_position(notebook: ParsedNotebook, edit: Insert) -> int:
    if edit.before is not None and edit.after is not None:
        raise EditError("give `before` or `after` for an insert, not both")
    if edit.before is not None:
        return resolve_position(notebook, edit.before)
    if edit.after is not None:
        return resolve_cell(notebook, edit.after) + 1
    return len(notebook.cells)


def apply_edit(notebook: ParsedNotebook, edit: Edit) -> tuple[ParsedNotebook, int | None]:
    """The edited notebook, and the index of the cell the edit produced or changed.

    Raises :class:`EditError` (with how to fix) or
    :class:`~sessions.format.anchors.CellAddressError` for a bad cell reference.
    """
    if isinstance(edit, SetSource):
        index = resolve_cell(notebook, edit.cell)
        return set_source(notebook, index, edit.source), index
    if isinstance(edit, Insert):
        position = _insert_position(notebook, edit)
        try:
            return (
                insert_cell(notebook, position, edit.source, kind=edit.kind, title=edit.title),
                position,
            )
        except ValueError as exc:
            raise EditError(
                "nothing can be inserted above the preamble (cell 0: the text before the "
                "first `# %%` line); insert before cell 1, or edit the preamble's source"
            ) from exc
    if isinstance(edit, Delete):
        index = resolve_cell(notebook, edit.cell)
        return delete_cell(notebook, index), None
    source = resolve_cell(notebook, edit.cell)
    target = resolve_cell(notebook, edit.to)
    try:
        return move_cell(notebook, source, target), target
    except ValueError as exc:
        raise EditError(
            "the preamble (cell 0: the text before the first `# %%` line) cannot move and "
            "no cell can move above it; move to index 1 or later"
        ) from exc


def apply_edits(notebook: ParsedNotebook, edits: Iterable[Edit]) -> ParsedNotebook:
    """Apply edits in order; a failing edit raises with its position in the batch."""
    for number, edit in enumerate(edits):
        try:
            notebook, _ = apply_edit(notebook, edit)
        except (EditError, CellAddressError) as exc:
            # Same exception (type, candidates), its message prefixed with where it failed.
            exc.args = (f"edit {number} ({_op_name(edit)}): {exc}",)
            raise
    return notebook


def _op_name(edit: Edit) -> str:
    return {SetSource: "set_source", Insert: "insert", Delete: "delete", Move: "move"}[type(edit)]


def parse_kind(value: str) -> CellKind:
    kind = _KIND_ALIASES.get(value, value)
    if kind == "code":
        return "code"
    if kind == "markdown":
        return "markdown"
    if kind == "raw":
        return "raw"
    raise EditError(f"unknown cell kind {value!r}; use one of {', '.join(CELL_KINDS)}")


_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # op -> (required fields, optional fields)
    "set_source": ({"cell", "source"}, set()),
    "insert": (set(), {"source", "before", "after", "kind", "title"}),
    "delete": ({"cell"}, set()),
    "move": ({"cell", "to"}, set()),
}


def _ref(value: Any, field: str) -> CellRef:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EditError(f"`{field}` must be a 0-based cell index or a text anchor, not {value!r}")
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise EditError(f"`{field}` must be a string, not {type(value).__name__}")
    return value


def edit_from_dict(spec: Mapping[str, Any]) -> Edit:
    """An :data:`Edit` from its JSON form; unknown ops or fields raise :class:`EditError`."""
    op = spec.get("op")
    if op not in _FIELDS:
        raise EditError(f"unknown edit op {op!r}; use one of {', '.join(_FIELDS)}")
    required, optional = _FIELDS[op]
    given = {key for key, value in spec.items() if key != "op" and value is not None}
    missing = required - given
    if missing:
        raise EditError(f"`{op}` needs {', '.join(sorted(f'`{m}`' for m in missing))}")
    unknown = given - required - optional
    if unknown:
        allowed = ", ".join(f"`{f}`" for f in sorted(required | optional))
        raise EditError(
            f"`{op}` does not take {', '.join(sorted(f'`{u}`' for u in unknown))}; "
            f"it takes {allowed}"
        )
    if op == "set_source":
        return SetSource(_ref(spec["cell"], "cell"), _text(spec["source"], "source"))
    if op == "delete":
        return Delete(_ref(spec["cell"], "cell"))
    if op == "move":
        return Move(_ref(spec["cell"], "cell"), _ref(spec["to"], "to"))
    before, after = spec.get("before"), spec.get("after")
    return Insert(
        source=_text(spec.get("source") or "", "source"),
        before=None if before is None else _ref(before, "before"),
        after=None if after is None else _ref(after, "after"),
        kind=parse_kind(_text(spec.get("kind") or "code", "kind")),
        title=_text(spec.get("title") or "", "title"),
    )


def as_edit(edit: Edit | Mapping[str, Any]) -> Edit:
    return edit if isinstance(edit, SetSource | Insert | Delete | Move) else edit_from_dict(edit)
