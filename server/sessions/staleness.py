"""Cell status as a pure function of analysis, run records and nothing else (DESIGN §5).

``status(cell) = f(graph, records)``; whether a cell is *loaded* in the current
kernel process is tracked separately by the runner. Wording matters: a fresh
cell means "neither its code nor upstream code changed since this output", not
that kernel state is consistent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .graph import NotebookGraph
from .notebook import Notebook
from .records import CellRecord

Status = Literal["never-run", "edited", "upstream", "error", "fresh"]


@dataclass(frozen=True, slots=True)
class CellState:
    status: Status
    reason: str
    """Why the cell is not fresh, in words for a status line ("" when fresh)."""
    causes: tuple[int, ...] = ()
    """Cells whose change made this one stale: the root causes, not every hop."""

    @property
    def is_stale(self) -> bool:
        """Whether ``Run stale`` should run this cell."""
        return self.status in ("never-run", "edited", "upstream", "error")


FRESH = CellState("fresh", "")
NOTHING_TO_RUN = CellState("fresh", "")


def has_code_to_run(notebook: Notebook, graph: NotebookGraph, index: int) -> bool:
    """Whether a cell has a statement to run.

    Markdown, raw, empty and comment-only cells have nothing to run: they are
    always fresh and never planned. Magics are uncommented in ``cell.code``, so
    ``# %time f()`` counts as a statement. A cell that does not parse has code
    to run, so the kernel reports its ``SyntaxError`` as Jupyter would.
    """
    cell = notebook.cells[index]
    if cell.kind != "code" or graph.analyses[index] is None:
        return False
    return any(
        line.strip() and not line.lstrip().startswith("#") for line in cell.code.splitlines()
    )


def compute_statuses(
    notebook: Notebook,
    graph: NotebookGraph,
    records: Sequence[CellRecord | None],
) -> list[CellState]:
    """The status of every cell; ``records[i]`` is the record matched to cell ``i``."""
    count = len(notebook.cells)
    states: list[CellState | None] = [None] * count
    visiting: set[int] = set()

    def state_of(index: int) -> CellState:
        known = states[index]
        if known is not None:
            return known
        if index in visiting:  # a cycle: reported as a `cycle` diagnostic elsewhere
            return CellState("upstream", "part of a dependency cycle", (index,))
        visiting.add(index)
        try:
            result = _own_state(index)
        finally:
            visiting.discard(index)
        states[index] = result
        return result

    def _own_state(index: int) -> CellState:
        if not has_code_to_run(notebook, graph, index):
            return NOTHING_TO_RUN
        record = records[index]
        if record is None:
            return CellState("never-run", "never run", (index,))
        if record.hash != notebook.cells[index].hash:
            return CellState("edited", "code changed since this output", (index,))
        upstream = _upstream_state(index, record)
        if upstream is not None:
            return upstream
        if record.status == "error":
            return CellState("error", "last run raised an error")
        if record.status == "interrupted":
            return CellState("error", "last run was interrupted")
        return FRESH

    def _upstream_state(index: int, record: CellRecord) -> CellState | None:
        providers = graph.providers[index]
        reasons: list[str] = []
        causes: list[int] = []
        for name in sorted(set(providers) | set(record.inputs)):
            provider = providers.get(name)
            if provider is None:
                # Recorded as an input when it ran, but nothing provides it now
                # (its cell was deleted): the root cause is in this cell, so
                # cells below can name it ("because of cell N").
                reasons.append(f"`{name}` is no longer defined by any cell")
                causes.append(index)
                continue
            provider_record = records[provider]
            provider_state = state_of(provider)
            if provider_record is None:
                if provider_state.status == "fresh":
                    continue  # e.g. a comment-only cell cannot provide anything
                reasons.append(f"cell {provider} (`{name}`) never ran")
                causes.append(provider)
            elif provider_state.status in ("never-run", "edited", "upstream"):
                reasons.append(_describe(provider, name, provider_state))
                causes.extend(provider_state.causes or (provider,))
            elif record.inputs.get(name) != provider_record.run:
                reasons.append(f"cell {provider} (`{name}`) ran again since this output")
                causes.append(provider)
        if not reasons:
            return None
        unique_causes = tuple(sorted(set(causes)))
        return CellState(
            "upstream",
            "upstream code changed since this output: " + "; ".join(reasons),
            unique_causes,
        )

    return [state_of(i) for i in range(count)]


def _describe(provider: int, name: str, state: CellState) -> str:
    if state.status == "edited":
        return f"cell {provider} (`{name}`) was edited"
    if state.status == "never-run":
        return f"cell {provider} (`{name}`) never ran"
    roots = ", ".join(str(c) for c in state.causes) or "?"
    return f"cell {provider} (`{name}`) is stale because of cell {roots}"


def stale_cells(states: Sequence[CellState]) -> list[int]:
    """Indexes ``Run stale`` runs, in file order (the runner orders by dependencies)."""
    return [i for i, s in enumerate(states) if s.is_stale]


def record_inputs(
    graph: NotebookGraph, records: Sequence[CellRecord | None], index: int
) -> dict[str, int]:
    """The ``inputs`` of a record for cell ``index`` about to run: name -> provider's run id.

    Names whose provider never ran are left out; the cell is then ``upstream``
    until that provider runs and this cell runs again.
    """
    inputs: dict[str, int] = {}
    for name, provider in graph.providers[index].items():
        provider_record = records[provider]
        if provider_record is not None and provider != index:
            inputs[name] = provider_record.run
    return inputs
