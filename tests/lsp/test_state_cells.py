"""``sessions/state`` cells are rebuilt only where something they show changed,
and always equal what ``cells_json`` builds from scratch — across edits that
move cells, change statuses and rename names, loaded and running cells that
change, a text parsed from scratch (every ``Cell`` a new object), and a
sidecar whose run ids are renumbered in place."""

from __future__ import annotations

import json
from pathlib import Path

from sessions.analysis.snapshot import Snapshot, analyse
from sessions.cache.records import SidecarData
from sessions.format.notebook import parse
from sessions.format.reparse import parse_edit
from sessions.lsp.state_payload import StateCells, cells_json

from ..support.staleness import History

TEXT = "".join(f"# %% step {i}\nv{i} = {'v' + str(i - 1) if i else 0} + 1\n\n" for i in range(12))


def snapshot_of(history: History, previous: Snapshot | None = None) -> Snapshot:
    """As the language server analyses an edit: only the cells it touched are
    parsed again (``parse_edit``), the others are the previous ``Cell`` objects."""
    data = SidecarData("nb.py", cells=[r for r in history.records if r is not None])
    text = _text(history)
    if previous is None:
        notebook = parse(text)
    else:
        before = "".join(cell.raw for cell in previous.notebook.cells)
        notebook = parse_edit(before, previous.notebook, text)
    return analyse(Path("nb.py"), notebook, data, (), previous)


def _text(history: History) -> str:
    return "".join(cell.raw for cell in history.notebook.cells)


def _decoded(texts: list[str]) -> list[object]:
    return [json.loads(text) for text in texts]


def test_unchanged_cells_are_the_same_objects_and_every_cell_is_right() -> None:
    history = History(TEXT)
    history.run_all()
    cells = StateCells()
    first = snapshot_of(history)
    built = cells.build(first, loaded={0, 1}, running=None)
    assert _decoded(built) == cells_json(first, loaded={0, 1}, running=None, outputs=False)
    again = cells.build(first, loaded={0, 1}, running=None)
    assert all(a is b for a, b in zip(built, again, strict=True))

    # An edit in cell 5 that adds a line: cells 5.. move, cells 5.. go stale.
    history.edit(_text(history).replace("v5 = v4 + 1\n", "v5 = v4 + 2\nw = 1\n"))
    second = snapshot_of(history, first)
    rebuilt = cells.build(second, loaded={0, 1}, running=5)
    assert _decoded(rebuilt) == cells_json(second, loaded={0, 1}, running=5, outputs=False)
    assert all(rebuilt[i] is again[i] for i in range(5))
    assert all(rebuilt[i] is not again[i] for i in range(5, 12))

    # Run ids renumbered in place: the same record objects, other numbers.
    for record in history.records:
        if record is not None:
            record.run += 100
    third = snapshot_of(history, second)
    assert _decoded(cells.build(third, loaded=set(), running=None)) == cells_json(
        third, loaded=set(), running=None, outputs=False
    )


def test_every_build_is_what_cells_json_makes_from_scratch() -> None:
    """Across edits that rebuild some cells and keep others, with the loaded
    and running cells changing too."""
    history = History(TEXT)
    history.run_all()
    cells = StateCells()
    previous: Snapshot | None = None
    for step in range(6):
        snapshot = snapshot_of(history, previous)
        loaded, running = {step % 3}, (step if step % 2 else None)
        built = cells.build(snapshot, loaded=loaded, running=running)
        assert _decoded(built) == cells_json(
            snapshot, loaded=loaded, running=running, outputs=False
        )
        history.edit(_text(history).replace(f"v{step} = ", f"v{step} = 1 + "))
        previous = snapshot


def test_only_the_cells_whose_inputs_changed_are_built_again() -> None:
    history = History(TEXT)
    history.run_all()
    cells = StateCells()
    first = snapshot_of(history)
    cells.build(first, loaded=set(), running=None)
    assert cells.rebuilt == 12

    cells.build(first, loaded={3}, running=7)
    assert cells.rebuilt == 2  # cell 3 is loaded now, cell 7 runs
    cells.build(first, loaded={3}, running=None)
    assert cells.rebuilt == 1

    # An edit of the last cell that keeps its lines: only that cell's entry changes.
    history.edit(_text(history).replace("v11 = v10 + 1", "v11 = v10 + 2"))
    second = snapshot_of(history, first)
    built = cells.build(second, loaded={3}, running=None)
    assert cells.rebuilt == 1
    assert _decoded(built) == cells_json(second, loaded={3}, running=None, outputs=False)

    # The same text parsed from scratch: new objects everywhere, the same JSON.
    fresh = analyse(Path("nb.py"), parse(_text(history)), SidecarData("nb.py"), ())
    again = cells.build(fresh, loaded={3}, running=None)
    assert _decoded(again) == cells_json(fresh, loaded={3}, running=None, outputs=False)


def test_cells_added_and_removed_are_built_and_dropped() -> None:
    history = History(TEXT)
    cells = StateCells()
    first = snapshot_of(history)
    cells.build(first, loaded=set(), running=None)
    history.edit(_text(history) + "# %% extra\nz = v11\n")
    second = snapshot_of(history, first)
    built = cells.build(second, loaded=set(), running=None)
    assert len(built) == 13
    assert _decoded(built) == cells_json(second, loaded=set(), running=None, outputs=False)
    history.edit(TEXT.split("# %% step 10")[0])
    third = snapshot_of(history, second)
    built = cells.build(third, loaded=set(), running=None)
    assert len(built) == 10
    assert _decoded(built) == cells_json(third, loaded=set(), running=None, outputs=False)


def test_cells_moved_by_a_line_break_above_keep_their_entries_on_new_lines() -> None:
    """Enter at the end of a line moves every cell below it one line: their
    entries are the last ones with the lines changed, not made again, and
    still equal what ``cells_json`` builds; Backspace moves them back."""
    history = History(TEXT.replace("v3 = v2 + 1\n", "v3 = v2 + 1  # a comment\n"))
    cells = StateCells()
    first = snapshot_of(history)
    cells.build(first, loaded=set(), running=None)
    before = _text(history)
    history.edit(before.replace("# a comment\n", "# a comment\n\n"))
    second = snapshot_of(history, first)
    moved = cells.build(second, loaded=set(), running=None)
    assert _decoded(moved) == cells_json(second, loaded=set(), running=None, outputs=False)
    assert [json.loads(text)["line"] for text in moved[3:6]] == [9, 13, 16]
    assert cells.rebuilt == 1  # the cell that got the line; the 8 below it only moved
    history.edit(before)
    third = snapshot_of(history, second)
    back = cells.build(third, loaded={4}, running=None)
    assert _decoded(back) == cells_json(third, loaded={4}, running=None, outputs=False)
    assert cells.rebuilt == 2  # that cell again, and the one now loaded
