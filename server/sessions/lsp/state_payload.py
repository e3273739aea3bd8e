"""The JSON a client renders a notebook from: ``sessions.state`` and ``sessions/state``.

Pure: built from a :class:`~sessions.analysis.snapshot.Snapshot` plus what only the
server knows (loaded cells, the running cell, the kernel).

``sessions.state`` outputs come in pages (docs/protocol.md): a reply holds
at most ``STATE_PAGE_BYTES`` of output JSON (at least one output, so every
page makes progress), and ``nextCursor`` says where the next page starts. A
notebook of 1,000 images of 100 KB made one 134 MB reply, which a client
had to parse in one go and the server held twice (the dict and its JSON).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress, count, repeat
from typing import Any, Literal, cast

from sessions.analysis.snapshot import Snapshot
from sessions.cache.records import CellRecord
from sessions.format.notebook import Cell
from sessions.run.checkpoints.checkpointer import RestoreResult

STATE_PAGE_BYTES = 4 * 1024 * 1024
"""Output JSON per ``sessions.state`` reply, at most (and the default)."""


@dataclass(frozen=True)
class KernelView:
    state: str
    """``stopped`` (none running yet), ``starting``, ``idle``, ``busy``, ``dead``, ``restarting``."""
    python: str
    reason: str
    connection_file: str | None = None
    """The running kernel's connection file, for ``jupyter console --existing``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "python": self.python,
            "reason": self.reason,
            "connectionFile": self.connection_file,
        }


def iso_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restored_json(result: RestoreResult | None) -> dict[str, Any] | None:
    """``restored`` of a cell: how the kernel got its values from a checkpoint."""
    if result is None:
        return None
    return {"seconds": result.seconds, "duration": result.duration, "names": list(result.restored)}


def _end_line(cell: Cell) -> int:
    return max(cell.start_line, cell.end_line - 1)


_LINES_HEAD = '{"line": '
_END_KEY = ', "endLine": '


def _entry_text(entry: dict[str, Any]) -> str:
    """``entry`` as JSON with its lines first, where :func:`_on_lines` finds them."""
    rest = dict(entry)
    line, end_line = rest.pop("line"), rest.pop("endLine")
    encoded = json.dumps(rest)
    separator = ", " if len(encoded) > 2 else ""
    return f"{_LINES_HEAD}{line}{_END_KEY}{end_line}{separator}{encoded[1:]}"


def _on_lines(text: str, line: int, end_line: int) -> str:
    """An :func:`_entry_text` with other lines (the rest of the entry as it was)."""
    digits = text.index(_END_KEY, len(_LINES_HEAD)) + len(_END_KEY)
    after = text.find(", ", digits)  # the next key's (an entry has a dozen)
    if after < 0:
        after = len(text) - 1  # the closing brace
    return f"{_LINES_HEAD}{line}{_END_KEY}{end_line}{text[after:]}"


def cell_json(
    snapshot: Snapshot,
    index: int,
    *,
    loaded: bool,
    running: bool,
    outputs: bool,
    restored: RestoreResult | None = None,
) -> dict[str, Any]:
    """One cell of ``sessions.state`` / ``sessions/state`` (docs/protocol.md)."""
    cell = snapshot.notebook.cells[index]
    record = snapshot.records[index]
    entry: dict[str, Any] = {
        **snapshot.cell_facts(index),
        "endLine": _end_line(cell),
        "loaded": loaded,
        "restored": restored_json(restored),
        "running": running,
        "executionCount": record.execution_count if record else None,
        "started": iso_time(record.started) if record else None,
    }
    entry["outputCount"] = len(record.outputs) if record is not None else 0
    if outputs:
        entry["outputs"] = list(record.outputs) if record is not None else []
    return entry


def cells_json(
    snapshot: Snapshot,
    *,
    loaded: Collection[int],
    running: int | None,
    outputs: bool,
    restored: Mapping[int, RestoreResult] | None = None,
) -> list[dict[str, Any]]:
    restored = restored or {}
    return [
        cell_json(
            snapshot,
            index,
            loaded=index in loaded,
            running=index == running,
            outputs=outputs,
            restored=restored.get(index),
        )
        for index in range(len(snapshot.notebook.cells))
    ]


def record_signatures(
    records: Sequence[CellRecord | None],
) -> list[tuple[int | None, int | None, int]]:
    """What of each record the entry shows and a caller may change in place
    (a test's history renumbers run ids on the same objects); ``(None, None,
    0)`` for a cell without one. Read a column at a time in C (``getattr``
    with a default passes ``None`` through): a Python call per record cost
    about 1.5 ms per keystroke at 2,500 cells."""
    return list(
        zip(
            map(getattr, records, repeat("run"), repeat(None)),
            map(getattr, records, repeat("execution_count"), repeat(None)),
            map(len, map(getattr, records, repeat("outputs"), repeat(()))),
            strict=True,
        )
    )


Comparison = Literal["identity", "equality", "values"]


def _differing(
    before: Sequence[object], after: Sequence[object], *, compare: Comparison = "identity"
) -> set[int]:
    """Positions (common to both) whose items differ, compared in C rather
    than cell by cell in Python. ``compare``: ``identity`` (not the same
    objects), ``equality`` (not the same objects, and not equal: a
    dataclass's ``==`` runs in Python, so only for those that are not the
    same), ``values`` (not equal: tuples of plain values, compared in C)."""
    if before is after:
        return set()
    if compare == "values":
        return set(compress(count(), map(operator.ne, before, after)))
    moved = compress(count(), map(operator.is_not, before, after))
    if compare == "equality":
        return {index for index in moved if before[index] != after[index]}
    return set(moved)


_COMPARE: tuple[Comparison, ...] = (
    "identity",
    "identity",
    "identity",
    "equality",
    "equality",
    "values",
)
"""How :meth:`StateCells.build` compares each of its inputs with the last ones."""


class StateCells:
    """The cells of ``sessions/state`` for one notebook, as JSON texts, made
    again only where something they show changed.

    A keystroke re-sends every cell. Building each entry (sorting its names,
    formatting its record) cost about 1.5 ms per edit at 250 cells and
    encoding them 11 ms at 2,500; and even comparing a key of a dozen fields
    per cell cost 4 ms per keystroke at 50,000 lines. So the inputs are kept
    as the lists they come in, and the cells whose entry may differ are found
    by comparing those lists item by item in C: the cell (its text, place,
    title and kind are fixed by the ``Cell`` object), its analysis and flow,
    its state, its record (and what of it may change in place), and whether
    it is loaded, running or restored. Only the texts are kept (the dicts
    they were made from cost 4 MB over 20 open notebooks)."""

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._inputs: tuple[Sequence[object], ...] = ()
        self._loaded: frozenset[int] = frozenset()
        self._running: int | None = None
        self._restored: dict[int, RestoreResult] = {}
        self.rebuilt = 0
        """How many entries the last :meth:`build` made again (for tests and benchmarks)."""

    def build(
        self,
        snapshot: Snapshot,
        *,
        loaded: Collection[int],
        running: int | None,
        restored: Mapping[int, RestoreResult] | None = None,
    ) -> list[str]:
        """Each cell's entry of ``sessions/state``, as JSON text (``cell_json``, encoded)."""
        restored = dict(restored or {})
        loaded = frozenset(loaded)
        graph = snapshot.graph
        cells = snapshot.notebook.cells
        inputs: tuple[Sequence[object], ...] = (
            cells,
            graph.analyses,
            graph.flows or [None] * len(cells),
            snapshot.states,
            snapshot.records,
            # No records (a notebook never run): the records are their own signatures.
            record_signatures(snapshot.records) if any(snapshot.records) else snapshot.records,
        )
        texts = self._texts
        common = min(len(texts), len(cells))
        moved: set[int] = set()
        if self._inputs:
            dirty = set()
            # The states and records may be made again but equal, and the record
            # signatures are values; the rest are objects the analysis keeps
            # where a cell did not change.
            for compare, before, after in zip(
                _COMPARE[1:], self._inputs[1:], inputs[1:], strict=True
            ):
                dirty |= _differing(before, after, compare=compare)
            # A cell that is another object with the same text, all else equal,
            # was moved by an edit above it that changed the line count (Enter):
            # its entry is the last one on other lines. Made again, the entries
            # of the 1,250 cells below the middle of a 50,000-line notebook cost
            # 10 ms per Enter.
            before_cells = cast(Sequence[Cell], self._inputs[0])
            for index in _differing(before_cells, cells) - dirty:
                if before_cells[index].raw == cells[index].raw:
                    moved.add(index)
                else:
                    dirty.add(index)
            dirty |= loaded ^ self._loaded
            dirty |= {index for index in (running, self._running) if index is not None}
            dirty |= {
                index
                for index in restored.keys() | self._restored.keys()
                if restored.get(index) != self._restored.get(index)
            }
        else:
            dirty = set(range(common))
        fresh = texts[:common]
        for index in range(common, len(cells)):
            dirty.add(index)
            fresh.append("")
        rebuilt = 0
        for index in moved - dirty:
            cell = cells[index]
            fresh[index] = _on_lines(fresh[index], cell.start_line, _end_line(cell))
        for index in dirty:
            if index >= len(cells):
                continue
            entry = cell_json(
                snapshot,
                index,
                loaded=index in loaded,
                running=index == running,
                outputs=False,
                restored=restored.get(index),
            )
            fresh[index] = _entry_text(entry)
            rebuilt += 1
        self._texts, self._inputs = fresh, inputs
        self._loaded, self._running, self._restored = loaded, running, restored
        self.rebuilt = rebuilt
        return list(fresh)


@dataclass(frozen=True, slots=True)
class OutputsCursor:
    """Where the next page of outputs starts: output ``output`` of cell
    ``cell``, whose record had run id ``run`` when the cursor was made."""

    cell: int
    output: int
    run: int | None

    def encode(self) -> str:
        """Opaque to clients; a string so it can change shape."""
        return f"{self.cell}:{self.output}:{'' if self.run is None else self.run}"

    @staticmethod
    def decode(text: object) -> OutputsCursor:
        """Raises ``ValueError`` for anything :meth:`encode` did not make."""
        if not isinstance(text, str):
            raise ValueError("not a string")
        cell, output, run = text.split(":")
        cursor = OutputsCursor(int(cell), int(output), int(run) if run else None)
        if cursor.cell < 0 or cursor.output < 0:
            raise ValueError("negative")
        return cursor


def add_outputs_page(
    cells: list[dict[str, Any]],
    records: Sequence[CellRecord | None],
    *,
    cursor: OutputsCursor | None,
    max_bytes: int = STATE_PAGE_BYTES,
) -> OutputsCursor | None:
    """Add one page of outputs to ``cells`` (from :func:`cells_json`), from
    ``cursor`` on; returns the cursor of the next page, None when done.

    A cell the page reaches gets ``outputs`` (the outputs in this page, maybe
    none) and ``outputsFrom`` (the index of the first one); cells outside the
    page get neither. If the cursor's cell ran again since, its outputs start
    over at 0 (a client sees the new ``run`` and starts again)."""
    first_cell, first_output = (cursor.cell, cursor.output) if cursor is not None else (0, 0)
    used = 0
    for index in range(first_cell, len(cells)):
        record = records[index] if index < len(records) else None
        outputs = record.outputs if record is not None else []
        start = 0
        if index == first_cell and cursor is not None:
            same_run = record is not None and record.run == cursor.run
            start = min(first_output, len(outputs)) if same_run else 0
        end = start
        while end < len(outputs):
            size = len(json.dumps(outputs[end], default=str))  # as sent: ASCII JSON
            if used and used + size > max_bytes:
                break
            used += size
            end += 1
        cells[index]["outputs"] = list(outputs[start:end])
        cells[index]["outputsFrom"] = start
        if end < len(outputs):
            assert record is not None
            return OutputsCursor(index, end, record.run)
    return None
