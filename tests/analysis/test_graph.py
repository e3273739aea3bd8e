"""The notebook graph: ordered name resolution, diagnostics, closures, order (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.analysis.diagnostics import Diagnostic
from sessions.analysis.graph import NotebookGraph, build_graph
from sessions.format.notebook import parse


def graph_of(*cells: str, preamble: str = "") -> NotebookGraph:
    """A notebook whose cells are ``cells`` (a cell starting with ``[md]`` is markdown)."""
    parts = [preamble] if preamble else []
    for body in cells:
        if body.startswith("[md]"):
            parts.append("# %% [markdown]\n" + body[len("[md]") :] + "\n")
        else:
            parts.append("# %%\n" + body + "\n")
    return build_graph(parse("\n".join(parts)))


def only(graph: NotebookGraph, code: str) -> list[Diagnostic]:
    return [d for d in graph.diagnostics if d.code == code]


def codes(graph: NotebookGraph) -> list[str]:
    return sorted(d.code for d in graph.diagnostics)


# ------------------------------------------------------------------ resolution


def test_use_resolves_to_nearest_cell_above() -> None:
    graph = graph_of("x = 1", "x = 2", "y = x")
    assert graph.providers[2] == {"x": 1}
    assert graph.dependencies(2) == {1}
    assert graph.dependents(1) == {2}
    assert graph.dependents(0) == frozenset()
    assert only(graph, "used-before-defined") == []
    assert only(graph, "undefined-name") == []


def test_use_falls_back_to_nearest_cell_below_with_warning() -> None:
    graph = graph_of("y = x + 1", "z = 0", "x = 5", "x = 6")
    assert graph.providers[0] == {"x": 2}
    [warning] = only(graph, "used-before-defined")
    assert warning.severity == "warning"
    assert warning.cell == 0
    # cell 0's header is file line 0, its code starts on line 1: ``y = x + 1``
    assert (warning.line, warning.col, warning.end_line, warning.end_col) == (1, 4, 1, 5)
    assert "`x`" in warning.message and "cell 2" in warning.message


def test_unknown_name_is_undefined_but_builtins_and_ipython_names_are_not() -> None:
    graph = graph_of("print(len(missing), display, _, Out, __name__)")
    assert graph.providers[0] == {}
    [warning] = only(graph, "undefined-name")
    assert warning.severity == "warning"
    assert (warning.line, warning.col, warning.end_col) == (1, 10, 17)
    assert "`missing`" in warning.message


def test_cell_using_its_own_later_definition_looks_above() -> None:
    graph = graph_of("x = 1", "x = x + 1")
    assert graph.providers[1] == {"x": 0}
    alone = graph_of("x = x + 1")
    assert alone.providers[0] == {}
    assert [d.code for d in alone.diagnostics] == ["undefined-name"]


def test_redefinition_is_a_hint_naming_the_earlier_cell() -> None:
    graph = graph_of("df = 1", "z = df", "df = 2", "w = df")
    assert graph.providers[3] == {"df": 2}
    assert graph.providers[1] == {"df": 0}
    [hint] = only(graph, "redefined")
    assert hint.severity == "hint"
    assert hint.cell == 2
    assert (hint.line, hint.col, hint.end_col) == (graph_line(graph, 2), 0, 2)
    assert "cell 0" in hint.message


def graph_line(graph: NotebookGraph, cell: int) -> int:
    """File line of ``cell``'s first code line, when every cell above has one code line."""
    assert cell < len(graph.analyses)
    return 3 * cell + 1  # header, one code line, blank separator per cell above


def test_shadowed_builtin_resolves_to_the_cell_above_only() -> None:
    graph = graph_of("print(id(1))", "id = 5", "print(id)")
    assert graph.providers[2] == {"id": 1}
    assert graph.providers[0] == {}  # the builtin; no warning about the cell below
    assert codes(graph) == []


# ------------------------------------------------------------------- mutation


def test_mutation_chain_makes_each_mutator_a_new_version() -> None:
    graph = graph_of("xs = []", "xs.append(1)", "xs.append(2)", "total = sum(xs)")
    assert graph.providers[1] == {"xs": 0}
    assert graph.providers[2] == {"xs": 1}
    assert graph.providers[3] == {"xs": 2}
    assert graph.downstream_closure([0]) == {1, 2, 3}
    assert graph.upstream_closure([3]) == {0, 1, 2}
    assert graph.execution_order([3, 0, 2, 1]) == [0, 1, 2, 3]
    assert only(graph, "redefined") == []


def test_attribute_and_subscript_assignment_are_mutations() -> None:
    graph = graph_of("cfg = {}", "cfg['a'] = 1", "obj_user = cfg")
    assert graph.providers[2] == {"cfg": 1}
    assert graph.dependencies(1) == {0}


# --------------------------------------------------------------------- cycles


def test_cycle_through_below_references_is_an_error_on_each_cell() -> None:
    graph = graph_of("a = b", "b = a", "c = 1")
    errors = only(graph, "cycle")
    assert sorted(e.cell for e in errors) == [0, 1]
    assert all(e.severity == "error" for e in errors)
    first = next(e for e in errors if e.cell == 0)
    assert (first.line, first.col, first.end_col) == (1, 4, 5)
    assert "0 and 1" in first.message
    # inside a cycle, file order; the unrelated cell keeps its place
    assert graph.execution_order([2, 1, 0]) == [0, 1, 2]
    assert graph.upstream_closure([0]) == {0, 1}


def test_cycle_order_respects_providers_outside_the_cycle() -> None:
    graph = graph_of("a = b + base", "b = a", "base = 1")
    assert sorted(e.cell for e in only(graph, "cycle")) == [0, 1]
    order = graph.execution_order([0, 1, 2])
    assert order.index(2) < order.index(0)
    assert order == [2, 0, 1]


def test_no_cycle_without_below_references() -> None:
    graph = graph_of("a = 1", "b = a", "a = b")
    assert only(graph, "cycle") == []


# ---------------------------------------------------------------- star imports


def test_star_import_warns_and_silences_undefined_names_below() -> None:
    graph = graph_of("print(before)", "from math import *", "r = sqrt(2)")
    [star] = only(graph, "star-import")
    assert star.severity == "warning"
    assert star.cell == 1
    assert (star.line, star.col, star.end_line, star.end_col) == (4, 0, 4, 18)
    assert "math" in star.message
    undefined = only(graph, "undefined-name")
    assert [d.cell for d in undefined] == [0]
    assert graph.providers[2] == {}


# -------------------------------------------------------------- syntax errors


def test_syntax_error_has_exact_file_range() -> None:
    text = "import os\n\n# %%\nok = 1\nx = (1,\n\n# %%\ny = ok\n"
    graph = build_graph(parse(text))
    [error] = only(graph, "syntax-error")
    assert error.severity == "error"
    assert error.cell == 1
    assert (error.line, error.col, error.end_line, error.end_col) == (4, 4, 4, 5)
    assert "never closed" in error.message
    # the statements before the error still define their names
    assert graph.providers[2] == {"ok": 1}


def test_syntax_error_silences_undefined_names_below_only() -> None:
    graph = graph_of("print(a)", "def broken(:\n    pass", "print(b)")
    assert [d.cell for d in only(graph, "undefined-name")] == [0]
    [error] = only(graph, "syntax-error")
    assert error.line == graph_line(graph, 1)
    assert error.col == 11


def test_nul_byte_is_a_syntax_error_not_an_exception() -> None:
    graph = graph_of("x = 1\ny = 'a\0b'")
    [error] = only(graph, "syntax-error")
    assert (error.line, error.col, error.end_col) == (2, 6, 7)


# ------------------------------------------------------------------- closures


def test_closures_are_transitive_and_exclude_unreached_inputs() -> None:
    graph = graph_of("a = 1", "b = a", "c = b", "d = 1", "e = c + d")
    assert graph.upstream_closure([4]) == {0, 1, 2, 3}
    assert graph.upstream_closure([2, 1]) == {0, 1}
    assert graph.downstream_closure([0]) == {1, 2, 4}
    assert graph.downstream_closure([3, 4]) == {4}
    assert graph.upstream_closure([]) == frozenset()


def test_execution_order_ties_by_file_order_and_follows_indirect_paths() -> None:
    # cell 0 uses ``late`` from cell 3, which uses ``mid`` from cell 2
    graph = graph_of("x = late", "unrelated = 1", "mid = 2", "late = mid")
    assert graph.execution_order(range(4)) == [1, 2, 3, 0]
    # cell 3 is not selected, but 0 still waits for 2 through it
    assert graph.execution_order([0, 2]) == [2, 0]
    assert graph.execution_order([1, 0]) == [0, 1]


# ------------------------------------------- file coordinates, preamble, markdown


def test_diagnostics_use_file_coordinates_with_preamble_and_markdown() -> None:
    text = (
        '"""Notebook docstring."""\n'  # 0 preamble
        "import os\n"  # 1
        "\n"  # 2
        "# %% [markdown]\n"  # 3 markdown cell 1
        "# Some *notes*\n"  # 4
        "\n"  # 5
        "# %% Load\n"  # 6 code cell 2
        "data = os.listdir(root)\n"  # 7
        "\n"  # 8
        "# %%\n"  # 9 code cell 3
        "  # comment\n"  # 10
        "value = data + later\n"  # 11
        "\n"  # 12
        "# %%\n"  # 13 code cell 4
        "later = 1\n"  # 14
    )
    graph = build_graph(parse(text))
    assert graph.analyses[1] is None
    assert graph.providers[1] == {}
    assert graph.providers[2] == {"os": 0}
    assert graph.providers[3] == {"data": 2, "later": 4}
    undefined = only(graph, "undefined-name")
    assert [(d.cell, d.line, d.col, d.end_col) for d in undefined] == [(2, 7, 18, 22)]
    [before] = only(graph, "used-before-defined")
    assert (before.cell, before.line, before.col, before.end_line, before.end_col) == (
        3,
        11,
        15,
        11,
        20,
    )


def test_columns_on_commented_magic_lines_point_into_the_file() -> None:
    text = "# %%\n# %time result = fit(data)\n"
    graph = build_graph(parse(text))
    cell = parse(text).cells[0]
    assert cell.code == "%time result = fit(data)"
    [fit, data] = sorted(only(graph, "undefined-name"), key=lambda d: d.col)
    # in the file the line is ``# %time result = fit(data)``: fit is at column 17
    assert (fit.line, fit.col, fit.end_col) == (1, 17, 20)
    assert (data.col, data.end_col) == (21, 25)


def test_non_ascii_columns_count_code_points() -> None:
    graph = graph_of("naïve = 'é'; print(ünknown)")
    [warning] = only(graph, "undefined-name")
    assert (warning.col, warning.end_col) == (19, 26)


def test_markdown_and_raw_cells_take_no_part() -> None:
    text = "# %%\nx = 1\n\n# %% [markdown]\n# x = undefined_thing\n\n# %% [raw]\ny = x\n\n# %%\nz = x\n"
    graph = build_graph(parse(text))
    assert graph.analyses[1] is None and graph.analyses[2] is None
    assert graph.providers[3] == {"x": 0}
    assert graph.dependents(0) == {3}
    assert codes(graph) == []


def test_empty_notebook() -> None:
    graph = build_graph(parse(""))
    assert graph.analyses == ()
    assert graph.diagnostics == ()
    assert graph.execution_order([]) == []


# ------------------------------------------------ against a brute-force reference

NAMES = "abcdef"


def _reach(start: int, edges: Callable[[int], frozenset[int]]) -> set[int]:
    seen: set[int] = set()
    todo = list(edges(start))
    while todo:
        cell = todo.pop()
        if cell not in seen:
            seen.add(cell)
            todo.extend(edges(cell))
    return seen


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sets(st.sampled_from(NAMES)), st.sets(st.sampled_from(NAMES))),
        min_size=1,
        max_size=10,
    )
)
def test_graph_matches_brute_force(cells: list[tuple[set[str], set[str]]]) -> None:
    bodies = []
    for uses, defines in cells:
        lines = [f"print({', '.join(sorted(uses))})"] if uses else []
        lines += [f"{name} = 0" for name in sorted(defines)]
        bodies.append("\n".join(lines) or "pass")
    graph = graph_of(*bodies)
    count = len(cells)
    for index, (uses, _) in enumerate(cells):
        expected: dict[str, int] = {}
        for name in uses:
            above = [i for i in range(index) if name in cells[i][1]]
            below = [i for i in range(index + 1, count) if name in cells[i][1]]
            if above:
                expected[name] = above[-1]
            elif below:
                expected[name] = below[0]
        assert graph.providers[index] == expected
    in_cycle = set()
    for index in range(count):
        upstream = _reach(index, graph.dependencies)
        assert graph.upstream_closure([index]) == upstream
        assert graph.downstream_closure([index]) == _reach(index, graph.dependents)
        if index in upstream:
            in_cycle.add(index)
    assert {d.cell for d in graph.diagnostics if d.code == "cycle"} == in_cycle
    order = graph.execution_order(range(count))
    assert sorted(order) == list(range(count))
    position = {cell: at for at, cell in enumerate(order)}
    for cell in range(count):
        for provider in graph.upstream_closure([cell]):
            if cell not in graph.upstream_closure([provider]):
                assert position[provider] < position[cell]
