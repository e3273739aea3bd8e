"""The notebook's dependency graph: which cell provides each name a cell uses (DESIGN §4).

Resolution follows Jupyter semantics, top to bottom: a use of ``n`` in cell C
comes from the nearest cell *above* C that defines or mutates ``n``; failing
that from the nearest cell below (``used-before-defined``); failing that it is
``undefined-name``. Cells are addressed by their 0-based index over all cells
(preamble and markdown included); markdown and raw cells take part in nothing.

Resolution is near-linear: every name's providers are indexed once, in file
order, and each use is a binary search in that list.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from .analysis import CellAnalysis, NameRef, analyze_code
from .diagnostics import Diagnostic, Severity
from .notebook import Cell, Notebook


def _bits(mask: int) -> Iterator[int]:
    """Indices of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _mask(cells: Iterable[int]) -> int:
    mask = 0
    for cell in cells:
        mask |= 1 << cell
    return mask


@dataclass(frozen=True)
class NotebookGraph:
    analyses: tuple[CellAnalysis | None, ...]
    """Per cell; ``None`` for markdown and raw cells."""
    providers: tuple[Mapping[str, int], ...]
    """Per cell: used name -> index of the cell that provides it."""
    diagnostics: tuple[Diagnostic, ...]
    _dependencies: tuple[frozenset[int], ...] = field(repr=False, compare=False)
    _dependents: tuple[frozenset[int], ...] = field(repr=False, compare=False)
    _component: tuple[int, ...] = field(repr=False, compare=False)
    """Strongly connected component id per cell (cells in one cycle share it)."""
    _component_order: tuple[tuple[int, ...], ...] = field(repr=False, compare=False)
    """Components, each listed after every component it depends on."""

    def dependencies(self, cell: int) -> frozenset[int]:
        """Cells that directly provide a name ``cell`` uses."""
        return self._dependencies[cell]

    def dependents(self, cell: int) -> frozenset[int]:
        """Cells that directly use a name ``cell`` provides."""
        return self._dependents[cell]

    @cached_property
    def _closures(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(ancestors, descendants) of every cell as bit masks, through any path."""
        count = len(self.analyses)
        ancestors = [0] * count
        for members in self._component_order:  # dependencies come first
            reach = 0
            for cell in members:
                for provider in self._dependencies[cell]:
                    reach |= (1 << provider) | ancestors[provider]
            for cell in members:
                ancestors[cell] = reach
        descendants = [0] * count
        for members in reversed(self._component_order):
            reach = 0
            for cell in members:
                for user in self._dependents[cell]:
                    reach |= (1 << user) | descendants[user]
            for cell in members:
                descendants[cell] = reach
        return tuple(ancestors), tuple(descendants)

    def upstream_closure(self, cells: Iterable[int]) -> frozenset[int]:
        """Every cell the given cells depend on, transitively.

        A given cell is included only when another given cell (or itself,
        through a cycle) depends on it.
        """
        ancestors = self._closures[0]
        mask = 0
        for cell in cells:
            mask |= ancestors[cell]
        return frozenset(_bits(mask))

    def downstream_closure(self, cells: Iterable[int]) -> frozenset[int]:
        """Every cell that depends on the given cells, transitively."""
        descendants = self._closures[1]
        mask = 0
        for cell in cells:
            mask |= descendants[cell]
        return frozenset(_bits(mask))

    @cached_property
    def _component_masks(self) -> tuple[int, ...]:
        by_component: dict[int, int] = {}
        for cell, component in enumerate(self._component):
            by_component[component] = by_component.get(component, 0) | (1 << cell)
        return tuple(by_component[component] for component in self._component)

    def execution_order(self, cells: Iterable[int]) -> list[int]:
        """The given cells in an order that runs providers before users.

        Ordering counts paths through cells outside the selection too. Ties go
        to file order; cells in one cycle run in file order.
        """
        chosen = sorted(set(cells))
        selected = _mask(chosen)
        ancestors, descendants = self._closures
        same = self._component_masks
        waiting = {cell: (ancestors[cell] & ~same[cell] & selected).bit_count() for cell in chosen}
        ready = [cell for cell, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            cell = heapq.heappop(ready)
            order.append(cell)
            for user in _bits(descendants[cell] & ~same[cell] & selected):
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, user)
        return order


# --------------------------------------------------------------- positions


class _Positions:
    """Map a place in a cell's code to the file.

    Code line k is file line ``body_line + k``; columns differ only on magic
    lines, which the file keeps commented (``# %time f()``).
    """

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self._shifts: dict[int, tuple[int, int]] | None = None

    def _line_shifts(self) -> dict[int, tuple[int, int]]:
        if self._shifts is None:
            shifts: dict[int, tuple[int, int]] = {}
            code = self.cell.code
            if "%" not in code and "!" not in code:  # no magic lines: nothing moves
                self._shifts = shifts
                return shifts
            body = self.cell.body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for index, code_line in enumerate(self.cell.code.split("\n")):
                if index < len(body) and body[index] != code_line:
                    indent = len(code_line) - len(code_line.lstrip())
                    shifts[index] = (indent, len(body[index]) - len(code_line))
            self._shifts = shifts
        return self._shifts

    def column(self, line: int, col: int) -> int:
        shift = self._line_shifts().get(line)
        if shift is not None and col >= shift[0]:
            return col + shift[1]
        return col

    def diagnostic(
        self,
        index: int,
        code: str,
        severity: Severity,
        message: str,
        line: int,
        col: int,
        end_line: int,
        end_col: int,
    ) -> Diagnostic:
        base = self.cell.body_line
        return Diagnostic(
            code=code,
            severity=severity,
            message=message,
            cell=index,
            line=base + line,
            col=self.column(line, col),
            end_line=base + end_line,
            end_col=self.column(end_line, end_col),
        )

    def at_ref(
        self, index: int, code: str, severity: Severity, message: str, ref: NameRef
    ) -> Diagnostic:
        return self.diagnostic(
            index, code, severity, message, ref.line, ref.col, ref.line, ref.end_col
        )


# --------------------------------------------------------------- building


def _strong_components(dependencies: list[set[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative; each component comes after those it depends on."""
    count = len(dependencies)
    index_of = [-1] * count
    low = [0] * count
    on_stack = [False] * count
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(count):
        if index_of[root] != -1:
            continue
        work: list[tuple[int, Iterator[int]]] = [(root, iter(dependencies[root]))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if index_of[nxt] == -1:
                    index_of[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    work.append((nxt, iter(dependencies[nxt])))
                    advanced = True
                    break
                if on_stack[nxt]:
                    low[node] = min(low[node], index_of[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                members: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    members.append(member)
                    if member == node:
                        break
                components.append(sorted(members))
    return components


def _first_ref(refs: Mapping[str, tuple[NameRef, ...]], name: str) -> NameRef | None:
    found = refs.get(name)
    return found[0] if found else None


def _cell_list(cells: Iterable[int]) -> str:
    ordered = sorted(cells)
    if len(ordered) == 2:
        return f"{ordered[0]} and {ordered[1]}"
    return ", ".join(str(cell) for cell in ordered[:-1]) + f" and {ordered[-1]}"


def build_graph(notebook: Notebook) -> NotebookGraph:
    """Analyse every code cell (cached per cell) and resolve every use."""
    cells = notebook.cells
    count = len(cells)
    # ``Cell.hash`` is ``code_hash(cell.code)`` for code cells, cached on the cell.
    analyses: list[CellAnalysis | None] = [
        analyze_code(cell.code, cell.hash) if cell.kind == "code" else None for cell in cells
    ]
    positions = [_Positions(cell) for cell in cells]
    diagnostics: list[Diagnostic] = []

    # Index, per name, the cells that provide it (define or mutate), and the
    # cells that define it, both in file order.
    providing: dict[str, list[int]] = {}
    defining: dict[str, list[int]] = {}
    unknown_from = count  # first cell after which names may come from nowhere we can see
    for index, analysis in enumerate(analyses):
        if analysis is None:
            continue
        for name in analysis.defines:
            providing.setdefault(name, []).append(index)
            defining.setdefault(name, []).append(index)
        for name in analysis.mutates:
            providing.setdefault(name, []).append(index)
        problem = analysis.syntax_error
        if problem is not None:
            unknown_from = min(unknown_from, index + 1)
            diagnostics.append(
                positions[index].diagnostic(
                    index,
                    "syntax-error",
                    "error",
                    f"Syntax error: {problem.message}. This cell cannot run until it is fixed.",
                    problem.line,
                    problem.col,
                    problem.end_line,
                    problem.end_col,
                )
            )
        for star in analysis.star_imports:
            unknown_from = min(unknown_from, index)
            diagnostics.append(
                positions[index].at_ref(
                    index,
                    "star-import",
                    "warning",
                    f"`from {star.name} import *` brings names that cannot be tracked, so cells "
                    "using them will not be marked stale; import the names you need explicitly.",
                    star,
                )
            )

    providers: list[Mapping[str, int]] = []
    dependencies: list[set[int]] = [set() for _ in range(count)]
    for index, analysis in enumerate(analyses):
        if analysis is None:
            providers.append(MappingProxyType({}))
            continue
        resolved: dict[str, int] = {}
        for name in analysis.uses:
            sources = providing.get(name)
            above = below = None
            if sources is not None:
                at = bisect_left(sources, index)
                if at:
                    above = sources[at - 1]
                after = at + 1 if at < len(sources) and sources[at] == index else at
                if after < len(sources):
                    below = sources[after]
            if above is not None:
                resolved[name] = above
                continue
            ref = _first_ref(analysis.use_refs, name)
            if below is not None:
                resolved[name] = below
                if ref is not None:
                    diagnostics.append(
                        positions[index].at_ref(
                            index,
                            "used-before-defined",
                            "warning",
                            f"`{name}` is used here but first defined in cell {below} below; "
                            "move that cell above this one or run it first.",
                            ref,
                        )
                    )
            elif index < unknown_from and ref is not None:
                diagnostics.append(
                    positions[index].at_ref(
                        index,
                        "undefined-name",
                        "warning",
                        f"`{name}` is not defined in any cell; define or import it in a cell "
                        "above this one.",
                        ref,
                    )
                )
        for name in analysis.builtin_uses:
            # A builtin comes from a cell only when a cell above shadows it.
            sources = providing.get(name)
            if sources is not None:
                at = bisect_left(sources, index)
                if at:
                    resolved[name] = sources[at - 1]
        for name in analysis.defines:
            earlier = defining[name]
            if earlier[0] == index:
                continue
            at = bisect_left(earlier, index)
            ref = _first_ref(analysis.define_refs, name)
            if at and ref is not None:
                diagnostics.append(
                    positions[index].at_ref(
                        index,
                        "redefined",
                        "hint",
                        f"`{name}` was already defined in cell {earlier[at - 1]}; cells below "
                        "this one now use this definition.",
                        ref,
                    )
                )
        providers.append(MappingProxyType(resolved))
        dependencies[index].update(resolved.values())

    dependents: list[set[int]] = [set() for _ in range(count)]
    for index, upstream in enumerate(dependencies):
        for provider in upstream:
            dependents[provider].add(index)

    components = _strong_components(dependencies)
    component_of = [0] * count
    for number, members in enumerate(components):
        for member in members:
            component_of[member] = number
        if len(members) > 1:
            diagnostics.extend(_cycle_diagnostics(members, analyses, providers, positions))

    return NotebookGraph(
        analyses=tuple(analyses),
        providers=tuple(providers),
        diagnostics=tuple(diagnostics),
        _dependencies=tuple(frozenset(d) for d in dependencies),
        _dependents=tuple(frozenset(d) for d in dependents),
        _component=tuple(component_of),
        _component_order=tuple(tuple(members) for members in components),
    )


def _cycle_diagnostics(
    members: list[int],
    analyses: list[CellAnalysis | None],
    providers: list[Mapping[str, int]],
    positions: list[_Positions],
) -> Iterator[Diagnostic]:
    in_cycle = set(members)
    names = _cell_list(members)
    for index in members:
        analysis = analyses[index]
        if analysis is None:
            continue
        for name, provider in sorted(providers[index].items()):
            ref = _first_ref(analysis.use_refs, name)
            if provider in in_cycle and ref is not None:
                yield positions[index].at_ref(
                    index,
                    "cycle",
                    "error",
                    f"Cells {names} depend on each other in a cycle (this cell uses `{name}` "
                    f"from cell {provider}); rename or move definitions so every name is "
                    "defined above the cells that use it.",
                    ref,
                )
                break
