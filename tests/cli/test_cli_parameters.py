"""Parameters from the terminal on real kernels: ``sessions run -p`` injects
values after the cell tagged ``parameters`` (papermill's convention), the
sidecar records them, a change re-runs exactly what depends on them, they
stay in effect in a new kernel, and bad values get a clear error."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import nbformat

from sessions.cache.sidecar import sidecar_path
from tests.support.cli import cli, cli_env

NOTEBOOK = """\
# %% tags=["parameters"]
n = 3
name = "world"

# %% Square
square = n * n

# %% Greet
print(f"hello {name}: {square}")

# %% Other
print("other")
"""


def run_json(path: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = cli("run", str(path), "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def greeting(payload: dict[str, Any]) -> str:
    (cell,) = [c for c in payload["cells"] if c["index"] == 2]
    return "".join(o.get("text", "") for o in cell["outputs"])


def test_parameters_run_record_and_stay_in_effect(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    assert greeting(run_json(path, env)) == "hello world: 9\n"
    status = cli("status", str(path), env=env)
    assert "parameters: the defaults of the cell (cell 0, tagged parameters)" in status.stdout

    changed = run_json(path, env, "--stale", "-p", "n", "10", "-p", "name", '"x"')
    assert [c["index"] for c in changed["cells"]] == [
        0,
        1,
        2,
    ]  # not "Other": it does not depend on them
    assert greeting(changed) == "hello x: 100\n"
    assert changed["parameters"] == {"n": "10", "name": "'x'"}
    sidecar = tomllib.loads(sidecar_path(path).read_text())
    (parameters_record,) = [c for c in sidecar["cells"] if c["index"] == 0]
    assert parameters_record["parameters"] == {"n": "10", "name": "'x'"}
    assert path.read_text() == NOTEBOOK  # the file is not touched

    status = json.loads(cli("status", str(path), "--json", env=env).stdout)
    assert status["summary"]["statuses"] == {"fresh": 4}
    assert status["parameters"] == {"cell": 0, "values": {"n": "10", "name": "'x'"}}
    again = cli("run", str(path), "--stale", env=env)
    assert "nothing to run: every cell is fresh" in again.stdout

    # A new kernel runs the parameters cell again with the parameters in effect.
    path.write_text(NOTEBOOK.replace('print(f"hello', 'print(f"hi'))
    rerun = run_json(path, env, "--stale")
    assert "".join(o.get("text", "") for o in rerun["cells"][-1]["outputs"]) == "hi x: 100\n"

    cleared = run_json(path, env, "--stale", "--clear-params")
    assert [c["index"] for c in cleared["cells"]] == [0, 1, 2]
    assert greeting(cleared) == "hi world: 9\n"

    params = tmp_path / "params.yaml"
    params.write_text("n: 4\nname: file\n")
    from_file = run_json(path, env, "--stale", "--params-file", str(params))
    assert greeting(from_file) == "hi file: 16\n"


def test_bad_parameters_say_how_to_write_them(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    bad = cli("run", str(path), "-p", "name", "x", env=env)
    assert bad.returncode == 2
    assert "parameter name: 'x' is not a Python literal" in bad.stderr
    assert "-p name '\"x\"'" in bad.stderr
    untagged = tmp_path / "plain.py"
    untagged.write_text("# %%\nn = 1\n")
    missing = cli("run", str(untagged), "-p", "n", "2", env=env)
    assert missing.returncode == 2 and 'tags=["parameters"]' in missing.stderr
    assert not sidecar_path(untagged).exists()  # nothing ran
    unknown = cli("run", str(path), "-p", "m", "2", env=env)
    assert unknown.returncode == 0
    assert (
        "parameter m is not set in the parameters cell (cell 0); it is injected anyway"
        in unknown.stderr
    )


def test_a_papermill_notebook_runs_unchanged(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("alpha = 0.1\nratio = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('result', alpha * ratio)"),
    ]
    source = tmp_path / "paper.ipynb"
    nbformat.write(notebook, source)
    imported = cli("import", str(source), env=env)
    assert imported.returncode == 0, imported.stderr
    path = tmp_path / "paper.py"
    assert '# %% tags=["parameters"]' in path.read_text()
    payload = run_json(path, env, "-p", "alpha", "0.5")
    assert payload["cells"][-1]["outputs"][0]["text"] == "result 1.0\n"


def test_the_example_report_runs_with_parameters_and_exports(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    example = Path(__file__).resolve().parents[2] / "examples" / "report.py"
    path = tmp_path / "report.py"
    path.write_text(example.read_text())

    def summary(payload: dict[str, Any]) -> str:
        (cell,) = [c for c in payload["cells"] if c["index"] == 3]
        return "".join(o.get("text", "") for o in cell["outputs"])

    first = run_json(path, env)
    assert first["ok"] and "Bergen: 7 days" in summary(first)
    changed = run_json(path, env, "--stale", "-p", "city", '"Oslo"', "-p", "days", "14")
    assert [c["index"] for c in changed["cells"]] == [1, 2, 3, 4]
    assert "Oslo: 14 days" in summary(changed)
    exported = cli("export", str(path), "--to", "html", "--only-fresh", env=env)
    assert exported.returncode == 0, exported.stderr
    html = (tmp_path / "report.html").read_text()
    assert "Oslo: 14 days" in html and "<table>" in html
