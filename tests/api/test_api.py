"""The Python API on real files (and, where marked, real kernels): listing, editing
through the file with the exact round trip, anchors, runs, outputs, interrupt, restart."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import sessions
from sessions import (
    AmbiguousAnchor,
    AsyncNotebook,
    CellAddressError,
    EditError,
    NoSuchCell,
    Notebook,
    NotebookDocument,
    NotebookReadError,
)
from sessions.cache.records import Output
from sessions.format.edits import Insert, SetSource
from sessions.format.notebook import parse
from sessions.run.runner import RunListener

CHAIN = """\
# %% load
x = 1

# %% double
y = x * 2
y

# %% [markdown]
# Some prose about y.

# %% show
print("y is", y)
"""


def write(tmp_path: Path, text: str, name: str = "nb.py") -> Path:
    path = tmp_path / name
    path.write_bytes(textwrap.dedent(text).encode())
    return path


@pytest.fixture
def sync_notebooks() -> Iterator[list[Notebook]]:
    """Every sync notebook a test opens is closed (its kernel shut down) afterwards."""
    opened: list[Notebook] = []
    yield opened
    for notebook in opened:
        notebook.close()


def open_sync(opened: list[Notebook], path: Path) -> Notebook:
    notebook = Notebook.open(path)
    opened.append(notebook)
    return notebook


# -- reading -----------------------------------------------------------------


def test_open_lists_cells_with_kinds_statuses_and_names(tmp_path: Path) -> None:
    doc = NotebookDocument(write(tmp_path, CHAIN))
    cells = doc.cells()
    assert [c.index for c in cells] == [0, 1, 2, 3]
    assert [c.kind for c in cells] == ["code", "code", "markdown", "code"]
    assert [c.title for c in cells] == ["load", "double", "", "show"]
    assert [c.status for c in cells] == ["never-run", "never-run", "fresh", "never-run"]
    assert cells[1].defines == ("y",) and cells[1].uses == ("x",)
    assert cells[2].source == "Some prose about y."
    assert all(c.outputs == () and c.short_output is None for c in cells)


def test_open_refuses_a_missing_file_unless_asked_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(NotebookReadError, match="no such file"):
        Notebook.open(tmp_path / "new.py")
    notebook = Notebook.open(tmp_path / "new.py", create=True)
    assert (tmp_path / "new.py").read_bytes() == b""
    assert notebook.append("a = 1", title="first") == 0
    assert (tmp_path / "new.py").read_text() == "# %% first\na = 1\n"


def test_the_package_exports_the_api_lazily() -> None:
    assert sessions.Notebook is Notebook
    with pytest.raises(AttributeError):
        _ = sessions.NoSuchThing


# -- editing through the file --------------------------------------------------


def test_set_source_rewrites_only_that_cells_bytes(tmp_path: Path) -> None:
    text = "# %% a\r\nx = 1  \r\n\r\n\r\n# %% b\r\ny = 2\r\n\r\n# %% c\r\n\tz = 3"
    path = tmp_path / "crlf.py"
    path.write_bytes(text.encode())
    path.chmod(0o640)
    before = parse(text)
    index = NotebookDocument(path).set_source("y = 2", "y = 20\nw = 5")
    assert index == 1
    after_text = path.read_bytes().decode()
    after = parse(after_text)
    assert after.cells[0].raw == before.cells[0].raw
    assert after.cells[2].raw == before.cells[2].raw  # still no final newline
    assert after.cells[1].raw == "# %% b\r\ny = 20\r\nw = 5\r\n\r\n"
    assert after_text == before.cells[0].raw + after.cells[1].raw + before.cells[2].raw
    assert path.stat().st_mode & 0o777 == 0o640


def test_insert_delete_and_move_go_through_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    doc = NotebookDocument(path)
    assert doc.insert("show", "z = y + 1", title="more") == 3
    assert doc.insert("double", "# note", kind="markdown", after=True) == 2
    assert [c.title for c in doc.cells()] == ["load", "double", "", "", "more", "show"]
    doc.delete("Some prose")
    doc.move("more", 1)
    assert [c.title for c in doc.cells()] == ["load", "more", "double", "", "show"]
    text = path.read_text()
    assert "# %% more\nz = y + 1\n\n# %% double\n" in text
    assert "# %% [markdown]\n# # note\n" in text
    assert "Some prose" not in text
    assert doc.cells()[1].status == "never-run"


def test_edits_can_be_dataclasses_or_dicts_and_a_batch_is_all_or_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    doc = NotebookDocument(path)
    doc.edit_batch(
        [
            SetSource("load", "x = 10"),
            {"op": "set_source", "cell": "y = x", "source": "y = x * 3\ny"},
            Insert("total = x + y", after="show", title="total"),
            # addresses the notebook as the previous edits left it: cell 4 is "total"
            {"op": "move", "cell": 4, "to": "double"},
        ]
    )
    cells = doc.cells()
    assert [c.title for c in cells] == ["load", "total", "double", "", "show"]
    assert cells[0].source == "x = 10" and cells[2].source == "y = x * 3\ny"

    unchanged = path.read_bytes()
    with pytest.raises(NoSuchCell, match=r"edit 1 \(set_source\)"):
        doc.edit_batch(
            [{"op": "set_source", "cell": 0, "source": "x = 99"}, SetSource("no such text", "")]
        )
    with pytest.raises(EditError, match="needs `source`"):
        doc.edit_batch([{"op": "set_source", "cell": 0}])
    with pytest.raises(EditError, match="unknown edit op"):
        doc.edit_batch([{"op": "rename", "cell": 0}])
    assert path.read_bytes() == unchanged


def test_nothing_goes_above_the_preamble(tmp_path: Path) -> None:
    doc = NotebookDocument(write(tmp_path, '"""Doc."""\nimport os\n\n' + CHAIN))
    with pytest.raises(EditError, match="above the preamble"):
        doc.insert(0, "a = 1")
    with pytest.raises(EditError, match="cannot move"):
        doc.move(2, 0)
    assert doc.insert(1, "a = 1") == 1


def test_an_external_change_between_calls_is_not_lost(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    doc = NotebookDocument(path)
    assert len(doc.cells()) == 4
    # Another program (an editor, an agent's file tool) changes the file meanwhile.
    path.write_text(path.read_text().replace("x = 1", "x = 5") + "\n# %% extra\nq = 0\n")
    doc.set_source("double", "y = x * 4\ny")
    text = path.read_text()
    assert "x = 5" in text and "# %% extra\nq = 0\n" in text and "y = x * 4" in text
    assert [c.title for c in doc.cells()] == ["load", "double", "", "show", "extra"]


# -- anchors --------------------------------------------------------------------


def test_cells_are_addressed_by_index_or_unique_anchor(tmp_path: Path) -> None:
    doc = NotebookDocument(write(tmp_path, CHAIN))
    assert doc.index(1) == 1
    assert doc.index("3") == 3  # a string of digits is an index
    assert doc.index('print("y is"') == 3
    assert doc.index("Some prose") == 2  # markdown text, as shown (uncommented)
    assert doc.index("# %% show") == 3  # file text works too
    assert doc.cell("double").source == "y = x * 2\ny"


def test_an_ambiguous_anchor_lists_the_candidates(tmp_path: Path) -> None:
    doc = NotebookDocument(write(tmp_path, CHAIN))
    with pytest.raises(AmbiguousAnchor) as caught:
        doc.cell("y")
    assert caught.value.candidates == (1, 2, 3)
    message = str(caught.value)
    assert "matches 3 cells" in message and '1 "double"' in message and '3 "show"' in message
    assert "longer anchor" in message


def test_a_missing_anchor_or_index_says_what_exists(tmp_path: Path) -> None:
    doc = NotebookDocument(write(tmp_path, CHAIN))
    with pytest.raises(NoSuchCell, match=r"no cell contains 'plot'.*0 \"load\""):
        doc.cell("plot")
    with pytest.raises(NoSuchCell, match="4 cells, 0-based indexes 0–3"):
        doc.cell(4)
    with pytest.raises(CellAddressError):
        doc.set_source(-1, "x")


def test_an_exact_title_wins_among_several_matches(tmp_path: Path) -> None:
    doc = NotebookDocument(write(tmp_path, "# %% load\ndata = 1\n\n# %% b\nreload = data\n"))
    assert doc.index("load") == 0


# -- kernels ------------------------------------------------------------------


@pytest.mark.kernel
def test_run_stale_then_read_outputs(tmp_path: Path, sync_notebooks: list[Notebook]) -> None:
    nb = open_sync(sync_notebooks, write(tmp_path, CHAIN))
    summary = nb.run("stale")
    assert summary.ok and summary.planned == [0, 1, 3]
    cells = nb.cells()
    assert [c.status for c in cells] == ["fresh"] * 4
    assert cells[1].short_output == "2" and cells[3].short_output == "y is 2"
    assert [c.loaded for c in cells] == [True, True, False, True]
    assert nb.outputs("show") == [{"output_type": "stream", "name": "stdout", "text": "y is 2\n"}]
    assert nb.output_text("double") == "2"

    nb.set_source("load", "x = 21")
    assert [c.status for c in nb.cells()] == ["edited", "upstream", "fresh", "upstream"]
    again = nb.run()  # stale is the default mode
    assert again.planned == [0, 1, 3]
    assert nb.cell("show").short_output == "y is 42"
    assert nb.run("stale").planned == []


@pytest.mark.kernel
def test_an_error_is_a_status_with_a_readable_summary(
    tmp_path: Path, sync_notebooks: list[Notebook]
) -> None:
    nb = open_sync(sync_notebooks, write(tmp_path, "# %% a\nx = 1 / 0\n\n# %% b\ny = x\n"))
    summary = nb.run("all")
    assert not summary.ok and summary.skipped == [1]
    assert nb.cell(0).status == "error"
    assert nb.cell(0).short_output == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in nb.output_text(0) and "\x1b[" not in nb.output_text(0)


@pytest.mark.kernel
def test_interrupt_a_sleeping_cell_from_another_thread(
    tmp_path: Path, sync_notebooks: list[Notebook]
) -> None:
    path = write(
        tmp_path, "# %% a\nx = 1\n\n# %% nap\nimport time\ntime.sleep(60)\n\n# %% c\ny = x\n"
    )
    nb = open_sync(sync_notebooks, path)
    nb.run("cell", ["x = 1"])  # the kernel is up before the timer starts
    timer = threading.Timer(1.0, nb.interrupt)
    timer.start()
    started = time.monotonic()
    summary = nb.run("stale")
    timer.join()
    assert time.monotonic() - started < 30
    assert summary.stopped_because == "cell 1 was interrupted"
    assert summary.skipped == [2]
    assert nb.cell("nap").status == "error"


class CellStarts(RunListener):
    def __init__(self) -> None:
        self.started: asyncio.Queue[int] = asyncio.Queue()

    def cell_started(self, index: int, run: int, position: int, total: int) -> None:
        self.started.put_nowait(index)


@pytest.mark.kernel
async def test_async_interrupt_and_restart(tmp_path: Path) -> None:
    path = write(
        tmp_path, "# %% a\nx = 1\n\n# %% nap\nimport time\ntime.sleep(60)\n\n# %% c\ny = x\n"
    )
    listener = CellStarts()
    async with AsyncNotebook.open(path, listener=listener) as nb:
        run = asyncio.create_task(nb.run("all"))
        assert await asyncio.wait_for(listener.started.get(), 60) == 0
        assert await asyncio.wait_for(listener.started.get(), 60) == 1
        await asyncio.sleep(0.5)
        assert nb.busy
        await nb.interrupt()
        summary = await asyncio.wait_for(run, 30)
        assert summary.stopped_because == "cell 1 was interrupted"
        assert nb.cell("x = 1").loaded

        await nb.restart()
        assert [c.loaded for c in nb.cells()] == [False, False, False]
        # x is no longer in the kernel: running c first re-runs its upstream cell a.
        summary = await nb.run("cell", ["y = x"])
        assert summary.ok and [o.index for o in summary.outcomes] == [0, 2]
    assert not nb.kernel_started


@pytest.mark.kernel
def test_a_run_timeout_interrupts_the_cell(tmp_path: Path, sync_notebooks: list[Notebook]) -> None:
    nb = open_sync(sync_notebooks, write(tmp_path, "# %% nap\nimport time\ntime.sleep(60)\n"))
    summary = nb.run("all", timeout=2)
    statuses: Sequence[str] = [o.record.status for o in summary.outcomes]
    assert statuses == ["interrupted"]
    assert "timeout" in nb.output_text(0)


def test_rich_outputs_render_as_text_with_a_note_for_images() -> None:
    from sessions.api.views import outputs_text, summarize_outputs

    outputs: list[Output] = [
        {"output_type": "stream", "name": "stdout", "text": "10%\n"},
        {
            "output_type": "display_data",
            "data": {"text/plain": "<Figure size 640x480>", "image/png": "iVBORw0KGgo="},
            "metadata": {},
        },
        {"output_type": "display_data", "data": {"image/svg+xml": "<svg/>"}, "metadata": {}},
        {
            "output_type": "error",
            "ename": "KeyError",
            "evalue": "'a'",
            "traceback": ["\x1b[0;31mKeyError\x1b[0m: 'a'"],
        },
    ]
    assert outputs_text(outputs) == (
        "10%\n<Figure size 640x480>\n[image/png image, not shown as text]\n"
        "[image/svg+xml image, not shown as text]\nKeyError: 'a'"
    )
    assert "iVBOR" not in outputs_text(outputs)
    assert summarize_outputs(outputs) == "KeyError: 'a'"
    assert summarize_outputs(outputs[:3]) == "<Figure size 640x480>"
    long = [{"output_type": "stream", "name": "stdout", "text": "x" * 1000}]
    cut = outputs_text(long, limit=300)
    assert len(cut) < 400 and "characters cut" in cut


def test_markdown_cells_are_edited_as_shown(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN)
    doc = NotebookDocument(path)
    doc.set_source("Some prose", "New *prose*.\n\nTwo paragraphs.")
    assert "# %% [markdown]\n# New *prose*.\n#\n# Two paragraphs.\n\n# %% show" in path.read_text()
    assert doc.cell(2).source == "New *prose*.\n\nTwo paragraphs."
