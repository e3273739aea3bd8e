"""Text and JSON renderings of a notebook snapshot shared by CLI verbs."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from sessions.analysis.diagnostics import Diagnostic
from sessions.analysis.snapshot import Snapshot

STATUS_MARK = {
    "fresh": "✓",
    "edited": "●",
    "upstream": "●",
    "never-run": "○",
    "error": "✗",
}
_COLOR = {"fresh": "32", "edited": "33", "upstream": "33", "never-run": "2", "error": "31"}


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, code: str, enabled: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if enabled else text


def _names(names: frozenset[str] | set[str], limit: int = 40) -> str:
    text = ", ".join(sorted(names))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell_rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    """One JSON-ready row per cell; the stable shape documented in docs/cli.md."""
    rows: list[dict[str, Any]] = []
    for index, cell in enumerate(snapshot.notebook.cells):
        record = snapshot.records[index]
        rows.append(
            {
                **snapshot.cell_facts(index),
                "name": cell.display_name(),
                "execution_count": record.execution_count if record else None,
            }
        )
    return rows


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for state in snapshot.states:
        counts[state.status] = counts.get(state.status, 0) + 1
    return {
        "notebook": str(snapshot.path),
        "cells": cell_rows(snapshot),
        "diagnostics": [d.to_json() for d in snapshot.diagnostics],
        "problems": list(snapshot.problems),
        "summary": {"cells": len(snapshot.states), "statuses": counts},
    }


def format_diagnostic(path: str, diagnostic: Diagnostic) -> str:
    """``file:line:col: severity[code] message`` with 1-based line/column, like compilers."""
    return (
        f"{path}:{diagnostic.line + 1}:{diagnostic.col + 1}: "
        f"{diagnostic.severity}[{diagnostic.code}] {diagnostic.message}"
    )


def print_table(snapshot: Snapshot, out: TextIO = sys.stdout) -> None:
    color = use_color(out)
    rows = cell_rows(snapshot)
    show_mutates = any(r["mutates"] for r in rows)  # a column only when it says something
    headers = ("#", "cell", "status", "defines", "uses") + (("mutates",) if show_mutates else ())
    table = [
        (
            str(r["index"]),
            ("[md] " if r["kind"] == "markdown" else "[raw] " if r["kind"] == "raw" else "")
            + r["name"],
            f"{STATUS_MARK[r['status']]} {r['status']}",
            _names(set(r["defines"])),
            _names(set(r["uses"])),
        )
        + ((_names(set(r["mutates"])),) if show_mutates else ())
        for r in rows
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in table)) if table else len(h)
        for i, h in enumerate(headers)
    ]
    widths[1] = min(widths[1], 48)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    for row, r in zip(table, rows, strict=True):
        cells = [value[:w].ljust(w) for value, w in zip(row, widths, strict=True)]
        cells[2] = paint(cells[2], _COLOR[r["status"]], color)
        print("  ".join(cells).rstrip(), file=out)
    stale = sum(1 for s in snapshot.states if s.is_stale)
    print(
        f"\n{len(rows)} cells, {stale} to run (sessions run --stale {snapshot.path})"
        if stale
        else f"\n{len(rows)} cells, all fresh",
        file=out,
    )
