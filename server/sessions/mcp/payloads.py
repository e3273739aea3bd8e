"""What MCP tools return: compact JSON an LLM can read (cells, runs, outputs).

Empty fields are left out and output text is cut to ``OUTPUT_LIMIT``
characters (head and tail kept), so that a tool result stays small.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sessions.api.notebook import AsyncNotebook
from sessions.api.views import CellView, outputs_text
from sessions.run.runner import RunSummary

if TYPE_CHECKING:
    from sessions.mcp.pool import NotebookPool


OUTPUT_LIMIT = 4_000
"""Characters of output text per cell in tool results (head and tail kept)."""


def to_json(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=1)


def cell_row(view: CellView) -> dict[str, Any]:
    """A cell as listed by ``get_cells``: empty fields left out to keep it short."""
    first_line = next((line.strip() for line in view.source.splitlines() if line.strip()), "")
    row: dict[str, Any] = {"index": view.index, "kind": view.kind}
    if view.title:
        row["title"] = view.title
    if view.is_preamble:
        row["preamble"] = True
    row["first_line"] = first_line[:80]
    row["status"] = view.status
    if view.reason:
        row["reason"] = view.reason
    if view.defines:
        row["defines"] = list(view.defines)
    if view.uses:
        row["uses"] = list(view.uses)
    if view.short_output is not None:
        row["output"] = view.short_output
    if view.loaded:
        row["loaded"] = True
    return row


def cells_payload(pool: NotebookPool, notebook: AsyncNotebook) -> dict[str, Any]:
    views = notebook.cells()
    stale = [v.index for v in views if v.is_stale]
    return {
        "notebook": pool.display(notebook.path),
        "cells": [cell_row(v) for v in views],
        "stale": stale,
        "hint": 'run mode "stale" runs the stale cells' if stale else "every cell is fresh",
    }


def run_payload(pool: NotebookPool, notebook: AsyncNotebook, summary: RunSummary) -> dict[str, Any]:
    after = notebook.cells()
    payload: dict[str, Any] = {
        "notebook": pool.display(notebook.path),
        "ok": summary.ok,
        "ran": [
            {
                "index": o.index,
                "status": o.record.status,
                "duration": o.record.duration,
                "output": outputs_text(o.record.outputs, OUTPUT_LIMIT),
            }
            for o in summary.outcomes
        ],
    }
    if summary.restored:
        payload["restored"] = [
            {
                "index": r.index,
                "names": list(r.result.restored),
                "seconds": r.result.seconds,
                "original_duration": r.result.duration,
            }
            for r in summary.restored
        ]
    if summary.notes:
        payload["notes"] = summary.notes
    if summary.parameters:
        payload["parameters"] = summary.parameters
    if not summary.planned:
        payload["note"] = "nothing to run: every cell is fresh"
    if summary.skipped:
        payload["skipped"] = summary.skipped
    if summary.stopped_because:
        payload["stopped_because"] = summary.stopped_because
    payload["still_stale"] = [v.index for v in after if v.is_stale]
    return payload
