"""Cell status as a pure function of analysis, run records and nothing else (DESIGN §5).

``status(cell) = f(graph, records)``; whether a cell is *loaded* in the current
kernel process is tracked separately by the runner. Wording matters: a fresh
cell means "neither its code nor upstream code changed since this output", not
that kernel state is consistent.

A record says which version key each input had when the cell ran
(``inputs``) and which keys the run gave the names the cell provides
(``provides``). A cell is ``upstream`` when an input's provider now gives it
another key — computed from the current code (``versions.py``) — so re-running
unchanged code leaves its consumers fresh, and an edit reaches exactly the
cells that read a name whose key it changed. Statuses are computed in one
pass in dependency order (no recursion: chains of any length).
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sessions.analysis.graph import NotebookGraph
from sessions.analysis.hidden_state import describe_name
from sessions.analysis.versions import (
    UNKNOWN_INPUT,
    cell_meaning,
    is_widget_changed_key,
    name_keys,
)
from sessions.cache.records import CellRecord
from sessions.format.notebook import ParsedNotebook

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


def has_code_to_run(notebook: ParsedNotebook, graph: NotebookGraph, index: int) -> bool:
    """Whether a cell has a statement to run.

    Markdown, raw, empty and comment-only cells have nothing to run: they are
    always fresh and never planned. Magics are uncommented in ``cell.code``, so
    ``# %time f()`` counts as a statement. A cell that does not parse has code
    to run, so the kernel reports its ``SyntaxError`` as Jupyter would.
    """
    cell = notebook.cells[index]
    analysis = graph.analyses[index]
    if cell.kind != "code" or analysis is None:
        return False
    if analysis.statements or analysis.syntax_error is not None:
        return True  # the common case, without looking at the text again
    return any(
        line.strip() and not line.lstrip().startswith("#") for line in cell.code.splitlines()
    )


def is_edited(record: CellRecord, code: str, code_hash: str) -> bool:
    """Whether the code changed in meaning since ``record`` ran (comments and
    layout do not count; without the record's code, any byte change does)."""
    if record.hash == code_hash:
        return False
    if record.code is None:
        return True
    return cell_meaning(record.code) != cell_meaning(code)


class VersionTable:
    """The current version key of every name each cell provides, computed in
    dependency order and only where some record needs it (``needed``)."""

    def __init__(
        self,
        notebook: ParsedNotebook,
        graph: NotebookGraph,
        records: Sequence[CellRecord | None],
    ) -> None:
        self.notebook = notebook
        self.graph = graph
        self.records = records
        self.keys: list[Mapping[str, str]] = [{} for _ in notebook.cells]
        self.consistent: list[bool] = [False] * len(notebook.cells)
        """The record's code and inputs are exactly as now: its keys are the current ones."""
        self.computed: list[bool] = [False] * len(notebook.cells)
        recorded = [i for i, record in enumerate(records) if record is not None]
        self.needed = set(recorded)
        analyses = graph.analyses
        code_cells = sum(1 for analysis in analyses if analysis is not None)
        recorded_code = sum(1 for i in recorded if analyses[i] is not None)
        if recorded_code < code_cells:  # else every code cell is needed already: no walk
            self.needed |= graph.upstream_closure(recorded)

    def inputs_now(self, index: int) -> dict[str, str]:
        """Input name -> the key its provider gives it now."""
        keys = self.keys
        return {
            name: keys[provider].get(name, UNKNOWN_INPUT)
            for name, provider in self.graph.providers[index].items()
            if provider != index
        }

    def updated(
        self,
        notebook: ParsedNotebook,
        graph: NotebookGraph,
        records: Sequence[CellRecord | None],
    ) -> VersionTable:
        """A copy for the next text of the notebook, to update where it changed."""
        table = VersionTable.__new__(VersionTable)
        table.notebook, table.graph, table.records = notebook, graph, records
        table.keys = list(self.keys)
        table.consistent = list(self.consistent)
        table.computed = list(self.computed)
        table.needed = self.needed
        return table

    def compute(self, index: int) -> None:
        """The keys of cell ``index`` (its providers' keys are known)."""
        self.computed[index] = True
        self.consistent[index] = False
        analysis = self.graph.analyses[index]
        if analysis is None:
            return
        cell = self.notebook.cells[index]
        flow = self.graph.flows[index]
        inputs = self.inputs_now(index)
        record = self.records[index]
        if (
            record is not None
            and record.hash == cell.hash
            and record.inputs == inputs
            and flow.provides.issubset(record.provides)
        ):
            self.consistent[index] = True
            self.keys[index] = record.provides
            return
        self.keys[index] = name_keys(cell.code, analysis, flow, inputs)


def record_versions(
    notebook: ParsedNotebook,
    graph: NotebookGraph,
    records: Sequence[CellRecord | None],
    index: int,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(inputs, provides)`` for a record of cell ``index`` about to run.

    Inputs are the keys the providers' own records gave the names — what the
    kernel holds after they ran — not keys computed from the current code: a
    provider edited but not re-run still holds its old value. An input whose
    provider has no record is recorded as unknown, so the cell stays
    ``upstream`` until that provider runs and this cell runs again.
    """
    inputs: dict[str, str] = {}
    for name, provider in graph.providers[index].items():
        if provider == index:
            continue
        provider_record = records[provider]
        key = provider_record.provides.get(name) if provider_record is not None else None
        inputs[name] = key if key is not None else UNKNOWN_INPUT
    analysis = graph.analyses[index]
    if analysis is None:
        return inputs, {}
    cell = notebook.cells[index]
    return inputs, name_keys(cell.code, analysis, graph.flows[index], inputs)


def failed_versions(provides: Mapping[str, str], run: int) -> dict[str, str]:
    """The keys a run that raised (or was interrupted) gives the cell's names.

    What the names hold after a failed run is unknown (the error may have come
    before or after their assignment), so the keys are the run's own: the
    cell's consumers are ``upstream`` until it runs without error again —
    which gives the keys of its code back, and them their freshness.
    """
    return {name: f"failed:{run}" for name in provides}


class StatusPass:
    """The statuses of every cell: one pass over the cells in dependency order,
    each cell's keys then its state.

    With ``previous`` (the pass over the notebook's last text): after a
    keystroke (the graph updated in place, the records the same) only the
    edited cells and the cells their new keys or states reach are looked at;
    otherwise a cell whose code, analysis, flow, record and providers are
    what they were, and none of whose providers changed, keeps its keys and
    state after a check. Either way the result is what a pass without
    ``previous`` gives (``tests/analysis/test_incremental_analysis.py``).
    """

    def __init__(
        self,
        notebook: ParsedNotebook,
        graph: NotebookGraph,
        records: Sequence[CellRecord | None],
        previous: StatusPass | None = None,
    ) -> None:
        self.notebook = notebook
        self.graph = graph
        self.records = records
        count = len(notebook.cells)
        self.versions: VersionTable
        self.states: list[CellState]
        self.syntax_errors: list[int]
        self.changed: list[bool]
        """Per cell: its record, keys or state differ from ``previous``'s."""
        if previous is not None and len(previous.states) != count:
            previous = None
        seeds = self._edited_cells(previous) if previous is not None else None
        if previous is not None and seeds is not None:
            self.versions = previous.versions.updated(notebook, graph, records)
            self.states = list(previous.states)
            self.syntax_errors = previous.syntax_errors
            self.changed = [False] * count
            self._update(previous, seeds)
            return
        self.versions = VersionTable(notebook, graph, records)
        self.states = [FRESH] * count
        self.syntax_errors = [
            i for i, a in enumerate(graph.analyses) if a is not None and a.syntax_error is not None
        ]
        self.changed = [True] * count
        if previous is not None and (
            len(previous.states) != count or previous.syntax_errors != self.syntax_errors
        ):
            previous = None
        self._run(previous)

    def _run(self, previous: StatusPass | None) -> None:
        versions = self.versions
        needed = versions.needed
        done = [False] * len(self.states)
        # Components in dependency order; inside one (a cycle), every member's
        # keys before any member's state, which may look at another's keys.
        for members in self.graph.components:
            fresh: list[int] = []
            for index in members:
                if previous is not None and self._unchanged(index, previous, done):
                    versions.keys[index] = previous.versions.keys[index]
                    versions.consistent[index] = previous.versions.consistent[index]
                    versions.computed[index] = previous.versions.computed[index]
                    self.states[index] = previous.states[index]
                    self.changed[index] = False
                else:
                    fresh.append(index)
                    if index in needed:
                        versions.compute(index)
            for index in fresh:
                self.states[index] = self._state(index)
                if previous is not None:
                    self.changed[index] = self._differs(index, previous)
            for index in members:
                done[index] = True

    def _edited_cells(self, previous: StatusPass) -> list[int] | None:
        """The cells a keystroke changed, when only they and what they reach
        can have another status: the graph was updated from ``previous``'s
        (``graph.changed_cells``), every record is the same, and every input
        of an edited cell has its keys already. None: check every cell."""
        graph = self.graph
        changed = graph.changed_cells(previous.graph)
        if changed is None or not graph.upward_only:
            return None
        if len(self.records) != len(previous.records) or any(
            map(operator.is_not, self.records, previous.records)
        ):  # compared in C: a generator over 2,500 cells cost 0.5 ms per keystroke
            return None
        versions = previous.versions
        for index in changed:
            if index in versions.needed and not all(
                versions.computed[p] for p in graph.providers[index].values()
            ):
                return None
        return sorted(changed)

    def _update(self, previous: StatusPass, seeds: list[int]) -> None:
        """Recompute the edited cells, then, in file order (a topological order
        here), every cell whose provider came out with other keys or state."""
        versions = self.versions
        pending = list(seeds)
        queued = set(seeds)
        while pending:
            index = heapq.heappop(pending)
            if index in versions.needed:
                versions.compute(index)
            self.states[index] = self._state(index)
            if self._differs(index, previous):
                self.changed[index] = True
                for user in self.graph.dependents(index):
                    if user not in queued:
                        queued.add(user)
                        heapq.heappush(pending, user)

    def _differs(self, index: int, previous: StatusPass) -> bool:
        """Whether cell ``index`` came out with another record, keys or state."""
        versions, old = self.versions, previous.versions
        return (
            self.records[index] is not previous.records[index]
            or versions.keys[index] != old.keys[index]
            or versions.consistent[index] != old.consistent[index]
            or self.states[index] != previous.states[index]
        )

    def _unchanged(self, index: int, previous: StatusPass, done: list[bool]) -> bool:
        """Whether cell ``index`` is, for its status, what it was in ``previous``."""
        graph, old = self.graph, previous.graph
        if (
            self.records[index] is not previous.records[index]
            or graph.analyses[index] is not old.analyses[index]
            or (graph.flows[index] is not old.flows[index] if graph.flows else True)
            or self.notebook.cells[index].hash != previous.notebook.cells[index].hash
            or (index in self.versions.needed and not previous.versions.computed[index])
        ):
            return False
        providers = graph.providers[index]
        if providers is not old.providers[index] and providers != old.providers[index]:
            return False
        changed = self.changed
        return all(done[p] and not changed[p] for p in providers.values() if p != index)

    def _state(self, index: int) -> CellState:
        if not has_code_to_run(self.notebook, self.graph, index):
            return NOTHING_TO_RUN
        record = self.records[index]
        if record is None:
            return CellState("never-run", "never run", (index,))
        cell = self.notebook.cells[index]
        if is_edited(record, cell.code, cell.hash):
            return CellState("edited", "code changed since this output", (index,))
        upstream = self._upstream(index, record)
        if upstream is not None:
            return upstream
        if record.status == "error":
            return CellState("error", "last run raised an error")
        if record.status == "interrupted":
            return CellState("error", "last run was interrupted")
        return FRESH

    def _upstream(self, index: int, record: CellRecord) -> CellState | None:
        providers = self.graph.providers[index]
        now = self.versions.inputs_now(index)
        reasons: list[str] = []
        causes: list[int] = []
        for name in sorted(set(now) | set(record.inputs)):
            recorded = record.inputs.get(name)
            provider = providers.get(name)
            if provider is None or provider == index:
                if recorded is not None and provider is None:
                    # Recorded as an input when it ran, but nothing provides it
                    # now (its cell was deleted): the root cause is in this cell.
                    reasons.append(f"{describe_name(name)} is no longer defined by any cell")
                    causes.append(index)
                continue
            if recorded == now[name]:
                continue
            reason, roots = self._explain(index, provider, name, record)
            reasons.append(reason)
            causes.extend(roots)
        if not reasons:
            return None
        return CellState(
            "upstream",
            "upstream code changed since this output: " + "; ".join(reasons),
            tuple(sorted(set(causes))),
        )

    def _explain(
        self, index: int, provider: int, name: str, record: CellRecord
    ) -> tuple[str, tuple[int, ...]]:
        """Why ``name`` from ``provider`` is not what cell ``index`` ran with:
        the change that caused it, not merely the last hop."""
        label = f"cell {provider} ({describe_name(name)})"
        provider_record = self.records[provider]
        state = self.states[provider]
        if provider_record is None:
            return f"{label} never ran", (provider,)
        if provider_record.status != "ok" and state.status == "error":
            return f"{label} failed in its last run", (provider,)
        if not self.versions.consistent[provider] and provider_record.provides.get(
            name
        ) != self.versions.keys[provider].get(name):
            if state.status == "edited":
                return f"{label} was edited", (provider,)
            if state.status == "upstream":
                roots = state.causes or (provider,)
                listed = ", ".join(str(c) for c in roots)
                return f"{label} is stale because of cell {listed}", roots
        if is_widget_changed_key(provider_record.provides.get(name)):
            return (
                f"the widget {describe_name(name)} of cell {provider} was changed since this output",
                (provider,),
            )
        broken = self._syntax_error_between(provider, index)
        if broken is not None:
            return f"cell {broken} has a syntax error and may define {describe_name(name)}", (
                broken,
            )
        if record.inputs.get(name) is None or provider_record.run < record.run:
            # The provider did not run after this cell: the name comes from
            # another cell than it did (a cell was moved, inserted or deleted).
            return f"{describe_name(name)} now comes from cell {provider}", (provider,)
        return f"{label} ran again with other code or inputs since this output", (provider,)

    def _syntax_error_between(self, provider: int, index: int) -> int | None:
        """The nearest cell above ``index`` and below ``provider`` that does not
        parse: it may define the name, but the analysis cannot see it."""
        low, high = sorted((provider, index))
        candidates = [i for i in self.syntax_errors if low < i < high]
        return candidates[-1] if candidates else None


def compute_statuses(
    notebook: ParsedNotebook,
    graph: NotebookGraph,
    records: Sequence[CellRecord | None],
) -> list[CellState]:
    """The status of every cell; ``records[i]`` is the record matched to cell ``i``."""
    return StatusPass(notebook, graph, records).states


def stale_cells(states: Sequence[CellState]) -> list[int]:
    """Indexes ``Run stale`` runs, in file order (the runner orders by dependencies)."""
    return [i for i, s in enumerate(states) if s.is_stale]
