""".ipynb export and import with the real nbformat, and the CLI verbs around them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat import v4

from sessions.analysis.snapshot import load_snapshot
from sessions.cache.records import CellRecord, SidecarData
from sessions.cache.sidecar import load_sidecar, save_sidecar, sidecar_path
from sessions.cli import main
from sessions.format.notebook import parse
from sessions.ipynb import IpynbError, from_ipynb, to_ipynb
from tests.support.cli import cli

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def sample_ipynb() -> Any:
    nb = v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.cells = [
        v4.new_markdown_cell("# Trips\n\nA *small* analysis.", metadata={"title": "Intro"}),
        v4.new_code_cell(
            "%matplotlib inline\nimport math\nrows = [1, 2, 3]\nprint(len(rows))",
            execution_count=1,
            outputs=[v4.new_output("stream", name="stdout", text="3\n")],
            metadata={"tags": ["setup"]},
        ),
        v4.new_code_cell(
            "total = sum(rows)\ntotal",
            execution_count=2,
            outputs=[
                v4.new_output(
                    "display_data", data={"image/png": PNG, "text/plain": "<Figure>"}, metadata={}
                ),
                v4.new_output("execute_result", data={"text/plain": "6"}, execution_count=2),
            ],
        ),
        v4.new_code_cell(
            "math.sqrt(-total)",
            execution_count=3,
            outputs=[
                v4.new_output(
                    "error",
                    ename="ValueError",
                    evalue="math domain error",
                    traceback=["Traceback", "ValueError"],
                )
            ],
        ),
        v4.new_raw_cell("raw text, kept as is"),
    ]
    return nb


def write_ipynb(path: Path, nb: Any) -> Path:
    nbformat.write(nb, str(path))
    return path


def outputs_of(nb: Any) -> list[Any]:
    return [cell.get("outputs") for cell in nb.cells]


def test_import_writes_percent_text_and_sidecar(tmp_path: Path) -> None:
    original = sample_ipynb()
    source = write_ipynb(tmp_path / "trips.ipynb", original)
    assert main(["import", str(source), "--ids"]) == 0

    text = (tmp_path / "trips.py").read_text()
    notebook = parse(text)
    assert [c.kind for c in notebook.cells] == ["markdown", "code", "code", "code", "raw"]
    assert notebook.cells[0].title == "Intro"
    assert "# %matplotlib inline\n" in text  # magics commented, as Jupytext writes them
    assert notebook.cells[1].metadata["tags"] == ["setup"]
    assert [c.id for c in notebook.cells] == [c["id"] for c in original.cells]
    assert [c.source for c in notebook.cells] == [c["source"] for c in original.cells]

    loaded = load_sidecar(sidecar_path(tmp_path / "trips.py"), "trips.py")
    assert loaded.problems == []
    records = {r.index: r for r in loaded.data.cells}
    assert sorted(records) == [1, 2, 3]
    assert [records[i].run for i in (1, 2, 3)] == [1, 2, 3]
    # As if run top to bottom: each input is the key its provider's record gave it.
    assert records[2].inputs == {"rows": records[1].provides["rows"]}
    assert records[3].inputs == {
        "math": records[1].provides["math"],
        "total": records[2].provides["total"],
    }
    assert records[3].status == "error"
    assert records[2].outputs[0]["data"]["image/png"] == PNG


def test_import_then_status_shows_cells_that_ran_as_fresh(tmp_path: Path) -> None:
    nb = sample_ipynb()
    # A cell that never ran, and one that ran but uses it: that one cannot be fresh.
    nb.cells.append(v4.new_code_cell("late = 10"))
    nb.cells.append(
        v4.new_code_cell(
            "late + total",
            execution_count=4,
            outputs=[v4.new_output("execute_result", data={"text/plain": "16"}, execution_count=4)],
        )
    )
    write_ipynb(tmp_path / "trips.ipynb", nb)
    imported = cli("import", "trips.ipynb", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr

    status = cli("status", "trips.py", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    cells = {c["index"]: c for c in json.loads(status.stdout)["cells"]}
    assert cells[1]["status"] == "fresh"
    assert cells[2]["status"] == "fresh"
    assert cells[3]["status"] == "error"
    assert cells[5]["status"] == "never-run"
    assert cells[6]["status"] == "upstream"
    assert cells[2]["execution_count"] == 2


def test_round_trip_ipynb_py_ipynb_keeps_sources_and_outputs(tmp_path: Path) -> None:
    original = sample_ipynb()
    write_ipynb(tmp_path / "a.ipynb", original)
    assert main(["import", str(tmp_path / "a.ipynb"), "--ids"]) == 0
    assert (
        main(["export", str(tmp_path / "a.py"), "--to", "ipynb", "-o", str(tmp_path / "b.ipynb")])
        == 0
    )

    back = nbformat.read(str(tmp_path / "b.ipynb"), as_version=4)
    nbformat.validate(back)
    assert [c.cell_type for c in back.cells] == [c.cell_type for c in original.cells]
    assert [c.source for c in back.cells] == [c.source for c in original.cells]
    assert [c.id for c in back.cells] == [c.id for c in original.cells]
    assert outputs_of(back) == outputs_of(original)
    assert [c.get("execution_count") for c in back.cells] == [
        c.get("execution_count") for c in original.cells
    ]
    assert back.cells[0].metadata["title"] == "Intro"
    assert back.cells[1].metadata["tags"] == ["setup"]


def test_import_leaves_jupyter_ids_out_by_default(tmp_path: Path) -> None:
    write_ipynb(tmp_path / "a.ipynb", sample_ipynb())
    assert main(["import", str(tmp_path / "a.ipynb")]) == 0
    text = (tmp_path / "a.py").read_text()
    assert "id=" not in text
    assert all(c.id is None for c in parse(text).cells)


def test_export_validates_and_contains_cached_outputs(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text(
        '"""Preamble."""\nimport json\n\n'
        '# %% Load id="load"\ndata = json.loads("[1, 2]")\nprint(data)\n\n'
        "# %% [markdown]\n# Some **notes**\n\n"
        "# %%\n# %time  n = len(data)\n"
    )
    notebook = parse(path.read_text())
    records = [
        CellRecord(hash=notebook.cells[0].hash, index=0, run=1, execution_count=1),
        CellRecord(
            hash=notebook.cells[1].hash,
            index=1,
            run=2,
            execution_count=2,
            inputs={"json": "k1"},
            outputs=[{"output_type": "stream", "name": "stdout", "text": "[1, 2]\n"}],
        ),
    ]
    save_sidecar(sidecar_path(path), SidecarData(notebook="nb.py", run_counter=2, cells=records))

    assert main(["export", str(path)]) == 0
    exported = nbformat.read(str(tmp_path / "nb.ipynb"), as_version=4)
    nbformat.validate(exported)
    assert exported.metadata.kernelspec.name == "python3"
    assert [c.cell_type for c in exported.cells] == ["code", "code", "markdown", "code"]
    load = exported.cells[1]
    assert load.id == "load"
    assert load.metadata == {"title": "Load"}
    assert load.execution_count == 2
    assert load.outputs == [{"output_type": "stream", "name": "stdout", "text": "[1, 2]\n"}]
    assert exported.cells[2].source == "Some **notes**"
    assert exported.cells[3].source == "%time  n = len(data)"
    assert exported.cells[3].outputs == []
    assert len({c.id for c in exported.cells}) == 4


def test_export_is_deterministic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text("# %%\nx = 1\n\n# %%\ny = x\n")
    assert main(["export", str(path)]) == 0
    first = (tmp_path / "nb.ipynb").read_text()
    assert main(["export", str(path)]) == 2
    assert main(["export", str(path), "--force"]) == 0
    assert (tmp_path / "nb.ipynb").read_text() == first


def test_import_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    write_ipynb(tmp_path / "a.ipynb", sample_ipynb())
    (tmp_path / "a.py").write_text("# %%\nkeep = 1\n")
    assert main(["import", str(tmp_path / "a.ipynb")]) == 2
    assert (tmp_path / "a.py").read_text() == "# %%\nkeep = 1\n"
    assert main(["import", str(tmp_path / "a.ipynb"), "--force"]) == 0
    assert "keep" not in (tmp_path / "a.py").read_text()


def test_import_of_a_bad_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert main(["import", str(tmp_path / "bad.ipynb")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.py").exists()


def test_py_ipynb_py_round_trip_is_exact_without_ids() -> None:
    text = (
        '"""Preamble."""\nimport math\n\n'
        '# %% Setup tags=["a"]\n# %matplotlib inline\nx = math.pi\n\n'
        "# %% Notes [markdown]\n# Text\n#\n# more\n\n"
        "# %% [raw]\n# raw\n\n"
        "# %%\ny = x\n"
    )
    notebook = parse(text)
    data = to_ipynb(notebook, [None] * len(notebook.cells))
    back, sidecar = from_ipynb(json.loads(json.dumps(data)), ids=False)
    assert back == text
    assert sidecar.cells == []


def test_a_cell_the_percent_format_cannot_hold_is_refused() -> None:
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell("x = 1\n# %% looks like a marker\ny = 2")]
    with pytest.raises(IpynbError, match="cell 0"):
        from_ipynb(json.loads(nbformat.writes(nb)))


def test_export_of_a_snapshot_uses_matched_records(tmp_path: Path) -> None:
    """Records follow their cells by identity, so outputs stay on the right cell after a move."""
    path = tmp_path / "nb.py"
    path.write_text('# %% id="a"\na = 1\n\n# %% id="b"\nb = 2\n')
    notebook = parse(path.read_text())
    record = CellRecord(
        hash=notebook.cells[1].hash,
        index=1,
        run=1,
        execution_count=1,
        id="b",
        outputs=[{"output_type": "stream", "name": "stdout", "text": "b\n"}],
    )
    save_sidecar(sidecar_path(path), SidecarData(notebook="nb.py", run_counter=1, cells=[record]))
    path.write_text('# %% id="b"\nb = 2\n\n# %% id="a"\na = 1\n')
    snapshot = load_snapshot(path)
    data = to_ipynb(snapshot.notebook, snapshot.records)
    assert data["cells"][0]["outputs"][0]["text"] == "b\n"
    assert data["cells"][1]["outputs"] == []


def write_ipynb_with_one_output(path: Path) -> None:
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_code_cell("x = 1", execution_count=1),  # ran, printed nothing
        v4.new_code_cell(
            "print(x)",
            execution_count=2,
            outputs=[v4.new_output("stream", name="stdout", text="1\n")],
        ),
    ]
    nbformat.write(nb, path)


def test_import_onto_a_directory_names_it_and_says_what_to_pass(tmp_path: Path) -> None:
    """QA: ``sessions import`` errors name the file the user asked for.

    Found as a user: ``sessions import nb.ipynb -o somedir --force`` said
    ``.somedir.20683.5a1a55a7.tmp: cannot be written (Is a directory)``, naming an
    internal temporary file."""
    write_ipynb_with_one_output(tmp_path / "nb.ipynb")
    (tmp_path / "out").mkdir()
    result = cli("import", "nb.ipynb", "-o", "out", "--force", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "sessions: out: is a directory; pass a .py file name with -o\n"
    assert list((tmp_path / "out").iterdir()) == []


def test_import_into_a_missing_folder_names_the_target_not_a_temp_file(tmp_path: Path) -> None:
    """QA: ``sessions import`` errors name the file the user asked for, not an
    internal temporary file (``-o somedir`` had named ``.somedir.20683.5a1a55a7.tmp``)."""
    write_ipynb_with_one_output(tmp_path / "nb.ipynb")
    result = cli("import", "nb.ipynb", "-o", "nowhere/nb.py", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("sessions: nowhere/nb.py: cannot be written (")
    assert ".tmp" not in result.stderr
    assert f"check that {tmp_path / 'nowhere'} exists and is writable" in result.stderr


def test_import_counts_only_cells_that_have_outputs(tmp_path: Path) -> None:
    """QA: found as a user, the "N cells with outputs" that ``sessions import``
    reports included cells that only had an execution count."""
    write_ipynb_with_one_output(tmp_path / "nb.ipynb")
    result = cli("import", "nb.ipynb", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote nb.py and nb.sessions.toml (1 cells with outputs)\n"
