"""``sessions status`` and ``sessions check`` through the real CLI (a subprocess), as
documented in docs/cli.md: the table, the ``--json`` shape, exit codes, bad input
and a corrupt sidecar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, plain_env

NOTEBOOK = '''\
"""Preamble."""
import math

# %% [markdown]
# # Numbers

# %% Load
RAW = [1, 2, 3]

# %% Total
total = sum(RAW)
print(total)

# %% Root
root = math.sqrt(total)
root
'''

CELL_KEYS = {
    "index",
    "kind",
    "title",
    "name",
    "line",
    "status",
    "reason",
    "causes",
    "defines",
    "uses",
    "mutates",
    "run",
    "execution_count",
    "duration",
}
TOP_KEYS = {"notebook", "cells", "diagnostics", "problems", "summary", "kernel", "parameters"}
DIAGNOSTIC_KEYS = {"code", "severity", "message", "cell", "range"}


def status_json(path: Path) -> dict[str, Any]:
    result = cli("status", path.name, "--json", cwd=path.parent, env=plain_env())
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "tally.py"
    path.write_text(NOTEBOOK)
    return path


@pytest.fixture
def ran(notebook: Path) -> Path:
    """The notebook after a real ``sessions run``."""
    result = cli("run", notebook.name, cwd=notebook.parent, env=plain_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return notebook


def test_json_shape_before_any_run(notebook: Path) -> None:
    payload = status_json(notebook)
    assert set(payload) == TOP_KEYS
    assert payload["notebook"] == "tally.py"
    assert payload["problems"] == []
    assert payload["kernel"] == {"python": sys.executable, "reason": "the server's own interpreter"}
    cells = payload["cells"]
    assert [c["index"] for c in cells] == [0, 1, 2, 3, 4]
    assert all(set(c) == CELL_KEYS for c in cells)
    assert [c["kind"] for c in cells] == ["code", "markdown", "code", "code", "code"]
    assert [c["title"] for c in cells] == ["", "", "Load", "Total", "Root"]
    assert [c["line"] for c in cells] == [0, 3, 6, 9, 13]
    assert [c["status"] for c in cells] == [
        "never-run",
        "fresh",
        "never-run",
        "never-run",
        "never-run",
    ]
    assert cells[3]["defines"] == ["total"]
    assert cells[3]["uses"] == ["RAW"]  # builtins (sum, print) are not uses
    assert cells[4]["uses"] == ["math", "total"]
    assert all(c["run"] is None and c["duration"] is None for c in cells)
    assert payload["summary"] == {"cells": 5, "statuses": {"never-run": 4, "fresh": 1}}


def test_json_statuses_after_a_run_and_after_an_edit(ran: Path) -> None:
    after_run = status_json(ran)
    assert [c["status"] for c in after_run["cells"]] == ["fresh"] * 5
    code = [c for c in after_run["cells"] if c["kind"] == "code"]
    runs = [c["run"] for c in code]
    assert all(isinstance(r, int) for r in runs) and runs == sorted(runs) and len(set(runs)) == 4
    assert all(c["execution_count"] is not None and c["duration"] >= 0 for c in code)
    assert after_run["summary"]["statuses"] == {"fresh": 5}

    ran.write_text(NOTEBOOK.replace("RAW = [1, 2, 3]", "RAW = [1, 2, 3, 4]"))
    after_edit = status_json(ran)
    cells = after_edit["cells"]
    assert [c["status"] for c in cells] == ["fresh", "fresh", "edited", "upstream", "upstream"]
    assert cells[3]["causes"] == [2] and cells[4]["causes"] == [2]
    assert "cell 2" in cells[3]["reason"]
    assert [c["run"] for c in cells] == [c["run"] for c in after_run["cells"]]  # outputs kept
    assert after_edit["summary"]["statuses"] == {"fresh": 2, "edited": 1, "upstream": 2}


def test_kernel_object_names_the_interpreter_and_why(notebook: Path) -> None:
    (notebook.parent / "pyproject.toml").write_text(
        f'[tool.sessions]\npython = "{sys.executable}"\n'
    )
    kernel = status_json(notebook)["kernel"]
    assert kernel["python"] == sys.executable
    assert kernel["reason"] == f"[tool.sessions] python in {notebook.parent / 'pyproject.toml'}"


def test_table(ran: Path) -> None:
    ran.write_text(NOTEBOOK.replace("RAW = [1, 2, 3]", "RAW = [1, 2, 3, 4]"))
    result = cli("status", ran.name, cwd=ran.parent, env=plain_env())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "cell", "status", "defines", "uses"]
    rows = {line.split()[0]: line for line in lines[1:6]}
    assert list(rows) == ["0", "1", "2", "3", "4"]
    assert "[md] # Numbers" in rows["1"] and "✓ fresh" in rows["1"]
    assert "Load" in rows["2"] and "● edited" in rows["2"] and rows["2"].endswith("RAW")
    assert "Total" in rows["3"] and "● upstream" in rows["3"]
    assert rows["3"].split()[-2:] == ["total", "RAW"]
    assert "● upstream" in rows["4"] and rows["4"].endswith("math, total")
    assert "5 cells, 3 to run (sessions run --stale tally.py)" in result.stdout
    assert f"kernel: {sys.executable} (the server's own interpreter)" in lines
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_table_has_a_mutates_column_only_when_a_cell_mutates(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("# %%\nitems = [3, 1]\n\n# %% Sort\nitems.sort()\n\n# %%\nprint(items)\n")
    lines = cli("status", path.name, cwd=tmp_path, env=plain_env()).stdout.splitlines()
    assert lines[0].split() == ["#", "cell", "status", "defines", "uses", "mutates"]
    assert lines[2].split()[-2:] == ["items", "items"]  # cell 1 uses and mutates `items`


def test_check_exit_codes_and_json(tmp_path: Path) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text("# %% a\nx = 1\n\n# %% b\nprint(x, missing)\n")
    result = cli("check", clean.name, cwd=tmp_path, env=plain_env())
    assert result.returncode == 0, result.stderr  # a warning is not an error
    (line,) = result.stdout.splitlines()
    assert line.startswith("clean.py:5:10: warning[undefined-name] `missing` is not defined")

    broken = tmp_path / "broken.py"
    broken.write_text("# %% a\nx = 1\n\n# %% b\ny = (x\n")
    result = cli("check", broken.name, cwd=tmp_path, env=plain_env())
    assert result.returncode == 1
    assert result.stdout.startswith("broken.py:5:")
    assert "error[syntax-error]" in result.stdout

    result = cli("check", broken.name, "--json", cwd=tmp_path, env=plain_env())
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert set(payload) == {"notebook", "diagnostics", "errors", "hidden"}
    assert payload["notebook"] == "broken.py"
    assert payload["errors"] == 1
    (diagnostic,) = [d for d in payload["diagnostics"] if d["severity"] == "error"]
    assert set(diagnostic) == DIAGNOSTIC_KEYS
    assert diagnostic["code"] == "syntax-error" and diagnostic["cell"] == 1
    assert diagnostic["range"]["start"]["line"] == 4

    result = cli("check", clean.name, "--json", cwd=tmp_path, env=plain_env())
    assert result.returncode == 0
    payload = json.loads(result.stdout)
    assert payload["errors"] == 0
    assert [d["code"] for d in payload["diagnostics"]] == ["undefined-name"]
    assert payload["diagnostics"][0]["range"]["start"] == {"line": 4, "character": 9}


def test_check_lists_hints_only_when_asked(tmp_path: Path) -> None:
    """4,030 ``redefined`` hints on one real 35k-line notebook buried the warnings."""
    path = tmp_path / "redef.py"
    path.write_text("# %%\nx = 1\n\n# %%\nx = 2\n\n# %%\nprint(x, missing)\n")
    default = cli("check", path.name, cwd=tmp_path, env=plain_env())
    assert default.returncode == 0
    assert "redefined" not in default.stdout
    assert "warning[undefined-name]" in default.stdout
    assert "(1 below warning not shown: --severity hint lists them)" in default.stdout
    everything = cli("check", path.name, "--severity", "hint", cwd=tmp_path, env=plain_env())
    assert "hint[redefined]" in everything.stdout and "not shown" not in everything.stdout
    errors_only = json.loads(
        cli(
            "check", path.name, "--severity", "error", "--json", cwd=tmp_path, env=plain_env()
        ).stdout
    )
    assert errors_only["diagnostics"] == [] and errors_only["hidden"] == 2


def test_check_reports_a_run_error_after_a_failed_run(tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text("# %% ok\nx = 1\n\n# %% bad\ny = x\nraise ValueError('no')\n")
    assert cli("run", path.name, cwd=tmp_path, env=plain_env()).returncode == 1
    result = cli("check", path.name, cwd=tmp_path, env=plain_env())
    assert result.returncode == 1
    assert "fails.py:6:1: error[run-error]" in result.stdout
    assert "ValueError" in result.stdout


def binary(path: Path) -> None:
    path.write_bytes(b"# %%\nx = 1\x00\x01\x02\n")


def not_utf8(path: Path) -> None:
    path.write_bytes(b"# %%\nname = '\xff\xfe'\n")


@pytest.mark.parametrize("verb", ["status", "check", "run", "watch"])
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("binary", "binary file (contains NUL bytes)"),
        ("not-utf8", "is not valid UTF-8"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, verb: str, case: str, expected: str
) -> None:
    target = tmp_path / "nb.py"
    if case == "directory":
        target.mkdir()
    elif case == "binary":
        binary(target)
    elif case == "not-utf8":
        not_utf8(target)
    result = cli(verb, target.name, cwd=tmp_path, env=plain_env(), timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sessions: nb.py: ") and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nb.sessions.toml").exists()  # nothing was run or written


def test_usage_error_is_exit_2(tmp_path: Path) -> None:
    result = cli("status", cwd=tmp_path, env=plain_env())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "notebook" in result.stderr


def test_a_corrupt_sidecar_is_reported_and_left_for_the_next_run(ran: Path) -> None:
    """``status`` is read-only: it never renames or rewrites the sidecar (issue 10)."""
    sidecar = ran.with_name("tally.sessions.toml")
    garbage = "this is [not toml\n"
    sidecar.write_text(garbage)
    result = cli("status", ran.name, "--json", cwd=ran.parent, env=plain_env())
    assert result.returncode == 0
    payload = json.loads(result.stdout)
    assert sidecar.read_text() == garbage
    assert not ran.with_name("tally.sessions.toml.bak").exists()
    assert [c["status"] for c in payload["cells"]][2:] == ["never-run"] * 3
    (problem,) = payload["problems"]
    assert "The next run moves it to tally.sessions.toml.bak" in problem
    assert result.stderr.strip() == f"sessions: {problem}"
    assert "Traceback" not in result.stderr

    # a write moves it aside
    assert cli("run", ran.name, cwd=ran.parent, env=plain_env()).returncode == 0
    assert ran.with_name("tally.sessions.toml.bak").read_text() == garbage
    again = cli("status", ran.name, cwd=ran.parent, env=plain_env())
    assert again.returncode == 0 and again.stderr == ""
    assert "○ never-run" not in again.stdout
