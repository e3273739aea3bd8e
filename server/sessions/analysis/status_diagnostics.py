"""Diagnostics that come from cell statuses and run records, not from the code.

``edited`` and ``upstream`` sit on the cell's marker line (the preamble's first
line); ``run-error`` sits on the line of the cell that raised, read from the
traceback the kernel sent.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from itertools import compress, count

from sessions.analysis.diagnostics import Diagnostic
from sessions.analysis.staleness import CellState
from sessions.cache.records import CellRecord
from sessions.format.notebook import Cell, ParsedNotebook

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython >= 8 prints "Cell In[5], line 3"; older ones "<ipython-input-5-...> in <module>" then "----> 3".
_CELL_LINE = re.compile(r"(?:Cell In\s*\[\d*\]|<ipython-input-[^>]*>|<cell[^>]*>)[^\n]*?line (\d+)")
_ARROW_LINE = re.compile(r"^-+>\s*(\d+)", re.MULTILINE)


def error_line(record: CellRecord) -> int | None:
    """1-based line inside the cell where the last run raised, if the traceback says."""
    for output in reversed(record.outputs):
        if output.get("output_type") != "error":
            continue
        frames = [_ANSI.sub("", str(f)) for f in output.get("traceback", [])]
        line: int | None = None
        for frame in frames:
            found = _CELL_LINE.search(frame)
            if found:
                line = int(found.group(1))
                arrows = _ARROW_LINE.findall(frame)
                if arrows and not found.group(0).startswith("Cell In"):
                    line = int(arrows[-1])
        return line
    return None


def error_summary(record: CellRecord) -> str:
    for output in reversed(record.outputs):
        if output.get("output_type") == "error":
            ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
            return f"{ename}: {evalue}" if evalue else str(ename)
    return "the last run failed"


def _line_text_length(cell: Cell, offset: int) -> int:
    if offset == 0:
        return len(cell.raw.partition("\n")[0].rstrip("\r"))
    lines = cell.raw.split("\n")
    return len(lines[offset].rstrip("\r")) if offset < len(lines) else 0


_STATUS = operator.attrgetter("status")
_SAYS_NOTHING = frozenset({"fresh", "never-run"})


def status_diagnostics(
    notebook: ParsedNotebook, states: Sequence[CellState], records: Sequence[CellRecord | None]
) -> list[Diagnostic]:
    if len(states) != len(notebook.cells):
        raise ValueError(f"{len(states)} states for {len(notebook.cells)} cells")
    out: list[Diagnostic] = []
    # The cells with something to say, found in C: most are fresh or never run,
    # and a Python loop over every cell cost about 1 ms per keystroke at 2,500.
    quiet = map(_SAYS_NOTHING.__contains__, map(_STATUS, states))
    speaking = compress(count(), map(operator.not_, quiet))
    cells = notebook.cells
    for index in speaking:
        cell, state = cells[index], states[index]
        head_len = _line_text_length(cell, 0)
        if state.status == "edited":
            out.append(
                Diagnostic(
                    "edited",
                    "information",
                    f"Cell {index}: {state.reason}; run it to refresh the output.",
                    index,
                    cell.start_line,
                    0,
                    cell.start_line,
                    head_len,
                )
            )
        elif state.status == "upstream":
            out.append(
                Diagnostic(
                    "upstream",
                    "information",
                    f"Cell {index}: {state.reason}; run stale cells to refresh.",
                    index,
                    cell.start_line,
                    0,
                    cell.start_line,
                    head_len,
                )
            )
        elif state.status == "error":
            record = records[index]
            if record is None:
                continue
            line = error_line(record)
            offset = (cell.body_line - cell.start_line) + (line - 1 if line else 0)
            file_line = cell.start_line + offset
            out.append(
                Diagnostic(
                    "run-error",
                    "error",
                    f"Cell {index} raised {error_summary(record)}",
                    index,
                    file_line,
                    0,
                    file_line,
                    _line_text_length(cell, offset),
                )
            )
    return out
