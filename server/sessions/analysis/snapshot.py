"""One notebook's analysed state: file + sidecar -> cells, graph, statuses, diagnostics.

This is what the CLI prints and what the language server publishes. It does
no I/O beyond reading the two files, and never raises on bad content: problems
with the sidecar come back as ``problems`` (human-readable, with the fix).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.analysis.collector_pause import collector_paused
from sessions.analysis.diagnostics import SEVERITY_RANK, Diagnostic
from sessions.analysis.graph import NotebookGraph, build_graph
from sessions.analysis.staleness import CellState, StatusPass
from sessions.analysis.status_diagnostics import status_diagnostics
from sessions.cache.identity import RecordMatching, match_records_kept
from sessions.cache.records import CellRecord, SidecarData
from sessions.cache.sidecar import load_sidecar, sidecar_path
from sessions.format.files import read_notebook_text
from sessions.format.notebook import ParsedNotebook, parse


@dataclass(frozen=True)
class Snapshot:
    path: Path
    notebook: ParsedNotebook
    graph: NotebookGraph
    sidecar: SidecarData
    records: tuple[CellRecord | None, ...]
    """The sidecar record matched to each current cell."""
    states: tuple[CellState, ...]
    diagnostics: tuple[Diagnostic, ...]
    problems: tuple[str, ...]
    _statuses: StatusPass | None = field(default=None, repr=False, compare=False)
    """The status pass behind ``states``: lets the next text's statuses be updated."""
    _matching: RecordMatching | None = field(default=None, repr=False, compare=False)
    """How ``records`` were matched: lets the next text's records be matched from it."""

    def cell_facts(self, index: int) -> dict[str, Any]:
        """What every surface reports about a cell (JSON-ready; keys that need
        no casing convention). The CLI and the language server add their own."""
        cell = self.notebook.cells[index]
        state = self.states[index]
        analysis = self.graph.analyses[index]
        record = self.records[index]
        return {
            "index": index,
            "kind": cell.kind,
            "title": cell.title,
            "line": cell.start_line,
            "status": state.status,
            "reason": state.reason,
            "causes": list(state.causes),
            "defines": sorted(analysis.defines) if analysis else [],
            "uses": sorted(analysis.uses) if analysis else [],
            "mutates": sorted(self.graph.mutates(index)),
            "run": record.run if record else None,
            "duration": record.duration if record else None,
        }


def analyse(
    path: Path,
    notebook: ParsedNotebook,
    sidecar: SidecarData,
    problems: Sequence[str] = (),
    previous: Snapshot | None = None,
) -> Snapshot:
    """The snapshot of ``notebook`` with ``sidecar``'s records.

    ``previous`` (the snapshot of the same notebook's last text, as the
    language server holds it) lets the graph and the statuses be updated
    where the text changed instead of rebuilt; the result is the same.
    """
    if previous is not None and previous.path != path:
        previous = None
    if previous is None:
        # A whole notebook analysed from nothing: see collector_pause.py.
        with collector_paused():
            return _analysed(path, notebook, sidecar, problems, None)
    return _analysed(path, notebook, sidecar, problems, previous)


def _analysed(
    path: Path,
    notebook: ParsedNotebook,
    sidecar: SidecarData,
    problems: Sequence[str],
    previous: Snapshot | None,
) -> Snapshot:
    graph = build_graph(notebook, previous.graph if previous is not None else None)
    matched, matching = match_records_kept(
        sidecar.cells,
        notebook.cells,
        previous._matching if previous is not None else None,
        notebook.memos if sidecar.cells else None,
    )
    records = tuple(matched)
    statuses = StatusPass(
        notebook, graph, records, previous._statuses if previous is not None else None
    )
    states = tuple(statuses.states)
    diagnostics = sorted(
        [*graph.diagnostics, *status_diagnostics(notebook, states, records)],
        key=lambda d: (d.line, d.col, SEVERITY_RANK[d.severity], d.code),
    )
    return Snapshot(
        path,
        notebook,
        graph,
        sidecar,
        records,
        states,
        tuple(diagnostics),
        tuple(problems),
        statuses,
        matching,
    )


def load_snapshot(path: Path) -> Snapshot:
    """Read and analyse a notebook and its sidecar. Raises only :class:`NotebookReadError`."""
    text = read_notebook_text(path)
    loaded = load_sidecar(sidecar_path(path), path.name)
    return analyse(path, parse(text), loaded.data, loaded.problems)
