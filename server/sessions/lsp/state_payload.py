"""The JSON a client renders a notebook from: ``sessions.state`` and ``sessions/state``.

Pure: built from a :class:`~sessions.engine.Snapshot` plus what only the
server knows (loaded cells, the running cell, the kernel).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..engine import Snapshot
from ..records import CellRecord


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


def _record_fields(record: CellRecord | None) -> dict[str, Any]:
    if record is None:
        return {"run": None, "executionCount": None, "duration": None, "started": None}
    return {
        "run": record.run,
        "executionCount": record.execution_count,
        "duration": record.duration,
        "started": iso_time(record.started),
    }


def cells_json(
    snapshot: Snapshot,
    *,
    loaded: Collection[int],
    running: int | None,
    outputs: bool,
) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    for index, cell in enumerate(snapshot.notebook.cells):
        state = snapshot.states[index]
        analysis = snapshot.graph.analyses[index]
        record = snapshot.records[index]
        entry: dict[str, Any] = {
            "index": index,
            "kind": cell.kind,
            "title": cell.title,
            "line": cell.start_line,
            "endLine": max(cell.start_line, cell.end_line - 1),
            "status": state.status,
            "reason": state.reason,
            "causes": list(state.causes),
            "defines": sorted(analysis.defines) if analysis else [],
            "uses": sorted(analysis.uses) if analysis else [],
            "mutates": sorted(analysis.mutates) if analysis else [],
            "loaded": index in loaded,
            "running": index == running,
            **_record_fields(record),
        }
        if outputs:
            entry["outputs"] = list(record.outputs) if record is not None else []
        cells.append(entry)
    return cells
