"""The dependency graph as Mermaid flowchart text or Graphviz DOT text (``sessions graph``).

Pure: a :class:`~sessions.analysis.graph_export.DependencyGraph` in, a string
out. Both languages draw the same picture:

* a node per cell, ``3 · Load`` over its status (``✓ fresh``, ``● stale:
  edited``…), filled with the status's colour;
* a solid arrow per value flow, a thick one for a mutation, a dotted one for
  hidden state, each labelled with the names (at most ``EDGE_NAMES``, then
  "+N more");
* an arrow that points up the file (``used-before-defined``) in orange, the
  arrows and cells of a cycle in red.

Titles and code lines are user text: they are escaped so that no quote,
bracket, pipe, ``%%`` or HTML in them can end a label or change the diagram
(Mermaid gets entity codes, DOT backslash escapes).
"""

from __future__ import annotations

from sessions.analysis.graph_export import (
    STATUS_TEXT,
    DependencyGraph,
    GraphEdge,
    GraphNode,
)

EDGE_NAMES = 3
"""Names an edge label lists before "+N more" (the JSON has them all)."""

STATUS_COLOURS: dict[str, tuple[str, str, str]] = {
    "fresh": ("#dcf5e3", "#2e7d32", "#123d1c"),
    "edited": ("#ffe3b3", "#e08a00", "#4d2f00"),
    "upstream": ("#fff3cd", "#c9a227", "#4d3d00"),
    "error": ("#f9d6d5", "#c62828", "#4a0e0e"),
    "never-run": ("#eceff1", "#90a4ae", "#37474f"),
}
"""Status -> (fill, border, text): light fills with dark text read on light
and dark backgrounds alike."""

CYCLE_COLOUR = "#d32f2f"
BACKWARD_COLOUR = "#ef6c00"

_MERMAID_SAFE = frozenset("_.,- ")


def status_class(status: str) -> str:
    """A status as a Mermaid class name (letters only: ``never-run`` -> ``neverrun``)."""
    return status.replace("-", "")


def node_id(cell: int) -> str:
    return f"c{cell}"


def node_lines(node: GraphNode) -> tuple[str, str]:
    return f"{node.cell} · {node.label}", STATUS_TEXT.get(node.status, node.status)


def edge_text(edge: GraphEdge, limit: int = EDGE_NAMES) -> str:
    """``df, xs`` / ``mutates xs`` / ``+2 more`` after ``limit`` names."""
    shown = list(edge.labels[:limit])
    if len(edge.labels) > limit:
        shown.append(f"+{len(edge.labels) - limit} more")
    text = ", ".join(shown)
    return f"mutates {text}" if edge.kind == "mutation" else text


def mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label: every ASCII punctuation
    character but ``_.,-`` becomes an entity code (``"`` -> ``#34;``), so
    quotes, brackets, pipes, ``%%``, ``#`` and HTML are shown, not read."""
    return "".join(
        f"#{ord(char)};"
        if char.isascii() and not char.isalnum() and char not in _MERMAID_SAFE
        else char
        for char in text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    )


def to_mermaid(graph: DependencyGraph) -> str:
    lines = ["flowchart TB"]
    for node in graph.nodes:
        first, second = node_lines(node)
        label = f"{mermaid_text(first)}<br/>{mermaid_text(second)}"
        lines.append(f'  {node_id(node.cell)}["{label}"]')
    arrows = {"value": "-->", "mutation": "==>", "state": "-.->"}
    for edge in graph.edges:
        arrow = arrows[edge.kind]
        text = mermaid_text(edge_text(edge))
        lines.append(f'  {node_id(edge.source)} {arrow}|"{text}"| {node_id(edge.target)}')
    for status, (fill, stroke, colour) in STATUS_COLOURS.items():
        lines.append(
            f"  classDef {status_class(status)} fill:{fill},stroke:{stroke},color:{colour}"
        )
    by_status: dict[str, list[str]] = {}
    for node in graph.nodes:
        by_status.setdefault(status_class(node.status), []).append(node_id(node.cell))
    for name, ids in by_status.items():
        lines.append(f"  class {','.join(ids)} {name}")
    for node in graph.nodes:
        if node.cycle:
            lines.append(f"  style {node_id(node.cell)} stroke:{CYCLE_COLOUR},stroke-width:3px")
    for number, edge in enumerate(graph.edges):
        if edge.cycle:
            lines.append(f"  linkStyle {number} stroke:{CYCLE_COLOUR},color:{CYCLE_COLOUR}")
        elif edge.backward:
            lines.append(f"  linkStyle {number} stroke:{BACKWARD_COLOUR},color:{BACKWARD_COLOUR}")
    return "\n".join(lines) + "\n"


def dot_string(text: str) -> str:
    """``text`` as a DOT double-quoted string: backslashes and quotes escaped,
    line breaks as ``\\n`` (DOT reads any other character as itself)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(graph: DependencyGraph) -> str:
    lines = [
        f"digraph {dot_string(graph.notebook)} {{",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        fill, stroke, colour = STATUS_COLOURS.get(node.status, STATUS_COLOURS["never-run"])
        first, second = node_lines(node)
        attributes = [
            f"label={dot_string(first + chr(10) + second)}",
            f'fillcolor="{fill}"',
            f'color="{CYCLE_COLOUR if node.cycle else stroke}"',
            f'fontcolor="{colour}"',
            f"class={dot_string(node.status)}",
        ]
        if node.cycle:
            attributes.append("penwidth=3")
        lines.append(f"  {node_id(node.cell)} [{', '.join(attributes)}];")
    styles = {"value": "solid", "mutation": "bold", "state": "dashed"}
    for edge in graph.edges:
        attributes = [f"label={dot_string(edge_text(edge))}", f"style={styles[edge.kind]}"]
        if edge.kind == "mutation":
            attributes.append("penwidth=2.5")
        if edge.cycle or edge.backward:
            colour = CYCLE_COLOUR if edge.cycle else BACKWARD_COLOUR
            attributes += [f'color="{colour}"', f'fontcolor="{colour}"']
        if edge.backward:
            # Keep cells in file order top to bottom: an arrow up the file
            # must not pull its provider above its reader.
            attributes.append("constraint=false")
        lines.append(
            f"  {node_id(edge.source)} -> {node_id(edge.target)} [{', '.join(attributes)}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
