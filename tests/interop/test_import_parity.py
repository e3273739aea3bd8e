"""``sessions import`` writes what Jupytext reads back as the same notebook (issues 9 and 11).

Notebooks built here with nbformat (cell magics in other languages, line
magics, raw cells with code in them, notebook metadata of every kind) are
imported; then ``jupytext.reads`` of the written text must give the source
cells and metadata, the text must be valid Python that ``python`` can run
without running a raw or markdown cell, and ``export`` must give the
metadata back. A paired notebook stays paired for ``jupytext --sync`` after
``sessions export --force``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from nbformat import v4

from sessions.analysis.cell_python import cell_python
from sessions.format.notebook import insert_cell, parse, set_source
from sessions.formatting import ruff_command
from sessions.ipynb import from_ipynb, to_ipynb
from tests.support.cli import cli

# Cell metadata that neither Jupytext nor Sessions writes into the .py.
VOLATILE_CELL_METADATA = {"collapsed", "scrolled", "trusted", "execution", "ExecuteTime"}
# What ``jupytext.reads`` adds to the notebook metadata for its own filters.
JUPYTEXT_BOOKKEEPING = {"notebook_metadata_filter", "cell_metadata_filter", "main_language"}

WIDGET_STATE = {
    "application/vnd.jupyter.widget-state+json": {
        "state": {
            "a1b2": {
                "model_module": "@jupyter-widgets/controls",
                "model_name": "IntSliderModel",
                "state": {"value": 3, "max": 10, "description": None},
            }
        },
        "version_major": 2,
        "version_minor": 0,
    }
}
RICH_METADATA: dict[str, Any] = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
    "celltoolbar": "Slideshow",
    "toc": {"base_numbering": 1, "nav_menu": {}, "toc_cell": False, "title_cell": "Contents"},
    "widgets": WIDGET_STATE,
    "vscode": {"interpreter": {"hash": "9f8e7d"}},
    "jupytext": {"formats": "ipynb,py:percent"},
    "harbour_tool": {"version": 2, "stations": ["north", "south"], "note": "ünïcode ✓"},
}


def magic_cells() -> list[Any]:
    return [
        v4.new_markdown_cell("# Tides\n\nCell magics in *other languages*."),
        v4.new_code_cell('%%bash\nfor f in *.csv; do\n  wc -l "$f"\ndone'),
        v4.new_code_cell("%%html\n<b>bold</b>\n\n<i>and more</i>"),
        v4.new_code_cell("%%javascript\nconsole.log('hi');"),
        v4.new_code_cell("%%R -i levels -w 300\nplot(levels)\n# an R comment"),
        v4.new_code_cell("%%sql\nSELECT 1"),
        v4.new_code_cell("%%time\ntotal = sum(range(10))"),
        v4.new_code_cell("%%capture out\nprint('quiet')"),
        v4.new_code_cell("%%writefile helper.py\nprint('written, not run')"),
        v4.new_code_cell("%%bash"),  # an empty cell magic
        v4.new_code_cell("%matplotlib inline\n!pip install numpy\nx = 1"),
        v4.new_code_cell(
            "levels = [1, 2]", metadata={"tags": ["parameters"], "ExecuteTime": {"a": 1}}
        ),
        v4.new_raw_cell(
            "import os\nos.system('touch RAW_RAN')", metadata={"raw_mimetype": "text/x-python"}
        ),
        v4.new_raw_cell("%% looks like a marker once commented"),
        v4.new_markdown_cell(
            "Title cell", metadata={"title": "Notes", "slideshow": {"slide_type": "slide"}}
        ),
    ]


def notebooks() -> dict[str, Any]:
    rich = v4.new_notebook(cells=magic_cells(), metadata=json.loads(json.dumps(RICH_METADATA)))
    plain = v4.new_notebook(
        cells=[v4.new_code_cell("x = 1"), v4.new_raw_cell("raw text")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    frontmatter = v4.new_notebook(
        cells=[
            v4.new_raw_cell("---\ntitle: Quick look\n---"),
            v4.new_code_cell("%%bash\necho hi"),
        ],
        metadata={"kernelspec": RICH_METADATA["kernelspec"]},
    )
    return {"rich": rich, "plain": plain, "frontmatter": frontmatter}


NOTEBOOKS = notebooks()


def imported(name: str) -> str:
    data = json.loads(nbformat.writes(NOTEBOOKS[name]))
    text, _ = from_ipynb(data)
    return text


def comparable_cells(cells: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (
            cell.cell_type,
            cell.source,
            {
                k: v
                for k, v in cell.metadata.items()
                # How Jupytext found the cell written (blank lines, a quoted text).
                if k not in VOLATILE_CELL_METADATA | {"lines_to_next_cell", "cell_marker"}
            },
        )
        for cell in cells
    ]


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_jupytext_reads_back_the_source_cells(name: str) -> None:
    theirs = jupytext.reads(imported(name), fmt="py:percent")
    assert comparable_cells(theirs.cells) == comparable_cells(NOTEBOOKS[name].cells)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_sessions_reads_back_the_source_cells(name: str) -> None:
    notebook = parse(imported(name))
    source = NOTEBOOKS[name].cells
    assert [(c.kind, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in source]


@pytest.mark.parametrize("name", ["rich", "frontmatter"])
def test_jupytext_reads_back_the_notebook_metadata(name: str) -> None:
    theirs = dict(jupytext.reads(imported(name), fmt="py:percent").metadata)
    jupytext_table = dict(theirs.pop("jupytext", {}))
    for key in JUPYTEXT_BOOKKEEPING | {"text_representation"}:
        jupytext_table.pop(key, None)
    if jupytext_table:
        theirs["jupytext"] = jupytext_table
    expected = {k: v for k, v in NOTEBOOKS[name].metadata.items() if k != "language_info"}
    assert theirs == expected


def test_default_metadata_writes_no_header() -> None:
    """The explicit difference: the metadata export writes anyway makes no boilerplate."""
    text = imported("plain")
    assert not text.startswith("# ---")
    assert parse(text).header == ""


def test_the_header_holds_the_metadata_and_is_not_a_cell() -> None:
    text = imported("rich")
    notebook = parse(text)
    assert text.startswith("# ---\n# jupyter:\n")
    assert len(notebook.cells) == len(NOTEBOOKS["rich"].cells)
    assert notebook.metadata()["widgets"] == WIDGET_STATE
    assert notebook.cells[0].start_line == len(notebook.header.splitlines())


def test_language_cells_are_written_as_jupytext_writes_them() -> None:
    text = imported("rich")
    assert '# %% language="bash"\n# for f in *.csv; do\n#   wc -l "$f"\n# done\n' in text
    assert (
        '# %% magic_args="-i levels -w 300" language="R"\n# plot(levels)\n# # an R comment\n'
        in text
    )
    assert "# %%\n# %%time\ntotal = sum(range(10))\n" in text
    assert "# %%\n# %%bash\n" in text  # empty: a language= header would read back with a newline
    assert (
        "# %% [raw] raw_mimetype=\"text/x-python\"\n# import os\n# os.system('touch RAW_RAN')\n"
        in text
    )


def test_imported_text_is_valid_python(tmp_path: Path) -> None:
    text = imported("rich")
    ast.parse(text)
    path = tmp_path / "nb.py"
    path.write_text(text)
    result = subprocess.run(
        [*ruff_command(), "check", "--isolated", "--select", "E9,F63,F7", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_never_runs_raw_or_markdown_cells(tmp_path: Path) -> None:
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("open('MARKDOWN_RAN', 'w')"),
            v4.new_raw_cell("open('RAW_RAN', 'w')"),
            v4.new_raw_cell("%% x\nopen('QUOTED_RAW_RAN', 'w')"),
            v4.new_code_cell("open('CODE_RAN', 'w')"),
        ]
    )
    text, _ = from_ipynb(json.loads(nbformat.writes(nb)))
    (tmp_path / "nb.py").write_text(text)
    subprocess.run([sys.executable, "nb.py"], cwd=tmp_path, check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CODE_RAN", "nb.py"]


def test_import_then_export_keeps_every_notebook_level_key() -> None:
    data = json.loads(nbformat.writes(NOTEBOOKS["rich"]))
    text, sidecar = from_ipynb(data)
    notebook = parse(text)
    exported = to_ipynb(notebook, [None] * len(notebook.cells), language=sidecar.kernel.language)
    metadata = exported["metadata"]
    for key in ("celltoolbar", "toc", "widgets", "vscode", "harbour_tool", "kernelspec"):
        assert metadata[key] == RICH_METADATA[key], key
    assert metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert metadata["language_info"] == {"name": "python", "version": "3.11.7"}
    # The cells too, as Jupyter had them.
    assert [c["source"] for c in exported["cells"]] == [c.source for c in NOTEBOOKS["rich"].cells]


def test_language_cells_run_as_their_cell_magic_and_are_not_python() -> None:
    notebook = parse('# %% language="bash"\n# echo "$HOME"\n#\n# ls\n')
    cell = notebook.cells[0]
    assert cell.code == '%%bash\necho "$HOME"\n\nls'
    assert dict(cell.metadata) == {}
    assert cell_python(cell.code).text is None


def test_editing_a_language_cell_keeps_it_one() -> None:
    text = '# %% Build magic_args="-x" language="bash"\n# echo one\n'
    notebook = set_source(parse(text), 0, "%%bash -x\necho two")
    assert notebook.cells[0].raw == '# %% Build magic_args="-x" language="bash"\n# echo two\n'
    notebook = set_source(notebook, 0, "%%html\n<b>x</b>")
    assert notebook.cells[0].raw == '# %% Build language="html"\n# <b>x</b>\n'
    notebook = set_source(notebook, 0, "print(1)")
    assert notebook.cells[0].raw == "# %% Build\nprint(1)\n"
    added = insert_cell(notebook, 1, "%%javascript\nalert(1)")
    assert added.cells[1].raw == '# %% language="javascript"\n# alert(1)\n'
    assert added.cells[1].source == "%%javascript\nalert(1)"


JUPYTEXT_CLI = [sys.executable, "-m", "jupytext"]
PAIRED = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   toc:
#     base_numbering: 1
# ---

# %% [markdown]
# Paired with an .ipynb

# %%
x = 1

# %% language="bash"
# echo paired
"""


def jupytext_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JUPYTEXT_CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_paired_notebook_stays_paired_after_export(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text(PAIRED)
    synced = jupytext_cli("--sync", "nb.py", cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    paired_text = path.read_text()  # as Jupytext keeps it (it may add its filter)
    env = {**os.environ, "NO_COLOR": "1"}
    exported = cli("export", "nb.py", "--force", cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    metadata = json.loads((tmp_path / "nb.ipynb").read_text())["metadata"]
    assert metadata["jupytext"]["formats"] == "ipynb,py:percent"
    paths = jupytext_cli("--paired-paths", "nb.ipynb", cwd=tmp_path)
    assert paths.stdout.split() == ["nb.py"], paths  # (its exit code is 1 either way)
    again = jupytext_cli("--sync", "nb.ipynb", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "not a paired notebook" not in again.stderr
    assert path.read_text() == paired_text
