"""``sessions graph`` through the real CLI (a subprocess), as docs/cli.md documents it:
the three formats (parsed by Mermaid's own parser and pydot), statuses after a
real run and an edit, exit codes, bad input, and that it writes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, plain_env
from tests.support.diagrams import dot_unquoted, mermaid_errors, parse_dot

NOTEBOOK = '''\
"""Trips."""
import random

# %% Load "trips" [csv] <raw>
trips = [3.1, 14.2, 7.4]
random.seed(1)

# %% Clean
trips.append(round(random.random(), 2))

# %% Total
total = sum(trips)
print(total)
'''


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "trips.py"
    path.write_text(NOTEBOOK)
    return path


def graph(path: Path, *args: str) -> str:
    result = cli("graph", path.name, *args, cwd=path.parent, env=plain_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def graph_json(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(graph(path, "--format", "json"))
    return payload


def test_json_before_any_run(notebook: Path) -> None:
    payload = graph_json(notebook)
    assert payload["notebook"] == "trips.py"
    assert [(n["cell"], n["label"], n["status"]) for n in payload["nodes"]] == [
        (0, '"""Trips."""', "never-run"),
        (1, 'Load "trips" [csv] <raw>', "never-run"),
        (2, "Clean", "never-run"),
        (3, "Total", "never-run"),
    ]
    flows = {(e["from"], e["to"], e["kind"]): e["labels"] for e in payload["edges"]}
    assert flows == {
        (0, 1, "value"): ["random"],
        (0, 2, "value"): ["random"],
        (1, 2, "mutation"): ["trips"],
        (1, 2, "state"): ["the `random` module's state"],
        (2, 3, "value"): ["trips"],
    }
    assert payload["cycles"] == [] and payload["problems"] == []


def test_mermaid_is_the_default_and_parses(notebook: Path, tmp_path: Path) -> None:
    text = graph(notebook)
    assert text.startswith("flowchart TB\n")
    assert 'c1 ==>|"mutates trips"| c2' in text
    assert mermaid_errors([text], tmp_path) == []


def test_dot_parses_and_keeps_the_title(notebook: Path) -> None:
    dot = parse_dot(graph(notebook, "-f", "dot"))
    [load] = [node for node in dot.get_nodes() if node.get_name() == "c1"]
    assert dot_unquoted(load.get("label")) == '1 · Load "trips" [csv] <raw>\n○ never run'
    styles = {(e.get_source(), e.get_destination(), e.get("style")) for e in dot.get_edges()}
    assert ("c1", "c2", "bold") in styles and ("c1", "c2", "dashed") in styles


def test_statuses_after_a_run_and_an_edit(notebook: Path) -> None:
    ran = cli("run", notebook.name, cwd=notebook.parent, env=plain_env())
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert {n["status"] for n in graph_json(notebook)["nodes"]} == {"fresh"}
    notebook.write_text(NOTEBOOK.replace("7.4]", "7.5]"))
    statuses = [(n["cell"], n["status"]) for n in graph_json(notebook)["nodes"]]
    assert statuses == [(0, "fresh"), (1, "edited"), (2, "upstream"), (3, "upstream")]
    assert "class c2,c3 upstream" in graph(notebook)


def test_a_cycle_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text("# %% A\ny = x + 1\n\n# %% B\nx = y * 2\n")
    payload = graph_json(path)
    assert payload["cycles"] == [[0, 1]]
    assert [(e["from"], e["to"], e["backward"], e["cycle"]) for e in payload["edges"]] == [
        (1, 0, True, True),
        (0, 1, False, True),
    ]


def snapshot_of_folder(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        path.name: (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def test_it_writes_nothing_even_with_a_corrupt_sidecar(notebook: Path) -> None:
    sidecar = notebook.with_name("trips.sessions.toml")
    sidecar.write_text("this is [not toml\n")
    before = snapshot_of_folder(notebook.parent)
    result = cli("graph", notebook.name, "-f", "json", cwd=notebook.parent, env=plain_env())
    assert result.returncode == 0
    assert snapshot_of_folder(notebook.parent) == before
    (problem,) = json.loads(result.stdout)["problems"]
    assert result.stderr.strip() == f"sessions: {problem}"


@pytest.mark.parametrize(
    ("case", "expected"),
    [("missing", "no such file"), ("directory", "is a directory"), ("binary", "binary file")],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, case: str, expected: str
) -> None:
    target = tmp_path / "nb.py"
    if case == "directory":
        target.mkdir()
    elif case == "binary":
        target.write_bytes(b"# %%\nx = 1\x00\n")
    result = cli("graph", target.name, cwd=tmp_path, env=plain_env(), timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("sessions: nb.py: ") and expected in line
    assert sorted(os.listdir(tmp_path)) == (["nb.py"] if case != "missing" else [])


def test_an_unknown_format_is_a_usage_error(notebook: Path) -> None:
    result = cli("graph", notebook.name, "--format", "svg", cwd=notebook.parent, env=plain_env())
    assert result.returncode == 2
    assert "invalid choice: 'svg'" in result.stderr
