"""Code lenses: run, run with upstream, run stale (n) and a status lens per code cell."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lsprotocol import types

from sessions.analysis.snapshot import Snapshot
from sessions.analysis.staleness import CellState, has_code_to_run, stale_cells
from sessions.cache.records import CellRecord


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest}s"


def format_ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def _error_name(record: CellRecord) -> str:
    if record.status == "interrupted":
        return "interrupted"
    for output in reversed(record.outputs):
        if output.get("output_type") == "error":
            return str(output.get("ename") or "error")
    return "error"


def status_title(state: CellState, record: CellRecord | None, *, running: bool) -> str:
    """``✓ 0.4s · 2 min ago``, ``● stale: cell 3 changed``, ``✗ KeyError``, ``○ never run``, ``◌ running…``."""
    if running:
        return "◌ running…"
    if state.status == "never-run":
        return "○ never run"
    if state.status == "edited":
        return "● stale: edited"
    if state.status == "upstream":
        causes = list(state.causes)
        if not causes:
            return "● stale: upstream changed"
        noun = "cell" if len(causes) == 1 else "cells"
        return f"● stale: {noun} {', '.join(map(str, causes))} changed"
    if state.status == "error" and record is not None:
        return f"✗ {_error_name(record)}"
    if record is None:
        return "✓"
    ago = format_ago(record.started)
    return f"✓ {format_duration(record.duration)}" + (f" · {ago}" if ago else "")


def _command(title: str, name: str, argument: dict[str, Any]) -> types.Command:
    return types.Command(title=title, command=name, arguments=[argument])


def code_lenses(snapshot: Snapshot, uri: str, *, running: int | None) -> list[types.CodeLens]:
    notebook = snapshot.notebook
    stale = len(stale_cells(snapshot.states))
    lenses: list[types.CodeLens] = []
    for index, cell in enumerate(notebook.cells):
        if not has_code_to_run(notebook, snapshot.graph, index):
            continue
        line = cell.start_line
        where = types.Range(types.Position(line, 0), types.Position(line, 0))
        commands = [
            _command("▶ Run cell", "sessions.run", {"uri": uri, "mode": "cell", "cells": [index]}),
            _command(
                "▶ Run with upstream",
                "sessions.run",
                {"uri": uri, "mode": "cell", "cells": [index], "runUpstream": True},
            ),
        ]
        if stale > 0:
            commands.append(
                _command(f"▶ Run stale ({stale})", "sessions.run", {"uri": uri, "mode": "stale"})
            )
        title = status_title(
            snapshot.states[index], snapshot.records[index], running=index == running
        )
        commands.append(_command(title, "sessions.state", {"uri": uri}))
        lenses.extend(types.CodeLens(range=where, command=command) for command in commands)
    return lenses
