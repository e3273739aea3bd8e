"""The dependency graph as data to draw: cells as nodes, the names that flow as edges.

``sessions graph`` and the language server's ``sessions.graph`` describe a
notebook with this one model (its JSON shape is in docs/cli.md), built from a
:class:`~sessions.analysis.snapshot.Snapshot`: per code cell its label and
status, per provider → reader pair the names that flow, split by kind:

* ``value``: names the reader uses as they are;
* ``mutation``: names the reader changes in place (``xs.append(...)``), so
  the provider's object is not what it was after the reader ran;
* ``state``: hidden state (``rng:numpy``, ``file:out.csv``), labelled in words.

Resolution looks below a cell only for a name no cell above provides
(``used-before-defined``), so an edge that points up the file is marked
``backward``; cycles can form only through such edges, and the cells and
edges of each cycle the analysis found are marked ``cycle``.

Pure: a snapshot in, plain data out (no I/O); ``graph_render`` turns it into
Mermaid or DOT text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sessions.analysis.hidden_state import describe_name, is_state_name
from sessions.analysis.snapshot import Snapshot
from sessions.analysis.staleness import Status, has_code_to_run
from sessions.format.notebook import Cell

EdgeKind = Literal["value", "mutation", "state"]

LABEL_LIMIT = 40
"""Characters of a node's label at most (titles and code lines are cut with "…")."""

STATUS_TEXT: dict[str, str] = {
    "fresh": "✓ fresh",
    "edited": "● stale: edited",
    "upstream": "● stale: upstream",
    "error": "✗ error",
    "never-run": "○ never run",
}
"""A status as a node's second line shows it: the mark keeps it readable without colour."""


@dataclass(frozen=True, slots=True)
class GraphNode:
    cell: int
    """The cell's 0-based index over all cells (DESIGN §2)."""
    label: str
    """Its title, or its first line of code, shortened."""
    title: str | None
    line: int
    """0-based file line of the cell's header (or first line, for the preamble)."""
    status: Status
    reason: str
    defines: tuple[str, ...]
    mutates: tuple[str, ...]
    cycle: bool
    """The cell is part of a dependency cycle."""


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: int
    """The providing cell."""
    target: int
    """The cell that reads (or changes) what ``source`` provides."""
    kind: EdgeKind
    names: tuple[str, ...]
    """Python names and state names (``rng:numpy``), sorted."""
    labels: tuple[str, ...]
    """``names`` in words, in the same order: ``df``, "NumPy's global random state"."""
    backward: bool
    """The provider is below the reader (``used-before-defined``)."""
    cycle: bool
    """Both cells are in the same dependency cycle."""


@dataclass(frozen=True, slots=True)
class DependencyGraph:
    notebook: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    cycles: tuple[tuple[int, ...], ...]
    """The cells of each cycle, in file order."""
    problems: tuple[str, ...] = ()
    """What went wrong reading the sidecar (statuses may then say never run)."""


def cell_label(cell: Cell, limit: int = LABEL_LIMIT) -> str:
    """The title, or else the first line of code that is not a comment (the
    first non-empty line for a cell of comments only), cut to ``limit``."""
    text = cell.title or ""
    if not text:
        lines = [line.strip() for line in cell.code.splitlines() if line.strip()]
        code = [line for line in lines if not line.startswith("#")]
        # A line that only opens a docstring, or underlines a title
        # (reStructuredText's ``=====``), says nothing: the next one does.
        while len(code) > 1 and not any(c.isalnum() for c in code[0].lstrip("rRbBuU")):
            code = code[1:]
        text = (code or lines or [""])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_label(name: str) -> str:
    """A name as an edge shows it: Python names as they are, state in words."""
    return describe_name(name) if is_state_name(name) else name


def _edge_kind(name: str, reader_mutates: frozenset[str]) -> EdgeKind:
    if is_state_name(name):
        return "state"
    return "mutation" if name in reader_mutates else "value"


def dependency_graph(snapshot: Snapshot, notebook: str | None = None) -> DependencyGraph:
    """The graph of ``snapshot``: every code cell with something to run (or
    that provides or reads a name), and every provider → reader flow.
    ``notebook`` names the file in the result (default: the snapshot's path)."""
    graph = snapshot.graph
    cells = snapshot.notebook.cells
    cycles = tuple(members for members in graph.components if len(members) > 1)
    cycle_of = {cell: number for number, members in enumerate(cycles) for cell in members}

    grouped: dict[tuple[int, int, EdgeKind], list[str]] = {}
    for reader, providers in enumerate(graph.providers):
        if not providers:
            continue
        mutated = graph.mutates(reader)
        for name, provider in providers.items():
            if provider != reader:
                key = (provider, reader, _edge_kind(name, mutated))
                grouped.setdefault(key, []).append(name)
    linked = {cell for source, target, _ in grouped for cell in (source, target)}

    nodes = []
    for index, cell in enumerate(cells):
        if index not in linked and not has_code_to_run(snapshot.notebook, graph, index):
            continue
        state = snapshot.states[index]
        analysis = graph.analyses[index]
        nodes.append(
            GraphNode(
                cell=index,
                label=cell_label(cell),
                title=cell.title or None,
                line=cell.start_line,
                status=state.status,
                reason=state.reason,
                defines=tuple(sorted(analysis.defines)) if analysis else (),
                mutates=tuple(sorted(graph.mutates(index))),
                cycle=index in cycle_of,
            )
        )

    edges = []
    for (source, target, kind), names in sorted(grouped.items(), key=_edge_order):
        ordered = tuple(sorted(names))
        in_cycle = source in cycle_of and cycle_of[source] == cycle_of.get(target)
        edges.append(
            GraphEdge(
                source=source,
                target=target,
                kind=kind,
                names=ordered,
                labels=tuple(name_label(name) for name in ordered),
                backward=source > target,
                cycle=in_cycle,
            )
        )
    return DependencyGraph(
        notebook=str(snapshot.path) if notebook is None else notebook,
        nodes=tuple(nodes),
        edges=tuple(edges),
        cycles=cycles,
        problems=snapshot.problems,
    )


_KIND_ORDER = {"value": 0, "mutation": 1, "state": 2}


def _edge_order(item: tuple[tuple[int, int, EdgeKind], Sequence[str]]) -> tuple[int, int, int]:
    """Edges by reader, then provider, then kind: the order a reader of the
    text expects (top of the file first), stable from run to run."""
    (source, target, kind), _ = item
    return (target, source, _KIND_ORDER[kind])


def graph_json(graph: DependencyGraph) -> dict[str, Any]:
    """The JSON shape of docs/cli.md (``sessions graph --format json``, ``sessions.graph``)."""
    return {
        "notebook": graph.notebook,
        "nodes": [
            {
                "cell": node.cell,
                "label": node.label,
                "title": node.title,
                "line": node.line,
                "status": node.status,
                "reason": node.reason,
                "defines": list(node.defines),
                "mutates": list(node.mutates),
                "cycle": node.cycle,
            }
            for node in graph.nodes
        ],
        "edges": [
            {
                "from": edge.source,
                "to": edge.target,
                "kind": edge.kind,
                "names": list(edge.names),
                "labels": list(edge.labels),
                "backward": edge.backward,
                "cycle": edge.cycle,
            }
            for edge in graph.edges
        ],
        "cycles": [list(members) for members in graph.cycles],
        "problems": list(graph.problems),
    }
