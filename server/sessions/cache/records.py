"""The run record of one cell, as stored in the sidecar cache (DESIGN §3).

Plain data shared by the sidecar reader/writer, cell identity matching and
the staleness function. Field names match the sidecar's TOML keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RunStatus = Literal["ok", "error", "interrupted"]

Output = dict[str, Any]
"""One output in nbformat's dict shape (``output_type`` plus its fields)."""


@dataclass(slots=True)
class CellRecord:
    """What the last run of a cell produced, and from which inputs."""

    hash: str
    """``code_hash`` of the cell code that produced this record."""
    index: int
    """Position of the cell when it ran; a hint for matching, not an identity."""
    run: int
    """Run id, unique and increasing per notebook."""
    status: RunStatus = "ok"
    execution_count: int | None = None
    started: datetime | None = None
    duration: float | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    """Input name (a Python name or a state name such as ``rng:numpy``) -> the
    version key its provider had when this cell ran (``versions.py``)."""
    provides: dict[str, str] = field(default_factory=dict)
    """Name this cell provides -> the version key this run gave it."""
    outputs: list[Output] = field(default_factory=list)
    id: str | None = None
    """Explicit ``id="..."`` from the cell header, when it has one."""
    code: str | None = None
    """The code that ran (optional); lets identity matching measure similarity
    and lets a client show what changed since the output was produced."""
    parameters: dict[str, str] = field(default_factory=dict)
    """Only on the ``parameters`` cell of a run with parameters (``sessions run
    -p NAME VALUE``): name -> the Python literal injected after the cell's own
    code. Its ``provides`` keys say so, so the outputs below were produced
    with these values and stay fresh while they are in effect."""


@dataclass(slots=True)
class KernelInfo:
    python: str = ""
    language: str = ""


@dataclass(slots=True)
class SidecarData:
    """The whole sidecar: records for the cells of one notebook."""

    notebook: str
    run_counter: int = 0
    kernel: KernelInfo = field(default_factory=KernelInfo)
    cells: list[CellRecord] = field(default_factory=list)
