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


def cells_json(
    snapshot: Snapshot,
    *,
    loaded: Collection[int],
    running: int | None,
    outputs: bool,
) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    for index, cell in enumerate(snapshot.notebook.cells):
        record = snapshot.records[index]
        entry: dict[str, Any] = {
            **snapshot.cell_facts(index),
            "endLine": max(cell.start_line, cell.end_line - 1),
            "loaded": index in loaded,
            "running": index == running,
            "executionCount": record.execution_count if record else None,
            "started": iso_time(record.started) if record else None,
        }
        if outputs:
            entry["outputs"] = list(record.outputs) if record is not None else []
        cells.append(entry)
    return cells
