"""An edit updates the analysis where it changed it, and the result is the one a
full analysis gives (issue 12: a one-cell edit costs the cells it affects).

``snapshot.analyse(..., previous=)`` hands the last snapshot to ``build_graph``
(which re-resolves only edited cells that keep their interface to the others)
and to the status pass (which re-checks only cells whose inputs changed). On
the real notebooks of ``bench/corpus`` and on the reference notebook, every
step of a seeded series of edits and runs — comment edits, changed values,
new names, syntax errors, cells moved by lines typed above them, cells
inserted and deleted — is analysed both ways and compared field by field.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

from sessions.analysis.snapshot import Snapshot, analyse
from sessions.cache.records import SidecarData
from sessions.format.notebook import ParsedNotebook, parse, serialize
from tests.support.staleness import History

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from reference_notebook import reference_notebook

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "corpus"
NOTEBOOKS = sorted(CORPUS.glob("*.py.txt"))


def code_cells(notebook: ParsedNotebook) -> list[int]:
    return [i for i, cell in enumerate(notebook.cells) if cell.kind == "code" and cell.code.strip()]


def edited(text: str, notebook: ParsedNotebook, rng: random.Random, step: int) -> str:
    """One edit of the kinds a user makes while typing."""
    cells = code_cells(notebook)
    index = rng.choice(cells)
    cell = notebook.cells[index]
    code = cell.body.rstrip("\n")
    kind = rng.randrange(12)
    if kind == 0:  # a comment: no change in meaning
        body = f"{code}\n# note {step}"
    elif kind == 1:  # a value changes
        body = f"{code}\n_step = {step}"
    elif kind == 2:  # a name redefined in place
        names = _defined(cell.code)
        name = rng.choice(names) if names else "_step"
        body = f"{code}\n{name} = ({name}, {step})[0]"
    elif kind == 3:  # a syntax error while typing
        body = f"{code}\nvalue = ("
    elif kind == 4:  # lines typed in the cell above move every cell below
        body = f"{code}\n\n\n"
    elif kind == 5:  # a new cell
        lines = text.splitlines(keepends=True)
        at = notebook.cells[index].start_line
        return "".join([*lines[:at], f"# %%\nnew_{step} = {step}\n\n", *lines[at:]])
    elif kind == 6 and len(cells) > 3:  # a cell deleted
        lines = text.splitlines(keepends=True)
        return "".join([*lines[: cell.start_line], *lines[cell.end_line :]])
    elif kind == 8:  # a name renamed where it is defined: its readers lose it
        names = _defined(cell.code)
        if not names:
            return text
        name = rng.choice(names)
        body = re.sub(rf"^{re.escape(name)}\b", f"{name}_r{step}", code, flags=re.M)
    elif kind == 9:  # a name of a cell above defined again: the cells below read it here
        above = [n for i in cells if i < index for n in _defined(notebook.cells[i].code)]
        if not above:
            return text
        body = f"{code}\n{rng.choice(above)} = {step}"
    elif kind == 10:  # a function defined: calls elsewhere may now resolve to it
        body = f"{code}\ndef helper_{step % 3}(v):\n    return v + {step}"
    elif kind == 11:  # a name bound as a module now: its method calls mutate nothing
        names = _defined(cell.code)
        if not names:
            return text
        body = f"{code}\nimport math as {rng.choice(names)}"
    else:  # a statement that reads another cell's name
        body = f"{code}\nprint({step})"
    return _replace_body(text, notebook, index, body)


def _defined(code: str) -> list[str]:
    names = []
    for line in code.splitlines():
        head, eq, _ = line.partition("=")
        head = head.strip()
        if eq and head.isidentifier() and not line.startswith((" ", "\t")):
            names.append(head)
    return names


def _replace_body(text: str, notebook: ParsedNotebook, index: int, body: str) -> str:
    cell = notebook.cells[index]
    lines = text.splitlines(keepends=True)
    start = cell.start_line + (1 if cell.has_marker else 0)
    rest = lines[cell.end_line :]
    separator = "\n" if rest else ""
    return "".join([*lines[:start], body, "\n", separator, *rest])


def assert_same(incremental: Snapshot, full: Snapshot) -> None:
    a, b = incremental.graph, full.graph
    assert a.providers == b.providers
    assert a.flows == b.flows
    assert a.diagnostics == b.diagnostics
    assert a._dependencies == b._dependencies
    assert a._dependents == b._dependents
    assert a.topological_order == b.topological_order
    assert incremental.states == full.states
    assert incremental.diagnostics == full.diagnostics


def replay(text: str, seed: int, steps: int, tmp_path: Path) -> int:
    """Edits and runs; returns how many steps reused unchanged cells' flows."""
    rng = random.Random(seed)
    path = tmp_path / "nb.py"
    history = History(text)
    history.run_all()
    data = SidecarData("nb.py", cells=[r for r in history.records if r is not None])
    previous = analyse(path, history.notebook, data)
    reused = 0
    for step in range(steps):
        if rng.random() < 0.2:  # run what is stale: records change
            history.run_stale()
            data = SidecarData("nb.py", cells=[r for r in history.records if r is not None])
        else:
            text = edited(serialize(history.notebook), history.notebook, rng, step)
            history.edit(text)
        notebook = parse(serialize(history.notebook))
        incremental = analyse(path, notebook, data, previous=previous)
        full = analyse(path, notebook, data)
        assert_same(incremental, full)
        if len(notebook.cells) == len(previous.notebook.cells):
            kept = sum(
                1
                for new, old in zip(incremental.graph.flows, previous.graph.flows, strict=True)
                if new is old and new.statements
            )
            reused += kept > len(code_cells(notebook)) // 2
        previous = incremental
    return reused


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name.removesuffix(".py.txt"))
def test_every_step_matches_a_full_analysis_on_real_notebooks(
    notebook: Path, tmp_path: Path
) -> None:
    replay(notebook.read_text(), seed=len(notebook.name), steps=40, tmp_path=tmp_path)


def test_edits_on_the_reference_notebook_reuse_the_unchanged_cells(tmp_path: Path) -> None:
    reused = replay(reference_notebook(), seed=7, steps=60, tmp_path=tmp_path)
    assert reused >= 15  # the fast path is taken, not only the full build


def test_the_corpus_is_there() -> None:
    assert len(NOTEBOOKS) >= 15


def test_what_an_object_holds_changing_re_resolves_the_cells_that_call_it(
    tmp_path: Path,
) -> None:
    # Cell 1 decides whether fitting ``pipe`` (cell 2) changes ``model`` (read by cell 3).
    path = tmp_path / "nb.py"
    before = parse(
        "# %%\nmodel = Model()\nother = Model()\n\n"
        '# %%\npipe = Pipeline([("m", model)])\n\n'
        "# %%\npipe.fit(X)\n\n# %%\nprint(model.coef_)\n"
    )
    previous = analyse(path, before, SidecarData("nb.py"))
    assert previous.graph.providers[3]["model"] == 2
    for body in ('Pipeline([("m", other)])', "Pipeline([])", 'Pipeline([("m", model)])'):
        text = serialize(previous.notebook).replace(
            previous.notebook.cells[1].code, f"pipe = {body}"
        )
        notebook = parse(text)
        incremental = analyse(path, notebook, SidecarData("nb.py"), previous=previous)
        assert_same(incremental, analyse(path, notebook, SidecarData("nb.py")))
        expected = 2 if "model" in body else 0
        assert incremental.graph.providers[3]["model"] == expected
        previous = incremental
    # Whether ``model`` is an object a constructor built (a part the fit changes)
    # is decided in cell 0, which the fitting cell does not read.
    for binding, expected in (("model = load()", 0), ("model = Model()", 2)):
        old = previous.notebook.cells[0].code.splitlines()[0]
        notebook = parse(serialize(previous.notebook).replace(old, binding, 1))
        incremental = analyse(path, notebook, SidecarData("nb.py"), previous=previous)
        assert_same(incremental, analyse(path, notebook, SidecarData("nb.py")))
        assert incremental.graph.providers[3]["model"] == expected
        previous = incremental
