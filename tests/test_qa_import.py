"""QA: ``sessions import`` errors name the file the user asked for.

Found as a user: ``sessions import nb.ipynb -o somedir --force`` said
``.somedir.20683.5a1a55a7.tmp: cannot be written (Is a directory)``, naming an
internal temporary file; and the "N cells with outputs" count included cells
that only had an execution count.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat import v4


def sessions(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessions.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_notebook(path: Path) -> None:
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
    write_notebook(tmp_path / "nb.ipynb")
    (tmp_path / "out").mkdir()
    result = sessions("import", "nb.ipynb", "-o", "out", "--force", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "sessions: out: is a directory; pass a .py file name with -o\n"
    assert list((tmp_path / "out").iterdir()) == []


def test_import_into_a_missing_folder_names_the_target_not_a_temp_file(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb")
    result = sessions("import", "nb.ipynb", "-o", "nowhere/nb.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("sessions: nowhere/nb.py: cannot be written (")
    assert ".tmp" not in result.stderr
    assert f"check that {tmp_path / 'nowhere'} exists and is writable" in result.stderr


def test_import_counts_only_cells_that_have_outputs(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb")
    result = sessions("import", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote nb.py and nb.sessions.toml (1 cells with outputs)\n"
