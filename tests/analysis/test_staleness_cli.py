"""Issue 10 end to end, with real kernels through the real CLI: ``run --stale``
converges, ``fmt`` and comments change no status, a shared kernel remembers
what it holds, autorun does not send a cell that cannot parse, and a read-only
command leaves a broken sidecar where it is."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Watch, cli, cli_env, kernel_processes

pytestmark = pytest.mark.kernel

REPRO = "# %%\na = 1\n\n# %%\nb = a + 1\nprint(b)\n\n# %%\nc = a * 10\nprint(c)\n"


def statuses(path: Path, env: dict[str, str]) -> list[str]:
    result = cli("status", path.name, "--json", cwd=path.parent, env=env)
    assert result.returncode == 0, result.stderr
    return [cell["status"] for cell in json.loads(result.stdout)["cells"]]


def ran(result_stdout: str) -> int:
    found = re.search(r"ran (\d+) cell", result_stdout)
    return int(found.group(1)) if found else 0


def test_run_stale_converges_and_then_has_nothing_to_do(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(REPRO)
    assert cli("run", path.name, cwd=tmp_path, env=env).returncode == 0
    path.write_text(REPRO.replace("a * 10", "a * 20"))
    assert statuses(path, env) == ["fresh", "fresh", "edited"]
    first = cli("run", "--stale", path.name, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert statuses(path, env) == ["fresh"] * 3
    second = cli("run", "--stale", path.name, cwd=tmp_path, env=env)
    assert "nothing to run: every cell is fresh" in second.stdout
    assert statuses(path, env) == ["fresh"] * 3
    assert kernel_processes(tmp_path / "rt") == []


def test_fmt_and_comments_leave_every_status_as_it_was(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(
        "# %%\nimport math\nvalues=[1,2,3]\n\n# %%\ntotal=sum( v*v for v in values )\n"
        "print(total)\n\n# %%\nroot = math.sqrt(total)  \nprint(root)\n"
    )
    assert cli("run", path.name, cwd=tmp_path, env=env).returncode == 0
    assert statuses(path, env) == ["fresh"] * 3
    formatted = cli("fmt", path.name, cwd=tmp_path, env=env)
    assert formatted.returncode == 0, formatted.stderr
    assert "total = sum(v * v for v in values)" in path.read_text()
    assert statuses(path, env) == ["fresh"] * 3
    path.write_text(path.read_text().replace("print(total)", "# the sum of squares\nprint(total)"))
    assert statuses(path, env) == ["fresh"] * 3


def test_a_shared_kernel_knows_what_it_holds_for_every_client(tmp_path: Path) -> None:
    """``start --detach``, ``run --all``, an edit, ``run --stale``: only the edited
    cell and its dependents run, although each ``run`` is a new process."""
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text(
        "# %%\nimport time\ntime.sleep(0.2)\nslow = 41\n\n# %%\nfast = slow + 1\n\n"
        "# %%\nprint(fast)\n\n# %%\nother = 'x'\n"
    )
    started = cli("start", path.name, "--detach", cwd=tmp_path, env=env)
    assert started.returncode == 0, started.stderr
    try:
        assert cli("run", "--all", path.name, cwd=tmp_path, env=env).returncode == 0
        path.write_text(path.read_text().replace("slow + 1", "slow + 2"))
        result = cli("run", "--stale", path.name, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert ran(result.stdout) == 2, result.stdout  # cells 1 and 2, not the slow cell 0
        assert "ran again" not in result.stdout
        assert statuses(path, env) == ["fresh"] * 4
        records = tomllib.loads((tmp_path / "nb.sessions.toml").read_text())["cells"]
        assert [r["outputs"][0]["text"] for r in records if r["index"] == 2] == ["43\n"]
    finally:
        assert cli("stop", path.name, cwd=tmp_path, env=env).returncode == 0
    assert kernel_processes(tmp_path / "rt") == []


def test_autorun_does_not_send_a_cell_that_cannot_parse(
    tmp_path: Path, watches: Callable[..., Watch]
) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    text = "# %%\nx = 1\n\n# %%\ny = x + 1\n\n# %%\nprint(y)\n\n# %%\nz = 5\nprint(z)\n"
    path.write_text(text)
    assert cli("run", path.name, cwd=tmp_path, env=env).returncode == 0
    watch = watches(tmp_path, env, path.name, "--autorun")
    watch.expect(r"^watching nb\.py")
    # Break cell 1 and change cell 3: cell 3 runs, cell 1 and its user wait.
    path.write_text(text.replace("y = x + 1", "y = (x +").replace("z = 5", "z = 6"))
    lines = watch.expect(r"^ran \d+ cell\(s\)")
    assert any("skipped 2 cell(s) (1, 2): cell 1 has a syntax error" in line for line in lines), (
        lines
    )
    code, _ = watch.stop()
    assert code == 0
    records = {
        r["index"]: r for r in tomllib.loads((tmp_path / "nb.sessions.toml").read_text())["cells"]
    }
    assert records[3]["outputs"][0]["text"] == "6\n"
    assert all(
        o.get("ename") != "SyntaxError" for r in records.values() for o in r.get("outputs", [])
    )


def test_status_leaves_a_broken_sidecar_where_it_is(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    path = tmp_path / "nb.py"
    path.write_text("# %%\nx = 1\n")
    sidecar = tmp_path / "nb.sessions.toml"
    sidecar.write_text("format = 1\n[[cells]\n")
    result = cli("status", path.name, cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert "nb.sessions.toml could not be used" in result.stderr
    assert sidecar.read_text() == "format = 1\n[[cells]\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.py", "nb.sessions.toml", "rt"]
