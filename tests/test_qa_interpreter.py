"""QA: a typo in ``[tool.sessions] python`` must not silently pick another Python.

Found as a user: with ``python = 3`` or a TOML syntax error in the project's
``pyproject.toml``, ``sessions status`` said only "the server's own
interpreter", with no hint that the project setting had been ignored.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sessions.kernel import resolve_python
from tests.cli_support import cli, cli_env


@pytest.mark.parametrize(
    ("pyproject", "why"),
    [
        ("[tool.sessions\npython = \n", "it is not valid TOML"),
        ("[tool.sessions]\npython = 3\n", "should be a path or command, not 3"),
        ('[tool.sessions]\npython = ""\n', "should be a path or command, not ''"),
    ],
)
def test_an_unusable_pyproject_setting_is_ignored_and_said(
    tmp_path: Path, pyproject: str, why: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 1\n")

    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)

    assert resolved.path == sys.executable
    assert resolved.reason.startswith("the server's own interpreter; ")
    assert f"{tmp_path / 'pyproject.toml'} was ignored" in resolved.reason
    assert why in resolved.reason


def test_a_pyproject_without_the_setting_adds_no_note(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 1\n")
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    assert resolved.reason == "the server's own interpreter"


def test_status_shows_the_ignored_setting(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.sessions]\npython = 3\n")
    (tmp_path / "nb.py").write_text("# %%\nx = 1\n")
    env = cli_env(tmp_path)
    result = cli("status", "nb.py", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    kernel = json.loads(result.stdout)["kernel"]
    assert "pyproject.toml was ignored" in kernel["reason"]
    text = cli("status", "nb.py", cwd=tmp_path, env=env)
    assert "pyproject.toml was ignored" in text.stdout


def test_run_warns_about_the_ignored_setting_before_running(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.sessions]\npython = 3\n")
    (tmp_path / "nb.py").write_text("# %%\nx = 1\n")
    result = cli("run", "nb.py", "-q", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "[tool.sessions] python in" in result.stderr
    assert "was ignored: " in result.stderr and "not 3" in result.stderr
    assert resolve_python(tmp_path / "nb.py", env={}).warning is not None
