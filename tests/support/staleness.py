"""A tiny simulator of runs for staleness tests: records built exactly as the runner builds them."""

from __future__ import annotations

from collections.abc import Iterable

from sessions.analysis.graph import build_graph
from sessions.analysis.staleness import compute_statuses, failed_versions, record_versions
from sessions.cache.identity import match_records
from sessions.cache.records import CellRecord, RunStatus
from sessions.format.notebook import ParsedNotebook, parse


class History:
    """A notebook's text plus the sidecar records its runs produced."""

    def __init__(self, text: str) -> None:
        self.notebook: ParsedNotebook = parse(text)
        self.records: list[CellRecord | None] = [None] * len(self.notebook.cells)
        self.run_counter = 0

    def edit(self, text: str) -> None:
        """Replace the file text, re-matching existing records to the new cells."""
        kept = [r for r in self.records if r is not None]
        self.notebook = parse(text)
        self.records = list(match_records(kept, self.notebook.cells))

    def run(self, cells: Iterable[int], status: RunStatus = "ok") -> None:
        graph = build_graph(self.notebook)
        for index in cells:
            cell = self.notebook.cells[index]
            self.run_counter += 1
            inputs, provides = record_versions(self.notebook, graph, self.records, index)
            if status != "ok":
                provides = failed_versions(provides, self.run_counter)
            self.records[index] = CellRecord(
                hash=cell.hash,
                index=index,
                run=self.run_counter,
                status=status,
                inputs=inputs,
                provides=provides,
                code=cell.code,
            )

    def run_all(self) -> None:
        self.run(i for i, c in enumerate(self.notebook.cells) if c.kind == "code")

    def statuses(self) -> list[str]:
        graph = build_graph(self.notebook)
        return [s.status for s in compute_statuses(self.notebook, graph, self.records)]

    def stale(self) -> list[int]:
        return [i for i, s in enumerate(self.statuses()) if s != "fresh"]

    def run_stale(self) -> None:
        graph = build_graph(self.notebook)
        self.run(graph.execution_order(self.stale()))
