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

import dataclasses
import heapq
import operator
import sys
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, compress, count, islice
from types import MappingProxyType

from sessions.analysis.cell import CellAnalysis, NameRef, analyse_code
from sessions.analysis.content_cache import ContentCache
from sessions.analysis.diagnostics import Diagnostic, Severity
from sessions.analysis.hidden_state import (
    assignment_state,
    call_effects,
    file_state,
    is_display_state,
    is_state_name,
    package_config,
)
from sessions.analysis.scopes import CallFact
from sessions.format.notebook import Cell, ParsedNotebook


@dataclass(frozen=True, slots=True)
class StatementFlow:
    """One top-level statement after notebook-level resolution (hidden state included)."""

    provides: frozenset[str]
    """Names it binds or mutates and state names it changes."""
    reads: frozenset[str]
    """Names and state names it reads, from this cell or from outside."""
    external: frozenset[str]
    """The reads that come from outside the cell (the cell's inputs)."""
    effect_reads: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """State name -> what its change depends on, when that is less than all
    ``reads`` (the call ``np.random.normal(size=n)``, not the whole statement)."""
    displays: bool = False
    """It shows a value (see ``scopes.StatementFacts.displays``)."""


@dataclass(frozen=True, slots=True)
class CellFlow:
    statements: tuple[StatementFlow, ...]
    provides: frozenset[str]
    inputs: frozenset[str]
    consulted: frozenset[str] = frozenset()
    """Names not among the inputs whose binding elsewhere shaped the flow (what
    an object a method is called on was built with): an incremental update
    resolves the cell again when one of them is bound anew."""


_NO_FLOW = CellFlow((), frozenset(), frozenset())


@dataclass(frozen=True)
class NotebookGraph:
    analyses: tuple[CellAnalysis | None, ...]
    """Per cell; ``None`` for markdown and raw cells."""
    providers: tuple[Mapping[str, int], ...]
    """Per cell: input name (a Python name or a state name) -> the cell providing it."""
    diagnostics: tuple[Diagnostic, ...]
    flows: tuple[CellFlow, ...] = field(repr=False, compare=False, default=())
    """Per cell: what each statement provides and reads (for per-name versions)."""
    _dependencies: tuple[frozenset[int], ...] = field(repr=False, compare=False, default=())
    _dependents: tuple[frozenset[int], ...] = field(repr=False, compare=False, default=())
    _component: tuple[int, ...] = field(repr=False, compare=False, default=())
    """Strongly connected component id per cell (cells in one cycle share it)."""
    _component_order: tuple[tuple[int, ...], ...] = field(repr=False, compare=False, default=())
    """Components, each listed after every component it depends on."""
    _upward_only: bool = field(repr=False, compare=False, default=False)
    """No cell depends on a cell below it (no ``used-before-defined``, no cycle)."""
    _incremental: _IncrementalState | None = field(repr=False, compare=False, default=None)
    """What lets the graph of the next text be updated (``build_graph(previous=)``)."""
    _update: tuple[int, frozenset[int]] | None = field(repr=False, compare=False, default=None)
    """``(id of the graph it was updated from, the cells re-resolved)``; None
    for a full build."""

    @property
    def upward_only(self) -> bool:
        """No cell depends on a cell below it (no ``used-before-defined``, no cycle)."""
        return self._upward_only

    def changed_cells(self, previous: NotebookGraph) -> frozenset[int] | None:
        """The cells re-resolved when this graph was updated from ``previous``
        (every other cell's analysis, flow and providers are ``previous``'s
        own); None when it was not updated from it."""
        if self._update is None or self._update[0] != id(previous):
            return None
        return self._update[1]

    def dependencies(self, cell: int) -> frozenset[int]:
        """Cells that directly provide a name ``cell`` uses."""
        return self._dependencies[cell]

    def dependents(self, cell: int) -> frozenset[int]:
        """Cells that directly use a name ``cell`` provides."""
        return self._dependents[cell]

    def mutates(self, cell: int) -> frozenset[str]:
        """Python names ``cell`` changes in place (calls on modules and classes excluded)."""
        analysis = self.analyses[cell]
        if analysis is None:
            return frozenset()
        provided = self.flows[cell].provides if self.flows else frozenset()
        return frozenset(name for name in analysis.mutates if name in provided)

    @property
    def components(self) -> tuple[tuple[int, ...], ...]:
        """Cells grouped by cycle (most groups are one cell), each group after
        every group it depends on; members in file order."""
        return self._component_order

    @cached_property
    def topological_order(self) -> tuple[int, ...]:
        """Every cell, providers before users (cells of one cycle in file order)."""
        return tuple(cell for members in self._component_order for cell in members)

    def _reach(self, cells: Iterable[int], edges: tuple[frozenset[int], ...]) -> frozenset[int]:
        """Cells reachable from ``cells`` through ``edges`` (not ``cells`` themselves
        unless reached again). Iterative: chains of any length."""
        seen: set[int] = set()
        todo = [nxt for cell in cells for nxt in edges[cell]]
        while todo:
            cell = todo.pop()
            if cell not in seen:
                seen.add(cell)
                todo.extend(nxt for nxt in edges[cell] if nxt not in seen)
        return frozenset(seen)

    def upstream_closure(self, cells: Iterable[int]) -> frozenset[int]:
        """Every cell the given cells depend on, transitively.

        A given cell is included only when another given cell (or itself,
        through a cycle) depends on it. Linear in cells + edges.
        """
        return self._reach(cells, self._dependencies)

    def downstream_closure(self, cells: Iterable[int]) -> frozenset[int]:
        """Every cell that depends on the given cells, transitively."""
        return self._reach(cells, self._dependents)

    def execution_order(self, cells: Iterable[int]) -> list[int]:
        """The given cells in an order that runs providers before users.

        Ordering counts paths through cells outside the selection too. Ties go
        to file order; cells in one cycle run in file order. Near-linear: each
        cell learns its nearest selected ancestors from its providers, in
        topological order, and a heap keyed by file position does the rest.
        """
        chosen = set(cells)
        if not chosen:
            return []
        if self._upward_only:
            # Every provider is above its users: file order is the order (and
            # the one the heap below would give), at the cost of a sort.
            return sorted(chosen)
        component = self._component
        # Nearest selected ancestors of each component, through unselected ones.
        nearest: dict[int, frozenset[int]] = {}
        members_of: dict[int, list[int]] = {}
        for members in self._component_order:
            number = component[members[0]]
            found: set[int] = set()
            for cell in members:
                for provider in self._dependencies[cell]:
                    other = component[provider]
                    if other == number:
                        continue
                    if other in members_of:
                        found.add(other)
                    else:
                        found |= nearest.get(other, frozenset())
            picked = [cell for cell in members if cell in chosen]
            if picked:
                members_of[number] = picked
            nearest[number] = frozenset(found)
        waiting = {number: len(nearest[number]) for number in members_of}
        users: dict[int, list[int]] = {}
        for number in members_of:
            for ancestor in nearest[number]:
                users.setdefault(ancestor, []).append(number)
        ready = [(members_of[n][0], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            _, number = heapq.heappop(ready)
            order.extend(members_of[number])
            for user in users.get(number, ()):
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, (members_of[user][0], user))
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


_CALLABLE_KINDS = frozenset({"import", "def", "class"})
_STDLIB = frozenset(sys.stdlib_module_names)


class _Binders:
    """Which cell binds (defines) a name last before a given cell: the binding a
    cell sees, used to tell modules and classes from values and to qualify calls."""

    def __init__(self, analyses: list[CellAnalysis | None]) -> None:
        self.analyses = analyses
        self.defining: dict[str, list[int]] = {}
        for index, analysis in enumerate(analyses):
            if analysis is not None:
                for name in analysis.defines:
                    self.defining.setdefault(name, []).append(index)

    @classmethod
    def sharing(
        cls, analyses: list[CellAnalysis | None], defining: Mapping[str, list[int]]
    ) -> _Binders:
        """Binders over ``analyses`` whose cells define what an earlier build's did."""
        binders = cls.__new__(cls)
        binders.analyses = analyses
        binders.defining = defining  # type: ignore[assignment]
        return binders

    def before(self, name: str, index: int) -> CellAnalysis | None:
        cells = self.defining.get(name)
        if not cells:
            return None
        at = bisect_left(cells, index)
        return self.analyses[cells[at - 1]] if at else None


class _CellFlowBuilder:
    """Turns one cell's per-statement facts into flows, resolving what depends
    on other cells: whether a ``name.method()`` receiver is a module, what a
    call is once its module is known (hidden state), what a called function
    of another cell reads."""

    def __init__(self, index: int, analysis: CellAnalysis, binders: _Binders) -> None:
        self.index = index
        self.analysis = analysis
        self.binders = binders
        self.local_kinds: dict[str, str] = {}
        self.local_imports: dict[str, str] = {}
        self.local_holds: dict[str, frozenset[str]] = {}
        self.consulted: set[str] = set()
        self.looked_up: dict[str, CellAnalysis | None] = {}
        """Every binding of another cell the flow depends on: it stays valid while
        each of these names is bound by the same analysis (see ``cell_flow``)."""
        self.cacheable = True

    def _binder(self, name: str) -> CellAnalysis | None:
        found = self.looked_up.get(name, _MISSING)
        if found is _MISSING:
            found = self.looked_up[name] = self.binders.before(name, self.index)
        return found  # type: ignore[return-value]

    def _qualify(self, root: str) -> str | None:
        """What ``root`` is when it names a module or an imported object, else None."""
        if root in self.local_kinds:
            return self.local_imports.get(root)
        binder = self._binder(root)
        if binder is None or binder.kinds.get(root) != "import":
            return None
        return binder.imports.get(root)

    def _kind(self, root: str) -> str:
        if root in self.local_kinds:
            return self.local_kinds[root]
        binder = self._binder(root)
        return binder.kinds.get(root, "value") if binder is not None else "value"

    def _call(
        self,
        path: str,
        reads: set[str],
        provides: set[str],
        fact: CallFact | None = None,
        effect_reads: dict[str, frozenset[str]] | None = None,
    ) -> None:
        root, dot, rest = path.partition(".")
        qualified = self._qualify(root)
        if qualified is None:
            return
        for effect in call_effects(qualified + dot + rest, fact.hint if fact else ""):
            if effect.reads:
                reads.add(effect.state)
            if effect.changes:
                provides.add(effect.state)
                if fact is not None and effect_reads is not None:
                    own = fact.reads | {effect.state} if effect.reads else fact.reads
                    effect_reads[effect.state] = effect_reads.get(effect.state, frozenset()) | own

    def _built_with(self, name: str) -> frozenset[str] | None:
        """The names ``name``'s object was built with, from this cell's binding
        or the one the cells above make; None when no constructor built it."""
        self.consulted.add(name)
        if name in self.local_kinds:
            return self.local_holds.get(name)
        binder = self._binder(name)
        return binder.holds.get(name) if binder is not None else None

    def _held(self, root: str) -> set[str]:
        """What a method called on ``root`` may change besides ``root``: the
        objects it was built with (``pipe.fit(X)`` fits the ``model`` of
        ``pipe = Pipeline([("m", model)])``), and theirs. Only objects a
        constructor built count: a number or a list of settings passed along
        is no part a method changes."""
        held: set[str] = set()
        pending = [root]
        while pending:
            for name in self._built_with(pending.pop()) or ():
                if name != root and name not in held and self._built_with(name) is not None:
                    held.add(name)
                    pending.append(name)
        return held

    def _expand(self, name: str, reads: set[str], provides: set[str], seen: set[str]) -> None:
        """A function of another cell, read here, may be called: what it reads
        and calls when called counts here (resolved from this cell)."""
        pending = [name]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in self.local_kinds:
                source: CellAnalysis | None = self.analysis
            else:
                source = self._binder(current)
            if source is None:
                continue
            for path in source.deferred_calls.get(current, ()):
                self._call(path, reads, provides)
            for read in source.deferred.get(current, ()):
                if read not in seen:
                    reads.add(read)
                    pending.append(read)

    def build(self) -> CellFlow:
        analysis = self.analysis
        direct_inputs = analysis.uses | analysis.builtin_uses
        flows: list[StatementFlow] = []
        produced: set[str] = set()  # provided by earlier statements of this cell
        inputs: set[str] = set()
        for statement in analysis.statements:
            provides = set(statement.binds)
            reads = set(statement.reads)
            external = {name for name in reads if name in direct_inputs and name not in produced}
            effect_reads: dict[str, frozenset[str]] = {}
            for path in statement.assigned:
                root, dot, rest = path.partition(".")
                qualified = self._qualify(root)
                if qualified is None:
                    provides.add(root)
                else:  # ``plt.rcParams[k] = v``: configuration, not a new ``plt``
                    state = assignment_state(qualified + dot + rest)
                    if not is_display_state(state):
                        reads.add(state)  # one setting among others already made
                    provides.add(state)
            for name in statement.method_calls:
                if self._kind(name) not in _CALLABLE_KINDS:
                    provides.add(name)
                    provides |= self._held(name)
            for call in statement.calls:
                self._call(call.path, reads, provides, call, effect_reads)
            seen: set[str] = set()
            for name in statement.reads:
                if name in self.local_kinds or (name in direct_inputs and name not in produced):
                    self._expand(name, reads, provides, seen)
                qualified = self._qualify(name)
                if qualified is not None:
                    reads.add(package_config(qualified.split(".", 1)[0]))
            for module in statement.imports.values():
                if module.split(".", 1)[0] not in _STDLIB:
                    reads.add("env:sys.path")
            if statement.file_reads or statement.file_writes:
                reads.add("env:cwd")
                reads.update(file_state(path) for path in statement.file_reads)
                provides.update(file_state(path) for path in statement.file_writes)
            if statement.reads_namespace:
                self.cacheable = False  # depends on every cell above
                # ``%whos`` shows every name the cells above defined.
                shown = {n for n, at in self.binders.defining.items() if at[0] < self.index}
                reads |= shown
                seen |= shown
            for name in reads:
                if (
                    name not in produced
                    and name not in external
                    and (is_state_name(name) or name in seen)
                ):
                    external.add(name)
            for name, kind in statement.binds.items():
                self.local_kinds[name] = kind
                held = statement.holds.get(name)
                if held is not None:
                    self.local_holds[name] = held
                else:
                    self.local_holds.pop(name, None)
                target = statement.imports.get(name)
                if target is not None:
                    self.local_imports[name] = target
                else:
                    self.local_imports.pop(name, None)
            produced |= provides
            inputs |= external
            flows.append(
                StatementFlow(
                    frozenset(provides),
                    frozenset(reads),
                    frozenset(external),
                    effect_reads,
                    statement.displays,
                )
            )
        return CellFlow(
            tuple(flows), frozenset(produced), frozenset(inputs), frozenset(self.consulted - inputs)
        )


_MISSING: object = object()
_FLOW_CACHE_SIZE = 8192
_FLOW_CACHE_STATEMENTS = 100_000
"""Statements whose flows the cache keeps at most (``content_cache``): an entry
also keeps its cell's analysis alive, 1-3 KB per statement."""
_flow_cache: ContentCache[tuple[CellAnalysis, dict[str, CellAnalysis | None], CellFlow]] = (
    ContentCache(max_entries=_FLOW_CACHE_SIZE, max_cost=_FLOW_CACHE_STATEMENTS)
)


def cell_flow(index: int, cell_hash: str, analysis: CellAnalysis, binders: _Binders) -> CellFlow:
    """The flow of one cell, reused from the last build while the cell's code
    and every binding of another cell it looked up are unchanged (an edit then
    rebuilds only the flows it can affect, not all 250 of them). Keyed by code
    alone: after a cell is inserted above, the cells below still reuse theirs."""
    key = cell_hash
    cached = _flow_cache.get(key)
    if cached is not None:
        cached_analysis, looked_up, flow = cached
        if cached_analysis is analysis and all(
            binders.before(name, index) is binder for name, binder in looked_up.items()
        ):
            return flow
    builder = _CellFlowBuilder(index, analysis, binders)
    flow = builder.build()
    if builder.cacheable:
        _flow_cache.put(key, (analysis, builder.looked_up, flow), len(analysis.statements))
    return flow


def _add_display_reads(flows: list[CellFlow]) -> None:
    """Every statement that shows a value reads every display option some cell
    sets (ordered resolution then keeps those above it)."""
    options = frozenset(name for flow in flows for name in flow.provides if is_display_state(name))
    if not options:
        return
    for index, flow in enumerate(flows):
        flows[index] = _with_display_reads(flow, options)


def _with_display_reads(flow: CellFlow, options: frozenset[str]) -> CellFlow:
    """``flow`` with the display options ``options`` read by each statement
    that shows a value (and not set before it in the cell)."""
    if not options or not any(statement.displays for statement in flow.statements):
        return flow
    produced: set[str] = set()
    statements = []
    added: set[str] = set()
    for statement in flow.statements:
        if statement.displays:
            extra = options - produced - statement.reads
            if extra:
                statement = dataclasses.replace(
                    statement,
                    reads=statement.reads | extra,
                    external=statement.external | extra,
                )
                added |= extra
        produced |= statement.provides
        statements.append(statement)
    if not added:
        return flow
    return CellFlow(tuple(statements), flow.provides, flow.inputs | added, flow.consulted)


def _cell_problems(index: int, analysis: CellAnalysis, positions: _Positions) -> list[Diagnostic]:
    """A cell's own problems: it does not parse, or it imports ``*``."""
    found: list[Diagnostic] = []
    problem = analysis.syntax_error
    if problem is not None:
        found.append(
            positions.diagnostic(
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
        found.append(
            positions.at_ref(
                index,
                "star-import",
                "warning",
                f"`from {star.name} import *` brings names that cannot be tracked, so cells "
                "using them will not be marked stale; import the names you need explicitly.",
                star,
            )
        )
    return found


def _unknown_from(analyses: Sequence[CellAnalysis | None]) -> int:
    """The first cell after which names may come from nowhere we can see: the
    cell after a syntax error, or a cell with ``import *`` (len: none)."""
    first = len(analyses)
    for index, analysis in enumerate(analyses):
        if analysis is None:
            continue
        if analysis.syntax_error is not None:
            first = min(first, index + 1)
        if analysis.star_imports:
            first = min(first, index)
    return first


def _resolve_cell(
    index: int,
    analysis: CellAnalysis,
    flow: CellFlow,
    providing: Mapping[str, list[int]],
    unknown_from: int,
    defining: Mapping[str, list[int]],
    positions: _Positions,
    found: list[Diagnostic],
) -> dict[str, int]:
    """Which cell provides each input of cell ``index``; its resolution
    diagnostics (used before defined, undefined, redefined) go to ``found``."""
    resolved: dict[str, int] = {}
    direct = analysis.uses - analysis.deferred_only
    for name in flow.inputs:
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
        elif below is not None and name in direct:
            # Only a name the cell reads itself looks below (Jupyter would
            # need that cell to have run); state and called functions' reads do not.
            resolved[name] = below
            ref = _first_ref(analysis.use_refs, name)
            if ref is not None:
                found.append(
                    positions.at_ref(
                        index,
                        "used-before-defined",
                        "warning",
                        f"`{name}` is used here but first defined in cell {below} below; "
                        "move that cell above this one or run it first.",
                        ref,
                    )
                )
    for name in analysis.uses:
        if name in resolved or index >= unknown_from:
            continue
        if any(cell != index for cell in providing.get(name, ())):
            continue  # used only in a function body, and some cell provides it
        ref = _first_ref(analysis.use_refs, name)
        if ref is not None:
            found.append(
                positions.at_ref(
                    index,
                    "undefined-name",
                    "warning",
                    f"`{name}` is not defined in any cell; define or import it in a cell "
                    "above this one.",
                    ref,
                )
            )
    for name in analysis.defines:
        earlier = defining[name]
        if earlier[0] == index:
            continue
        at = bisect_left(earlier, index)
        ref = _first_ref(analysis.define_refs, name)
        if at and ref is not None:
            found.append(
                positions.at_ref(
                    index,
                    "redefined",
                    "hint",
                    f"`{name}` was already defined in cell {earlier[at - 1]}; cells below "
                    "this one now use this definition.",
                    ref,
                )
            )
    return resolved


def build_graph(notebook: ParsedNotebook, previous: PreviousGraph | None = None) -> NotebookGraph:
    """Analyse every code cell (cached per cell) and resolve every use.

    With ``previous`` (the graph of the notebook's last text), an edit of a
    few cells re-analyses those and resolves again only the cells it can
    reach: the readers and definers of each name whose binding or provider
    moved (``_update_graph``). The result is the graph a full build gives
    (``tests/analysis/test_incremental_analysis.py``).
    """
    if previous is not None:
        updated = _update_graph(notebook, previous)
        if updated is not None:
            return updated
    cells = notebook.cells
    count = len(cells)
    # ``Cell.hash`` is ``code_hash(cell.code)`` for code cells, cached on the cell.
    analyses: list[CellAnalysis | None] = [
        analyse_code(cell.code, cell.hash) if cell.kind == "code" else None for cell in cells
    ]
    positions = [_Positions(cell) for cell in cells]
    binders = _Binders(analyses)
    flows = [
        _NO_FLOW if analysis is None else cell_flow(index, cells[index].hash, analysis, binders)
        for index, analysis in enumerate(analyses)
    ]
    _add_display_reads(flows)

    # Index, per name, the cells that provide it (define, mutate or change a
    # state), in file order.
    providing: dict[str, list[int]] = {}
    for index, analysis in enumerate(analyses):
        if analysis is not None:
            for name in flows[index].provides:
                providing.setdefault(name, []).append(index)
    unknown_from = _unknown_from(analyses)

    providers: list[Mapping[str, int]] = []
    per_cell: list[tuple[Diagnostic, ...]] = []
    dependencies: list[set[int]] = [set() for _ in range(count)]
    for index, analysis in enumerate(analyses):
        if analysis is None:
            providers.append(_NO_PROVIDERS)
            per_cell.append(())
            continue
        found = _cell_problems(index, analysis, positions[index])
        resolved = _resolve_cell(
            index,
            analysis,
            flows[index],
            providing,
            unknown_from,
            binders.defining,
            positions[index],
            found,
        )
        providers.append(MappingProxyType(resolved))
        per_cell.append(tuple(found))
        dependencies[index].update(resolved.values())
        dependencies[index].discard(index)

    dependents: list[set[int]] = [set() for _ in range(count)]
    for index, upstream in enumerate(dependencies):
        for provider in upstream:
            dependents[provider].add(index)

    diagnostics = [diagnostic for found in per_cell for diagnostic in found]
    upward_only = all(
        provider < index for index, upstream in enumerate(dependencies) for provider in upstream
    )
    if upward_only:
        # No cell depends on one below it: no cycle, and file order is a
        # topological order (the common case, without Tarjan's walk).
        components: list[list[int]] = [[index] for index in range(count)]
        component_of = list(range(count))
    else:
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
        flows=tuple(flows),
        _dependencies=tuple(frozenset(d) for d in dependencies),
        _dependents=tuple(frozenset(d) for d in dependents),
        _component=tuple(component_of),
        _component_order=tuple(tuple(members) for members in components),
        _upward_only=upward_only,
        _incremental=_IncrementalState(
            indexes=None,
            readers=None,
            body_lines=tuple(cell.body_line for cell in cells),
            hashes=tuple(cell.hash for cell in cells),
            kinds=tuple(cell.kind for cell in cells),
            cells=tuple(cells),
        ),
    )


_NO_PROVIDERS: Mapping[str, int] = MappingProxyType({})
_MAX_RESOLVED_CELLS = 64
"""Cells an update resolves again at most; a rename of a name read all over
the notebook is a full build."""


def _readers(
    analyses: Sequence[CellAnalysis | None], flows: Sequence[CellFlow]
) -> dict[str, list[int]]:
    """Name -> the cells whose flow inputs, consulted names or uses hold it, in file order."""
    readers: dict[str, list[int]] = {}
    for index, analysis in enumerate(analyses):
        if analysis is not None:
            flow = flows[index]
            for name in flow.inputs | flow.consulted | analysis.uses:
                readers.setdefault(name, []).append(index)
    return readers


_MAX_UPDATED_CELLS = 8
"""Above this many changed cells an update is a full build (a paste, a
reformat of the file): the per-cell checks would cost more than they save."""


class _Indexes:
    """The name indexes and per-cell diagnostics of a graph, as an update needs
    them. A full build does not keep them (an open notebook nobody edits would
    hold them for nothing: about 6 MB for 20 notebooks); the first update
    derives them from the graph (``_indexes_of``) and later ones carry them."""

    __slots__ = ("cell_diagnostics", "defining", "display_options", "providing", "unknown_from")

    def __init__(
        self,
        providing: Mapping[str, list[int]],
        defining: Mapping[str, list[int]],
        display_options: frozenset[str],
        unknown_from: int,
        cell_diagnostics: tuple[tuple[Diagnostic, ...], ...],
    ) -> None:
        self.providing = providing
        self.defining = defining
        self.display_options = display_options
        """The display options some cell sets (every displaying statement reads them)."""
        self.unknown_from = unknown_from
        self.cell_diagnostics = cell_diagnostics


def _indexes_of(graph: NotebookGraph) -> _Indexes:
    """What a full build knew, from the graph it built (upward-only: no cycle
    diagnostics, and the diagnostics are grouped by cell in file order)."""
    providing: dict[str, list[int]] = {}
    defining: dict[str, list[int]] = {}
    per_cell: list[list[Diagnostic]] = [[] for _ in graph.analyses]
    for index, analysis in enumerate(graph.analyses):
        if analysis is None:
            continue
        for name in graph.flows[index].provides:
            providing.setdefault(name, []).append(index)
        for name in analysis.defines:
            defining.setdefault(name, []).append(index)
    for diagnostic in graph.diagnostics:
        per_cell[diagnostic.cell].append(diagnostic)
    return _Indexes(
        providing,
        defining,
        frozenset(name for name in providing if is_display_state(name)),
        _unknown_from(graph.analyses),
        tuple(tuple(found) for found in per_cell),
    )


@dataclass(frozen=True, slots=True)
class _IncrementalState:
    """What lets the next text's graph be updated rather than rebuilt. Kept
    on the graph; never read outside this module."""

    indexes: _Indexes | None
    """None after a full build: derived on the first update."""
    readers: Mapping[str, list[int]] | None
    """Name -> the cells whose flow inputs or uses hold it, in file order;
    built by the first update that needs it."""
    body_lines: tuple[int, ...]
    hashes: tuple[str, ...]
    kinds: tuple[str, ...]
    cells: tuple[Cell, ...]
    """The cells the columns above were read from: a cell that is the same
    object now has the same kind, hash and body line (a ``Cell`` is made anew
    when its text or its place changes), so only the others are read again."""


PreviousGraph = NotebookGraph
"""The graph of the notebook's previous text, given to :func:`build_graph`."""


_KIND = operator.attrgetter("kind")
_HASH = operator.attrgetter("hash")
_BODY_LINE = operator.attrgetter("body_line")

_FEW_REPLACED_CELLS = 64
"""Up to this many cells that are not the previous text's own objects, the
previous columns are patched where they differ; more (an edit that moved
every cell below it), and the columns are read again whole."""


def _columns(
    cells: Sequence[Cell], state: _IncrementalState
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...], list[int] | None]:
    """Each cell's kind, hash and body line, and the positions of the cells
    that are not ``state``'s objects (None: too many to list). Found a whole
    column at a time (``map`` in C): a Python loop over every cell cost about
    1 ms per keystroke at 50,000 lines, and reading even one attribute of
    every cell, in C, about 0.7 ms."""
    replaced = list(
        islice(compress(count(), map(operator.is_not, cells, state.cells)), _FEW_REPLACED_CELLS + 1)
    )
    if len(replaced) > _FEW_REPLACED_CELLS:
        whole = tuple(map(_KIND, cells)), tuple(map(_HASH, cells)), tuple(map(_BODY_LINE, cells))
        return *whole, None
    kinds = list(state.kinds)
    hashes = list(state.hashes)
    body_lines = list(state.body_lines)
    for index in replaced:
        cell = cells[index]
        kinds[index], hashes[index], body_lines[index] = cell.kind, cell.hash, cell.body_line
    return tuple(kinds), tuple(hashes), tuple(body_lines), replaced


def _shifted(diagnostics: tuple[Diagnostic, ...], delta: int) -> tuple[Diagnostic, ...]:
    if not delta:
        return diagnostics
    # The constructor, not dataclasses.replace: 1.1 against 2.3 µs, for each
    # diagnostic below an Enter (1,000 in a 50,000-line notebook).
    return tuple(
        Diagnostic(
            d.code,
            d.severity,
            d.message,
            d.cell,
            d.line + delta,
            d.col,
            d.end_line + delta,
            d.end_col,
        )
        for d in diagnostics
    )


def _binding_changes(old: CellAnalysis, new: CellAnalysis) -> set[str]:
    """Names whose binding by this cell changed: bound or no longer bound, or
    bound as another kind, import, or function (what other cells look up)."""
    names = set(old.defines ^ new.defines)
    for name in old.defines & new.defines:
        if (
            old.kinds.get(name) != new.kinds.get(name)
            or old.imports.get(name) != new.imports.get(name)
            or old.deferred.get(name) != new.deferred.get(name)
            or old.deferred_calls.get(name) != new.deferred_calls.get(name)
            or old.holds.get(name) != new.holds.get(name)
        ):
            names.add(name)
    return names


def _moved(
    index_of: Mapping[str, list[int]], cell: int, before: frozenset[str], after: frozenset[str]
) -> Mapping[str, list[int]]:
    """``index_of`` (name -> cells, in file order) with ``cell`` listed under
    the names of ``after`` instead of those of ``before``; a new mapping when
    anything moved (lists are shared, never changed in place)."""
    if before == after:
        return index_of
    updated = dict(index_of)
    for name in before - after:
        remaining = [c for c in updated.get(name, ()) if c != cell]
        if remaining:
            updated[name] = remaining
        else:
            updated.pop(name, None)
    for name in after - before:
        listed = updated.get(name, [])
        at = bisect_left(listed, cell)
        updated[name] = [*listed[:at], cell, *listed[at:]]
    return updated


def _update_graph(notebook: ParsedNotebook, previous: NotebookGraph) -> NotebookGraph | None:
    """The graph of ``notebook`` from ``previous`` when at most a few cells
    changed: the edited cells are re-analysed, and the cells whose resolution
    or diagnostics can change with them — the readers of every name whose
    binding or provider moved, and the cells that define it — are resolved
    again; ``None`` when a full build is needed (a syntax error or ``import *``
    appears or goes, a display option changes, a dependency points down,
    or an edit reaches too many cells)."""
    state = previous._incremental
    cells = notebook.cells
    if state is None or not previous._upward_only or len(cells) != len(state.hashes):
        return None
    kinds, hashes, body_lines, replaced = _columns(cells, state)
    if kinds != state.kinds:
        return None
    edited: Iterable[int] = (
        compress(count(), map(operator.ne, hashes, state.hashes))
        if replaced is None
        else [index for index in replaced if hashes[index] != state.hashes[index]]
    )
    changed = [index for index in edited if kinds[index] == "code"]
    if len(changed) > _MAX_UPDATED_CELLS:
        return None
    analyses = list(previous.analyses)
    indexes = state.indexes if state.indexes is not None else _indexes_of(previous)
    defining, providing, readers = indexes.defining, indexes.providing, state.readers
    touched: set[str] = set()
    for index in changed:
        old = previous.analyses[index]
        new = analyse_code(cells[index].code, cells[index].hash)
        if old is None or (old.syntax_error is None) != (new.syntax_error is None):
            return None  # where names may come from nowhere moves (``unknown_from``)
        if [s.name for s in old.star_imports] != [s.name for s in new.star_imports]:
            return None
        analyses[index] = new
        touched |= _binding_changes(old, new)
        defining = _moved(defining, index, old.defines, new.defines)
    binders = _Binders.sharing(analyses, dict(defining))
    flows = list(previous.flows)
    options = indexes.display_options
    for index in changed:
        analysis = analyses[index]
        assert analysis is not None
        flow = cell_flow(index, cells[index].hash, analysis, binders)
        before = previous.flows[index].provides
        if any(is_display_state(name) for name in before ^ flow.provides):
            return None  # every displaying statement reads the display options
        touched |= before ^ flow.provides
        providing = _moved(providing, index, before, flow.provides)
        flows[index] = flow
    # The cells to resolve again: the edited ones, the readers of a touched
    # name, and its definers (their ``redefined`` hints count the others).
    affected = set(changed)
    if touched and readers is None:
        readers = _readers(previous.analyses, previous.flows)
    for name in touched:
        affected.update(readers.get(name, ()) if readers is not None else ())
        affected.update(indexes.defining.get(name, ()))
        affected.update(defining.get(name, ()))
    if len(affected) > _MAX_RESOLVED_CELLS:
        return None
    providers = list(previous.providers)
    dependencies = list(previous._dependencies)
    dependents = list(previous._dependents)
    per_cell = list(indexes.cell_diagnostics)
    changed_set = set(changed)
    for index in sorted(affected):
        analysis = analyses[index]
        if analysis is None:
            continue
        flow = flows[index]
        if index not in changed_set:
            # Its flow looked names up in the edited cells: rebuilt if any changed.
            flow = cell_flow(index, cells[index].hash, analysis, binders)
            flow = _with_display_reads(flow, options)
            if flow.provides != previous.flows[index].provides:
                return None  # the change reaches further: the full build follows it
        else:
            flow = _with_display_reads(flow, options)
        flows[index] = flow
        positions = _Positions(cells[index])
        found = _cell_problems(index, analysis, positions)
        resolved = _resolve_cell(
            index,
            analysis,
            flow,
            providing,
            indexes.unknown_from,
            defining,
            positions,
            found,
        )
        upstream = frozenset(resolved.values()) - {index}
        if any(provider > index for provider in upstream):
            return None  # a cycle may form: the full build orders it
        providers[index] = MappingProxyType(resolved)
        per_cell[index] = tuple(found)
        # Only the providers that gained or lost this user get a new set.
        for provider in dependencies[index] - upstream:
            dependents[provider] = dependents[provider] - {index}
        for provider in upstream - dependencies[index]:
            dependents[provider] = dependents[provider] | {index}
        dependencies[index] = upstream
    if readers is not None:  # kept up to date once built
        for index in affected:
            analysis = analyses[index]
            old_analysis = previous.analyses[index]
            if analysis is not None and old_analysis is not None:
                old_flow, new_flow = previous.flows[index], flows[index]
                readers = _moved(
                    readers,
                    index,
                    old_flow.inputs | old_flow.consulted | old_analysis.uses,
                    new_flow.inputs | new_flow.consulted | analysis.uses,
                )
    # Unchanged cells keep their diagnostics, moved with their cell (only the
    # cells whose first line moved are visited).
    shifted: Iterable[int] = (
        compress(count(), map(operator.ne, body_lines, state.body_lines))
        if replaced is None
        else [index for index in replaced if body_lines[index] != state.body_lines[index]]
    )
    for index in shifted:
        if index not in affected:
            per_cell[index] = _shifted(per_cell[index], body_lines[index] - state.body_lines[index])
    return NotebookGraph(
        analyses=tuple(analyses),
        providers=tuple(providers),
        diagnostics=tuple(chain.from_iterable(per_cell)),
        flows=tuple(flows),
        _dependencies=tuple(dependencies),
        _dependents=tuple(dependents),
        _component=previous._component,
        _component_order=previous._component_order,
        _upward_only=True,
        # ``previous`` is alive while its id is compared (the caller holds it).
        _update=(id(previous), frozenset(affected)),
        _incremental=_IncrementalState(
            indexes=_Indexes(
                providing,
                defining,
                indexes.display_options,
                indexes.unknown_from,
                tuple(per_cell),
            ),
            readers=readers,
            body_lines=body_lines,
            hashes=hashes,
            kinds=state.kinds,
            cells=tuple(cells),
        ),
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
