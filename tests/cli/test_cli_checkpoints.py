"""Checkpoints from the terminal: ``sessions run --stale`` in a fresh process
restores what a previous one saved, says so, and ``--no-restore``,
``sessions checkpoints ls|clear`` and ``[tool.sessions]`` do what docs/cli.md says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cli, cli_env

NOTEBOOK = """\
# %% Load checkpoint=true
import time

time.sleep(0.2)
table = {i: i * i for i in range(1000)}

# %% Quick
small = 1

# %% Report
print("total", sum(table.values()) + small)
"""


def test_run_restores_lists_and_clears(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["SESSIONS_CHECKPOINT_DIR"] = str(tmp_path / "store")
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)

    first = cli("run", str(path), env=env)
    assert first.returncode == 0, first.stderr
    assert "checkpoint saved: table, time" in first.stdout
    assert "not checkpointed" not in first.stdout  # the quick cell is simply not asked for

    listed = cli("checkpoints", "ls", str(path), "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)["checkpoints"]
    assert entry["cell"] == 0 and entry["names"] == ["table", "time"] and entry["current"] is True
    assert Path(entry["path"]).is_relative_to(tmp_path / "store")
    assert (Path(entry["path"]).stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / "store").stat().st_mode & 0o777) == 0o700

    path.write_text(NOTEBOOK.replace('print("total"', 'print("sum"'))
    again = cli("run", "--stale", str(path), "--json", env=env)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert [r["index"] for r in summary["restored"]] == [0]
    assert summary["restored"][0]["names"] == ["table", "time"]
    assert [c["index"] for c in summary["cells"]] == [
        1,
        2,
    ]  # the quick cell ran, the slow one did not
    assert summary["cells"][-1]["outputs"][0]["text"] == "sum 332833501\n"
    assert "restored from checkpoint" in again.stderr

    path.write_text(NOTEBOOK.replace('print("total"', 'print("count"'))
    rerun = cli("run", "--stale", "--no-restore", str(path), "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["restored"] == []
    assert [c["index"] for c in json.loads(rerun.stdout)["cells"]] == [0, 1, 2]

    before = sorted(p.name for p in (tmp_path / "store").rglob("*"))
    assert cli("checkpoints", "ls", str(path), env=env).returncode == 0
    assert sorted(p.name for p in (tmp_path / "store").rglob("*")) == before  # ls changes nothing

    cleared = cli("checkpoints", "clear", str(path), env=env)
    assert cleared.returncode == 0 and "deleted 1 checkpoint(s)" in cleared.stdout
    empty = cli("checkpoints", "ls", str(path), env=env)
    assert "no checkpoints of nb.py" in empty.stdout


def test_project_settings_switch_checkpoints_off(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["SESSIONS_CHECKPOINT_DIR"] = str(tmp_path / "store")
    (tmp_path / "pyproject.toml").write_text("[tool.sessions]\ncheckpoints = false\n")
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    result = cli("run", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert "checkpoint saved" not in result.stdout
    assert not list((tmp_path / "store").rglob("*.ckpt"))
