"""``plan_run``: which cells a run executes and in what order, for every mode (pure, no kernel)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from sessions.analysis.graph import build_graph
from sessions.analysis.staleness import compute_statuses
from sessions.run.plan import RUN_MODES, PlanError, plan_run
from tests.support.staleness import History

# 0 a ← 1 b ← 3 c ← 5 e → 4 d ; 2 is markdown, 6 is comment-only
NOTEBOOK = """\
# %% a
x = 1

# %% b
y = x + 1

# %% [markdown]
# notes

# %% c
z = y * 2

# %% d
w = 5

# %% e
print(z, w)

# %% only a comment
# nothing to run here
"""
CODE_CELLS = [0, 1, 3, 4, 5]
ALL_LOADED = frozenset(CODE_CELLS)


def plan(
    history: History,
    mode: str,
    cells: Sequence[int] = (),
    *,
    loaded: Collection[int] = ALL_LOADED,
    run_upstream: bool = True,
) -> list[int]:
    graph = build_graph(history.notebook)
    states = compute_statuses(history.notebook, graph, history.records)
    return plan_run(
        history.notebook,
        graph,
        states,
        mode,
        cells,
        loaded=loaded,
        run_upstream=run_upstream,
    )


def fresh() -> History:
    history = History(NOTEBOOK)
    history.run_all()
    assert history.stale() == []
    return history


def b_edited() -> History:
    history = fresh()
    history.edit(NOTEBOOK.replace("y = x + 1", "y = x + 2"))
    assert history.statuses()[1] == "edited"
    return history


@pytest.mark.parametrize(
    ("mode", "cells", "expected"),
    [
        ("all", [], CODE_CELLS),
        ("above", [3], [0, 1]),
        ("above", [0], []),
        ("below", [3], [3, 4, 5]),
        ("below", [2], [3, 4, 5]),  # from a markdown cell: the code cells after it
        ("downstream", [1], [1, 3, 5]),
        ("downstream", [4], [4, 5]),
        ("cell", [3], [3]),
        ("cell", [2], []),  # a markdown cell has nothing to run
        ("cell", [6], []),  # nor does a comment-only cell
        ("stale", [], []),
    ],
)
def test_modes_on_a_fresh_loaded_notebook(mode: str, cells: list[int], expected: list[int]) -> None:
    assert plan(fresh(), mode, cells) == expected


@pytest.mark.parametrize(
    ("loaded", "run_upstream", "expected"),
    [
        (ALL_LOADED, True, [3]),  # upstream fresh and in this kernel: only the cell
        (frozenset(), True, [0, 1, 3]),  # new kernel: its upstream runs first
        (frozenset({0}), True, [1, 3]),  # only what the kernel lacks
        (frozenset(), False, [3]),  # runUpstream off
    ],
)
def test_cell_runs_upstream_that_is_not_loaded(
    loaded: frozenset[int], run_upstream: bool, expected: list[int]
) -> None:
    assert plan(fresh(), "cell", [3], loaded=loaded, run_upstream=run_upstream) == expected


def test_cell_runs_stale_upstream_even_when_loaded() -> None:
    assert plan(b_edited(), "cell", [3]) == [1, 3]
    assert plan(b_edited(), "cell", [3], run_upstream=False) == [3]


def test_several_cells_are_ordered_by_dependencies_with_file_order_ties() -> None:
    assert plan(fresh(), "cell", [5, 4, 3]) == [3, 4, 5]
    assert plan(fresh(), "cell", [5, 0], loaded=frozenset()) == [0, 1, 3, 4, 5]


@pytest.mark.parametrize(
    ("loaded", "run_upstream", "expected"),
    [
        (ALL_LOADED, True, [1, 3, 5]),  # the edited cell and its dependents
        (frozenset(), True, [0, 1, 3, 4, 5]),  # plus fresh providers missing from the kernel
        (frozenset({0}), True, [1, 3, 4, 5]),
        (frozenset(), False, [1, 3, 5]),
    ],
)
def test_stale_after_an_edit(
    loaded: frozenset[int], run_upstream: bool, expected: list[int]
) -> None:
    assert plan(b_edited(), "stale", loaded=loaded, run_upstream=run_upstream) == expected


def test_stale_on_a_never_run_notebook_runs_every_code_cell() -> None:
    assert plan(History(NOTEBOOK), "stale", loaded=()) == CODE_CELLS


def test_stale_includes_a_cell_whose_last_run_failed() -> None:
    history = fresh()
    history.run([4], status="error")
    assert history.statuses()[4] == "error"
    assert plan(history, "stale") == [4, 5]


def test_downstream_and_all_ignore_staleness_and_loading() -> None:
    assert plan(b_edited(), "downstream", [3], loaded=()) == [3, 5]
    assert plan(b_edited(), "all", loaded=()) == CODE_CELLS


def test_a_provider_below_its_user_runs_first() -> None:
    history = History("# %% user\nprint(later)\n\n# %% provider\nlater = 1\n")
    assert plan(history, "all", loaded=()) == [0, 1]  # all: file order, as Jupyter would
    assert plan(history, "stale", loaded=()) == [1, 0]
    assert plan(history, "cell", [0], loaded=()) == [1, 0]
    assert plan(history, "downstream", [1], loaded=()) == [1, 0]


def test_a_cell_that_does_not_parse_still_runs_to_report_its_syntax_error() -> None:
    history = History("# %% ok\nx = 1\n\n# %% broken\ny = (\n\n# %% after\nz = 2\n")
    assert history.statuses()[1] == "never-run"  # stale, so run stale must run it
    assert plan(history, "all", loaded=()) == [0, 1, 2]
    assert plan(history, "stale", loaded=()) == [0, 1, 2]


@pytest.mark.parametrize(
    ("mode", "cells", "message"),
    [
        ("cell", [7], "no cell 7"),
        ("cell", [-1], "no cell -1"),
        ("below", [100], "no cell 100"),
        ("stale", [7], "no cell 7"),
        ("cell", [], "needs at least one cell"),
        ("above", [], "needs at least one cell"),
        ("below", [], "needs at least one cell"),
        ("downstream", [], "needs at least one cell"),
        ("everything", [], "unknown run mode 'everything'"),
        ("", [], "unknown run mode"),
    ],
)
def test_bad_requests_raise_plan_error(mode: str, cells: list[int], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan(fresh(), mode, cells)


def test_every_mode_is_covered() -> None:
    assert set(RUN_MODES) == {"cell", "stale", "all", "above", "below", "downstream"}
