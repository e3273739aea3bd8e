"""A Jupytext YAML header through the CLI: ``import --help``, ``status`` tables and
JSON, and a real kernel running ``language=`` cells as their cell magic."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.support.cli import cli, plain_env

HEADER = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

"""
BODY = """\
# %% [markdown]
# Shell and Python

# %% language="bash"
# echo "from bash: $((40 + 2))"

# %% Python
x = 1
print("x is", x)
"""


def test_import_help_shows_the_percent_signs(tmp_path: Path) -> None:
    result = cli("import", "--help", cwd=tmp_path, env=plain_env())
    assert result.returncode == 0
    assert "into the # %% headers" in " ".join(result.stdout.split())


def test_status_counts_cells_and_lines_below_the_header(tmp_path: Path) -> None:
    (tmp_path / "nb.py").write_text(HEADER + BODY)
    result = cli("status", "--json", "nb.py", cwd=tmp_path, env=plain_env())
    assert result.returncode == 0, result.stderr
    cells = json.loads(result.stdout)["cells"]
    assert [(c["index"], c["kind"], c["line"]) for c in cells] == [
        (0, "markdown", 10),
        (1, "code", 13),
        (2, "code", 16),
    ]


def test_export_of_a_bad_header_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "nb.py").write_text("# ---\n# jupyter:\n#   kernelspec: [\n# ---\n\n# %%\nx = 1\n")
    result = cli("export", "nb.py", cwd=tmp_path, env=plain_env())
    assert result.returncode == 2
    assert "nb.py: line 3: the YAML header does not parse" in result.stderr
    assert not (tmp_path / "nb.ipynb").exists()


@pytest.mark.kernel
def test_language_cells_run_as_cell_magics_and_a_header_keeps_outputs(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text(BODY)
    result = cli("run", "nb.py", cwd=tmp_path, env=plain_env(), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    sidecar = tomllib.loads((tmp_path / "nb.sessions.toml").read_text())
    texts = {c["index"]: "".join(o.get("text", "") for o in c["outputs"]) for c in sidecar["cells"]}
    assert texts[1] == "from bash: 42\n"
    assert texts[2] == "x is 1\n"
    # Pairing with Jupytext puts a header on top: same indexes, outputs still fresh.
    path.write_text(HEADER + BODY)
    status = cli("status", "--json", "nb.py", cwd=tmp_path, env=plain_env())
    assert status.returncode == 0, status.stderr
    cells = json.loads(status.stdout)["cells"]
    assert [c["status"] for c in cells[1:]] == ["fresh", "fresh"]
