"""``--only-fresh``: which cells keep a notebook from being published, and why.

A CI job that publishes a report wants to fail, not to publish outputs that
no longer match the code. Every code cell must be ``fresh``: an edited,
upstream-stale or never-run cell refuses the export, and so does a cell
whose last run failed (its output is an error, not a result). Cells with
nothing to run (markdown, comments) are always fresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from sessions.analysis.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class UnfreshCell:
    index: int
    name: str
    status: str
    reason: str

    def line(self) -> str:
        return f"cell {self.index} ({self.name}): {self.status}: {self.reason}"


def unfresh_cells(snapshot: Snapshot) -> list[UnfreshCell]:
    """The cells that are not fresh, in file order."""
    return [
        UnfreshCell(
            index, snapshot.notebook.cells[index].display_name(), state.status, state.reason
        )
        for index, state in enumerate(snapshot.states)
        if state.status != "fresh"
    ]


def refusal(notebook: str, cells: list[UnfreshCell]) -> str:
    """The message of a refused ``--only-fresh`` export: the list, and what to do."""
    listed = "\n".join(f"  {cell.line()}" for cell in cells)
    return (
        f"{notebook}: not exported: {len(cells)} cell(s) not fresh (--only-fresh):\n{listed}\n"
        f"run them first (sessions run {notebook}), or export without --only-fresh"
    )
