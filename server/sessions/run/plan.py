"""Which cells a run executes, and in what order (DESIGN §6). Pure; no kernel.

Modes: ``cell`` (the given cells, plus their upstream cells that are stale or
not loaded in the current kernel when ``run_upstream``), ``stale`` (every
non-fresh cell, plus upstream cells they need that are not loaded), ``all``,
``above`` (cells before the given one), ``below`` (the given cell and those
after it), ``downstream`` (the given cells and all that depend on them).
Dependency order, ties broken by file order; ``all``, ``above`` and ``below``
keep file order, as running a Jupyter notebook top to bottom would.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal, get_args

from sessions.analysis.graph import NotebookGraph
from sessions.analysis.staleness import CellState, has_code_to_run
from sessions.cache.records import CellRecord
from sessions.format.notebook import ParsedNotebook

RunMode = Literal["cell", "stale", "all", "above", "below", "downstream"]
RUN_MODES: tuple[str, ...] = get_args(RunMode)


class PlanError(ValueError):
    """The request cannot be planned (unknown mode, missing or bad cell index)."""


def _check_cells(notebook: ParsedNotebook, cells: Sequence[int]) -> None:
    for index in cells:
        if not 0 <= index < len(notebook.cells):
            raise PlanError(
                f"no cell {index}: the notebook has {len(notebook.cells)} cells (0-based indexes 0–{len(notebook.cells) - 1})"
            )


def blocked_by_syntax_errors(
    graph: NotebookGraph, plan: Sequence[int], records: Sequence[CellRecord | None]
) -> dict[int, int]:
    """Planned cells that cannot run usefully: those that do not parse (the
    kernel would only report the ``SyntaxError`` the analysis already shows)
    and those that depend on one — through what it defines now, or what its
    last run defined (a half-typed cell no longer shows its names, but the
    cells below still need them). Maps each to the broken cell it waits for."""
    broken = [i for i in plan if (a := graph.analyses[i]) is not None and a.syntax_error]
    if not broken:
        return {}
    planned = set(plan)
    blocked = {cell: cell for cell in broken}
    for cell in broken:
        record = records[cell]
        names = set(record.provides) if record is not None else set()
        waiting = {cell}
        for user in planned:
            analysis = graph.analyses[user]
            if user <= cell or analysis is None:
                continue
            providers = graph.providers[user]
            if any(
                name in names and providers.get(name, -1) < cell
                for name in analysis.uses | set(providers)
            ):
                waiting.add(user)
        for user in waiting | set(graph.downstream_closure(waiting)):
            if user in planned:
                blocked.setdefault(user, cell)
    return blocked


def plan_run(
    notebook: ParsedNotebook,
    graph: NotebookGraph,
    states: Sequence[CellState],
    mode: str,
    cells: Sequence[int] = (),
    *,
    loaded: Collection[int] = (),
    run_upstream: bool = True,
) -> list[int]:
    """The cell indexes to execute, in execution order.

    ``loaded`` holds the indexes of cells whose current record was produced in
    the running kernel process: a fresh upstream cell that is not loaded must
    run again, because its values are not in this kernel's memory.
    """
    if mode not in RUN_MODES:
        raise PlanError(f"unknown run mode {mode!r}; use one of {', '.join(RUN_MODES)}")
    _check_cells(notebook, cells)
    if mode in ("cell", "above", "below", "downstream") and not cells:
        raise PlanError(f"run mode {mode!r} needs at least one cell index")
    count = len(notebook.cells)
    selected: set[int]
    if mode == "stale":
        selected = {i for i in range(count) if states[i].is_stale}
        if run_upstream and selected:
            # A fresh upstream cell whose values are not in this kernel must run too.
            selected |= {i for i in graph.upstream_closure(selected) if i not in loaded}
    elif mode == "all":
        selected = set(range(count))
        return [i for i in sorted(selected) if has_code_to_run(notebook, graph, i)]
    elif mode == "above":
        selected = set(range(min(cells)))
        return [i for i in sorted(selected) if has_code_to_run(notebook, graph, i)]
    elif mode == "below":
        selected = set(range(min(cells), count))
        return [i for i in sorted(selected) if has_code_to_run(notebook, graph, i)]
    elif mode == "downstream":
        selected = set(cells) | set(graph.downstream_closure(cells))
    else:
        selected = set(cells)
        if run_upstream:
            selected |= {
                i for i in graph.upstream_closure(cells) if states[i].is_stale or i not in loaded
            }
    return graph.execution_order(i for i in selected if has_code_to_run(notebook, graph, i))
