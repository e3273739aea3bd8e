"""Staleness (DESIGN §5) as a pure function: scenario table and property tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.analysis.graph import build_graph
from sessions.analysis.staleness import compute_statuses
from sessions.format.notebook import parse, serialize, set_source
from tests.support.staleness import History

BASE = """\
# %% a
x = 1

# %% b
y = x + 1

# %% c
z = y * 2

# %% d
print(x, z)
"""


@dataclass
class Scenario:
    name: str
    text: str
    steps: list[tuple[str, object]] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)


def replace(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


SCENARIOS = [
    Scenario("never run", BASE, [], ["never-run"] * 4),
    Scenario("all run", BASE, [("run_all", None)], ["fresh"] * 4),
    Scenario(
        "edit upstream root",
        BASE,
        [("run_all", None), ("text", replace("x = 1", "x = 2"))],
        ["edited", "upstream", "upstream", "upstream"],
    ),
    Scenario(
        "edit middle",
        BASE,
        [("run_all", None), ("text", replace("y = x + 1", "y = x + 10"))],
        ["fresh", "edited", "upstream", "upstream"],
    ),
    Scenario(
        "edit leaf",
        BASE,
        [("run_all", None), ("text", replace("print(x, z)", "print(z, x)"))],
        ["fresh", "fresh", "fresh", "edited"],
    ),
    Scenario(
        "whitespace-only trailing change is not an edit",
        BASE,
        [("run_all", None), ("text", replace("x = 1\n", "x = 1\n\n\n"))],
        ["fresh"] * 4,
    ),
    Scenario(
        "crlf flip is not an edit",
        BASE,
        [("run_all", None), ("text", BASE.replace("\n", "\r\n"))],
        ["fresh"] * 4,
    ),
    Scenario(
        # Version keys, not run ids: the same code with the same inputs gives the
        # same values, so ``run --stale`` converges (issue 10, item 1).
        "re-run unchanged provider leaves dependents fresh",
        BASE,
        [("run_all", None), ("run", [1])],
        ["fresh"] * 4,
    ),
    Scenario(
        "re-run root then its direct dependents only",
        BASE,
        [("run_all", None), ("run", [0, 1])],
        ["fresh"] * 4,
    ),
    Scenario(
        "edit, run the edited cell only: its dependents are stale until they run",
        BASE,
        [("run_all", None), ("text", replace("x = 1", "x = 5")), ("run", [0])],
        ["fresh", "upstream", "upstream", "upstream"],
    ),
    Scenario(
        "a comment or a blank line changes nothing",
        BASE,
        [("run_all", None), ("text", replace("y = x + 1", "y = x + 1  # plus one\n\n# more"))],
        ["fresh"] * 4,
    ),
    Scenario(
        "reformatting changes nothing",
        BASE,
        [("run_all", None), ("text", replace("y = x + 1", "y = (x+1)"))],
        ["fresh"] * 4,
    ),
    Scenario(
        "run stale after edit makes all fresh",
        BASE,
        [("run_all", None), ("text", replace("x = 1", "x = 3")), ("run_stale", None)],
        ["fresh"] * 4,
    ),
    Scenario(
        "delete provider",
        BASE,
        [("run_all", None), ("text", replace("# %% b\ny = x + 1\n\n", ""))],
        ["fresh", "upstream", "upstream"],
    ),
    Scenario(
        "insert new provider above",
        BASE,
        [("run_all", None), ("text", replace("# %% c\n", "# %% b2\ny = 100\n\n# %% c\n"))],
        ["fresh", "fresh", "never-run", "upstream", "upstream"],
    ),
    Scenario(
        "insert unrelated cell",
        BASE,
        [("run_all", None), ("text", replace("# %% c\n", "# %% new\nw = 5\n\n# %% c\n"))],
        ["fresh", "fresh", "never-run", "fresh", "fresh"],
    ),
    Scenario(
        "mutation cell re-run with the same code leaves later users fresh",
        "# %% a\nitems = [1]\n\n# %% m\nitems.append(2)\n\n# %% u\ntotal = sum(items)\n",
        [("run_all", None), ("run", [1])],
        ["fresh", "fresh", "fresh"],
    ),
    Scenario(
        "edit mutation cell",
        "# %% a\nitems = [1]\n\n# %% m\nitems.append(2)\n\n# %% u\ntotal = sum(items)\n",
        [
            ("run_all", None),
            (
                "text",
                "# %% a\nitems = [1]\n\n# %% m\nitems.append(3)\n\n# %% u\ntotal = sum(items)\n",
            ),
        ],
        ["fresh", "edited", "upstream"],
    ),
    Scenario(
        "edit above mutation reaches users through it",
        "# %% a\nitems = [1]\n\n# %% m\nitems.append(2)\n\n# %% u\ntotal = sum(items)\n",
        [
            ("run_all", None),
            (
                "text",
                "# %% a\nitems = [0]\n\n# %% m\nitems.append(2)\n\n# %% u\ntotal = sum(items)\n",
            ),
        ],
        ["edited", "upstream", "upstream"],
    ),
    Scenario(
        "error upstream",
        BASE,
        [("run", [0]), ("run_error", [1])],
        ["fresh", "error", "never-run", "never-run"],
    ),
    Scenario(
        "error cell fixed and rerun",
        BASE,
        [("run", [0]), ("run_error", [1]), ("run", [1, 2, 3])],
        ["fresh"] * 4,
    ),
    Scenario(
        "edit a cell in error",
        BASE,
        [("run", [0]), ("run_error", [1]), ("text", replace("y = x + 1", "y = x + 2"))],
        ["fresh", "edited", "never-run", "never-run"],
    ),
    Scenario(
        "reorder independent cells keeps statuses",
        "# %% a\nx = 1\n\n# %% b\ny = 2\n\n# %% c\nprint(x, y)\n",
        [("run_all", None), ("text", "# %% b\ny = 2\n\n# %% a\nx = 1\n\n# %% c\nprint(x, y)\n")],
        ["fresh", "fresh", "fresh"],
    ),
    Scenario(
        "move consumer above provider",
        "# %% a\nx = 1\n\n# %% b\nprint(x)\n",
        [("run_all", None), ("text", "# %% b\nprint(x)\n\n# %% a\nx = 1\n")],
        ["fresh", "fresh"],
    ),
    Scenario(
        "redefinition: user follows the nearest provider above",
        "# %% a\nx = 1\n\n# %% b\nx = 2\n\n# %% c\nprint(x)\n",
        [("run_all", None), ("text", "# %% a\nx = 10\n\n# %% b\nx = 2\n\n# %% c\nprint(x)\n")],
        ["edited", "fresh", "fresh"],
    ),
    Scenario(
        "delete redefinition switches provider",
        "# %% a\nx = 1\n\n# %% b\nx = 2\n\n# %% c\nprint(x)\n",
        [("run_all", None), ("text", "# %% a\nx = 1\n\n# %% c\nprint(x)\n")],
        ["fresh", "upstream"],
    ),
    Scenario(
        "markdown cells are always fresh",
        "# %% [markdown]\n# Notes\n\n# %%\nx = 1\n",
        [],
        ["fresh", "never-run"],
    ),
    Scenario(
        "comment-only cell has nothing to run",
        "# %%\n# just a comment\n\n# %%\nx = 1\n",
        [],
        ["fresh", "never-run"],
    ),
    Scenario(
        "preamble provides imports",
        "import math\n\n# %%\nr = math.pi\n",
        [("run_all", None), ("text", "import math as math\n\n# %%\nr = math.pi\n")],
        ["edited", "upstream"],
    ),
    Scenario(
        "name only from kernel state never stales",
        "# %%\nprint(undefined_thing)\n",
        [("run_all", None)],
        ["fresh"],
    ),
    Scenario(
        "provider appears for a formerly external name",
        "# %%\nprint(v)\n",
        [("run_all", None), ("text", "# %%\nv = 1\n\n# %%\nprint(v)\n")],
        ["never-run", "upstream"],
    ),
    Scenario(
        "interrupted counts as error",
        BASE,
        [("run", [0]), ("run_interrupted", [1])],
        ["fresh", "error", "never-run", "never-run"],
    ),
    Scenario(
        "agent rewrites whole file with one change",
        BASE,
        [("run_all", None), ("text", replace("z = y * 2", "z = y * 3"))],
        ["fresh", "fresh", "edited", "upstream"],
    ),
    Scenario(
        "duplicate identical cells",
        "# %%\nx = 1\n\n# %%\nx = 1\n\n# %%\nprint(x)\n",
        [("run_all", None)],
        ["fresh", "fresh", "fresh"],
    ),
]


def play(scenario: Scenario) -> History:
    history = History(scenario.text)
    for action, arg in scenario.steps:
        if action == "run_all":
            history.run_all()
        elif action == "run":
            history.run(arg)  # type: ignore[arg-type]
        elif action == "run_error":
            history.run(arg, status="error")  # type: ignore[arg-type]
        elif action == "run_interrupted":
            history.run(arg, status="interrupted")  # type: ignore[arg-type]
        elif action == "text":
            history.edit(arg)  # type: ignore[arg-type]
        elif action == "run_stale":
            history.run_stale()
        else:  # pragma: no cover - a typo in the table
            raise AssertionError(action)
    return history


def test_table_is_large_enough() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    assert play(scenario).statuses() == scenario.expected


def test_upstream_reason_names_the_changed_cell() -> None:
    history = History(BASE)
    history.run_all()
    history.edit(replace("x = 1", "x = 2"))
    graph = build_graph(history.notebook)
    states = compute_statuses(history.notebook, graph, history.records)
    assert states[2].causes == (0,)
    assert "cell 1" in states[2].reason
    assert states[3].causes == (0,)


# -- properties ------------------------------------------------------------

NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def chain_notebooks(draw: st.DrawFn) -> str:
    """Notebooks whose cells each define a name and use names defined above (no cycles)."""
    count = draw(st.integers(min_value=1, max_value=8))
    cells = []
    defined: list[str] = []
    for i in range(count):
        target = draw(st.sampled_from(NAMES))
        used = draw(st.lists(st.sampled_from(defined), max_size=3)) if defined else []
        expr = " + ".join(used) or "0"
        cells.append(f"# %% cell {i}\n{target} = {expr} + {i}\n")
        defined.append(target)
    return "\n".join(cells)


def transitive_dependents(text: str, edited: int) -> set[int]:
    graph = build_graph(parse(text))
    return set(graph.downstream_closure([edited])) | {edited}


@settings(max_examples=200, deadline=None)
@given(text=chain_notebooks(), data=st.data())
def test_editing_a_cell_stales_exactly_it_and_its_dependents(
    text: str, data: st.DataObject
) -> None:
    history = History(text)
    history.run_stale()  # dependency order: a cell using a name defined below runs after it
    assert history.stale() == []
    index = data.draw(st.integers(min_value=0, max_value=len(history.notebook.cells) - 1))
    source = history.notebook.cells[index].source
    edited = set_source(history.notebook, index, source + " + 100")
    history.edit(serialize(edited))
    assert set(history.stale()) == transitive_dependents(serialize(edited), index)


@settings(max_examples=100, deadline=None)
@given(text=chain_notebooks(), data=st.data())
def test_comment_and_layout_edits_stale_nothing(text: str, data: st.DataObject) -> None:
    history = History(text)
    history.run_stale()
    index = data.draw(st.integers(min_value=0, max_value=len(history.notebook.cells) - 1))
    source = history.notebook.cells[index].source
    changed = data.draw(st.sampled_from(["  # note", "\n# a comment line", "\n\n"]))
    history.edit(serialize(set_source(history.notebook, index, source + changed)))
    assert history.stale() == []


@settings(max_examples=200, deadline=None)
@given(text=chain_notebooks(), data=st.data())
def test_running_stale_cells_in_dependency_order_makes_all_fresh(
    text: str, data: st.DataObject
) -> None:
    history = History(text)
    ran = data.draw(st.lists(st.integers(min_value=0, max_value=len(history.notebook.cells) - 1)))
    history.run(ran)
    if data.draw(st.booleans()):
        index = data.draw(st.integers(min_value=0, max_value=len(history.notebook.cells) - 1))
        # Keep what the cell defines: a different definition could create a real cycle.
        source = history.notebook.cells[index].source.replace(" + ", " * ", 1) + "  # edited"
        history.edit(serialize(set_source(history.notebook, index, source)))
    history.run_stale()
    assert history.stale() == []


WITH_HELPER = """\
# %% helper
def mean(xs):
    return sum(xs) / len(xs)

# %% use
m = mean([1, 2, 3])

# %% below
print(m)
"""

HELPER_DELETED = """\
# %% use
m = mean([1, 2, 3])

# %% below
print(m)
"""


def test_deleting_a_provider_names_a_root_cause_for_every_stale_cell() -> None:
    """QA: staleness reasons after an agent deletes a provider cell on disk.

    Found by deleting a middle cell while ``sessions watch`` ran: the cell below
    the one that lost its provider was described as "stale because of cell ?"."""
    history = History(WITH_HELPER)
    history.run_all()
    history.edit(HELPER_DELETED)  # the helper cell is gone
    graph = build_graph(history.notebook)
    states = compute_statuses(history.notebook, graph, history.records)

    use, below = states
    assert use.status == "upstream"
    assert "`mean` is no longer defined by any cell" in use.reason
    assert use.causes == (0,)
    assert below.status == "upstream"
    assert below.causes == (0,)
    assert "?" not in below.reason
    assert below.reason.endswith("cell 0 (`m`) is stale because of cell 0")
