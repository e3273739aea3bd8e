"""The dependency graph as data and as Mermaid / DOT text (``sessions graph``).

Table tests: a notebook's cells in, the edges (provider, reader, kind, names,
backward, cycle) and nodes out; then the text of both languages, with titles
made to break them, checked by the real parsers (Mermaid's own, in Node, and
pydot's DOT grammar)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.analysis.graph_export import (
    DependencyGraph,
    GraphEdge,
    GraphNode,
    cell_label,
    dependency_graph,
    graph_json,
)
from sessions.analysis.graph_render import edge_text, mermaid_text, to_dot, to_mermaid
from sessions.analysis.snapshot import Snapshot, analyse
from sessions.cache.records import SidecarData
from sessions.format.notebook import parse
from tests.support.diagrams import (
    dot_unquoted,
    mermaid_decoded,
    mermaid_errors,
    parse_dot,
)
from tests.support.staleness import History


def notebook_text(*cells: str) -> str:
    """Cells as ``# %%`` blocks; a cell starting with ``[md]`` is markdown."""
    parts = []
    for body in cells:
        if body.startswith("[md]"):
            parts.append("# %% [markdown]\n" + body[len("[md]") :] + "\n")
        else:
            parts.append("# %%\n" + body + "\n")
    return "\n".join(parts)


def snapshot_of(text: str, history: History | None = None) -> Snapshot:
    records = [r for r in history.records if r is not None] if history else []
    sidecar = SidecarData(notebook="nb.py", cells=records)
    return analyse(Path("nb.py"), parse(text), sidecar)


def graph_of(*cells: str) -> DependencyGraph:
    return dependency_graph(snapshot_of(notebook_text(*cells)))


Edge = tuple[int, int, str, tuple[str, ...], bool, bool]


def edges(graph: DependencyGraph) -> list[Edge]:
    return [(e.source, e.target, e.kind, e.names, e.backward, e.cycle) for e in graph.edges]


EDGE_TABLE: list[tuple[str, tuple[str, ...], list[Edge]]] = [
    ("one name flows", ("x = 1", "y = x"), [(0, 1, "value", ("x",), False, False)]),
    (
        "names of one pair share an edge",
        ("a = 1\nb = 2", "c = a + b"),
        [(0, 1, "value", ("a", "b"), False, False)],
    ),
    (
        "the nearest definition above provides",
        ("x = 1", "x = 2", "y = x"),
        [(1, 2, "value", ("x",), False, False)],
    ),
    (
        "a mutation is its own kind of edge; readers below read the mutated version",
        ("xs = []", "xs.append(1)", "print(xs)"),
        [(0, 1, "mutation", ("xs",), False, False), (1, 2, "value", ("xs",), False, False)],
    ),
    (
        "item and attribute assignments and del are mutations",
        ("d = {}", "d['a'] = 1", "d.b = 2", "del d['a']", "print(d)"),
        [
            (0, 1, "mutation", ("d",), False, False),
            (1, 2, "mutation", ("d",), False, False),
            (2, 3, "mutation", ("d",), False, False),
            (3, 4, "value", ("d",), False, False),
        ],
    ),
    (
        "hidden state: a seed reaches the draw",
        ("import random", "random.seed(0)", "x = random.random()"),
        [
            (0, 1, "value", ("random",), False, False),
            (0, 2, "value", ("random",), False, False),
            (1, 2, "state", ("rng:random",), False, False),
        ],
    ),
    (
        "a file written then read by literal path",
        ("open('out.txt', 'w').write('x')", "t = open('out.txt').read()"),
        [(0, 1, "state", ("file:out.txt",), False, False)],
    ),
    (
        "used before defined: the edge points up the file",
        ("y = x + 1", "z = 0", "x = 5"),
        [(2, 0, "value", ("x",), True, False)],
    ),
    (
        "a cycle, only through a backward reference",
        ("y = x + 1", "x = y * 2"),
        [(1, 0, "value", ("x",), True, True), (0, 1, "value", ("y",), False, True)],
    ),
    (
        "markdown takes part in nothing",
        ("x = 1", "[md]# x is one", "print(x)"),
        [(0, 2, "value", ("x",), False, False)],
    ),
    ("an undefined name makes no edge", ("print(missing)",), []),
]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [(cells, expected) for _, cells, expected in EDGE_TABLE],
    ids=[name for name, _, _ in EDGE_TABLE],
)
def test_edges(cells: tuple[str, ...], expected: list[Edge]) -> None:
    assert edges(graph_of(*cells)) == expected


def test_cycles_and_their_cells_are_marked() -> None:
    graph = graph_of("y = x + 1", "x = y * 2", "print(y)")
    assert graph.cycles == ((0, 1),)
    assert [(n.cell, n.cycle) for n in graph.nodes] == [(0, True), (1, True), (2, False)]


def test_state_names_are_labelled_in_words() -> None:
    graph = graph_of(
        "import numpy as np\nimport matplotlib.pyplot as plt",
        "np.random.seed(0)\nplt.style.use('ggplot')",
        "plt.plot(np.random.rand(3))",
    )
    [state] = [e for e in graph.edges if e.kind == "state"]
    assert state.names == ("config:matplotlib", "rng:numpy")
    assert state.labels == ("matplotlib settings", "NumPy's global random state")
    assert edge_text(state) == "matplotlib settings, NumPy's global random state"


LABEL_TABLE = [
    ("# %% Load data\nx = 1\n", "Load data"),
    ("# %%\n# why this cell exists\n\nx = compute()\n", "x = compute()"),
    ("# %%\n# only a comment\n", "# only a comment"),
    ('"""\nTrips by bike.\n"""\n# %%\nx = 1\n', "Trips by bike."),
    ('"""\n=====\nLasso\n=====\n"""\n# %%\nx = 1\n', "Lasso"),
    ("# %%\n" + "total = " + "1 + " * 20 + "1\n", ("total = " + "1 + " * 20)[:39] + "…"),
]


@pytest.mark.parametrize(("text", "label"), LABEL_TABLE)
def test_cell_label(text: str, label: str) -> None:
    cells = parse(text).cells
    cell = cells[0] if text.startswith('"""') else cells[-1]
    assert cell_label(cell) == label
    assert len(cell_label(cell)) <= 40


def test_nodes_are_code_cells_with_something_to_run() -> None:
    graph = graph_of("x = 1", "[md]# Notes", "# only a comment", "", "print(x)")
    assert [node.cell for node in graph.nodes] == [0, 4]


def test_node_statuses_follow_the_snapshot() -> None:
    cells = ("x = 1", "y = x", "z = y", "w = 1 / 0", "v = 2")
    history = History(notebook_text(*cells))
    history.run([0, 1, 2])
    history.run([3], status="error")
    edited = notebook_text("x = 10", *cells[1:])
    history.edit(edited)
    graph = dependency_graph(snapshot_of(edited, history))
    assert [(n.cell, n.status) for n in graph.nodes] == [
        (0, "edited"),
        (1, "upstream"),
        (2, "upstream"),
        (3, "error"),
        (4, "never-run"),
    ]
    assert graph.nodes[1].reason.startswith("upstream code changed")


def test_json_shape() -> None:
    payload = graph_json(graph_of("xs = []", "xs.append(1)"))
    assert set(payload) == {"notebook", "nodes", "edges", "cycles", "problems"}
    assert set(payload["nodes"][0]) == {
        *("cell", "label", "title", "line", "status", "reason"),
        *("defines", "mutates", "cycle"),
    }
    assert payload["edges"] == [
        {
            "from": 0,
            "to": 1,
            "kind": "mutation",
            "names": ["xs"],
            "labels": ["xs"],
            "backward": False,
            "cycle": False,
        }
    ]
    assert payload["nodes"][1]["mutates"] == ["xs"]
    assert payload["nodes"][0]["title"] is None


# ------------------------------------------------------------------ text

TRICKY_TITLES = [
    'Load "data"',
    "brackets [x] (y) {z} <b>bold</b>",
    "pipes | and %% and #35; and ;",
    "end",
    "style:#f00;",
    "back\\slash and `ticks` & ampersand",
    "unicode: café ✓ 🚀 日本",
    "click c0 call alert(1)",
]


def tricky_graph() -> DependencyGraph:
    """Every tricky title on a node and an edge; every status, kind and mark."""
    statuses = ["fresh", "edited", "upstream", "error", "never-run"]
    nodes = tuple(
        GraphNode(
            cell=index,
            label=title,
            title=title,
            line=index * 3,
            status=statuses[index % len(statuses)],  # type: ignore[arg-type]
            reason="",
            defines=(),
            mutates=(),
            cycle=index in (1, 2),
        )
        for index, title in enumerate(TRICKY_TITLES)
    )
    kinds = ["value", "mutation", "state"]
    chain = [
        GraphEdge(
            source=index,
            target=index + 1,
            kind=kinds[index % 3],  # type: ignore[arg-type]
            names=(title,),
            labels=(title,),
            backward=False,
            cycle=False,
        )
        for index, title in enumerate(TRICKY_TITLES[:-1])
    ]
    edge_list = (
        *chain,
        GraphEdge(2, 1, "value", ("a", "b", "c", "d"), ("a", "b", "c", "d"), True, True),
        GraphEdge(4, 0, "value", ("x",), ("x",), True, False),
    )
    return DependencyGraph(notebook='my "nb".py', nodes=nodes, edges=edge_list, cycles=((1, 2),))


def test_mermaid_escapes_every_character_that_could_end_a_label() -> None:
    for title in TRICKY_TITLES:
        escaped = mermaid_text(title)
        # Only entity codes (#NN;) remain of the punctuation.
        assert not set(escaped) & set('"[]{}()<>|%`&\\:'), escaped
        assert mermaid_decoded(escaped) == title


def test_mermaid_and_dot_text_parse_with_tricky_titles(tmp_path: Path) -> None:
    graph = tricky_graph()
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart TB\n")
    assert "linkStyle 7 stroke:#d32f2f" in mermaid  # the cycle edge
    assert "linkStyle 8 stroke:#ef6c00" in mermaid  # the backward edge
    assert "c1 ==>" in mermaid and "c2 -.->" in mermaid
    assert mermaid_text("a, b, c, +1 more") in mermaid
    empty = to_mermaid(DependencyGraph("nb.py", (), (), ()))
    assert mermaid_errors([mermaid, empty], tmp_path) == []

    dot = parse_dot(to_dot(graph))
    labels = {n.get_name(): dot_unquoted(n.get("label")) for n in dot.get_nodes() if n.get("label")}
    assert labels == {
        f"c{index}": f"{index} · {title}\n{line}"
        for index, (title, line) in enumerate(
            zip(
                TRICKY_TITLES,
                ["✓ fresh", "● stale: edited", "● stale: upstream", "✗ error", "○ never run"] * 2,
                strict=False,
            )
        )
    }
    edge_labels = [dot_unquoted(e.get("label")) for e in dot.get_edges()]
    assert edge_labels[1] == f"mutates {TRICKY_TITLES[1]}"
    assert edge_labels[-2] == "a, b, c, +1 more"
    assert dot_unquoted(dot.get_name()) == 'my "nb".py'
    backward = dot.get_edges()[-1]
    assert backward.get("constraint") == "false"


def test_text_of_a_real_notebook_parses(tmp_path: Path) -> None:
    graph = graph_of(
        "import numpy as np",
        "xs = []\nnp.random.seed(0)",
        "xs.append(np.random.rand())",
        "total = sum(xs) + later",
        "later = total * 2",
    )
    mermaid = to_mermaid(graph)
    assert 'c1 ==>|"mutates xs"| c2' in mermaid
    assert 'c1 -.->|"NumPy#39;s global random state"| c2' in mermaid
    assert mermaid_errors([mermaid], tmp_path) == []
    dot = parse_dot(to_dot(graph))
    assert {(e.get_source(), e.get_destination()) for e in dot.get_edges()} == {
        (f"c{e.source}", f"c{e.target}") for e in graph.edges
    }
