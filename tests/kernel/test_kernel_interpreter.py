"""Which interpreter runs a notebook's kernel, and the kernel-setup errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sessions.kernel import KernelSession, KernelSetupError, check_ipykernel, resolve_python
from tests.support.cli import cli, cli_env


def make_venv(prefix: Path) -> Path:
    """A fake environment: ``prefix/bin/python`` linking to our interpreter."""
    (prefix / "bin").mkdir(parents=True)
    python = prefix / "bin" / "python"
    python.symlink_to(sys.executable)
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``tmp_path/ws/pkg/sub/nb.py`` in a workspace ``tmp_path/ws``."""
    notebook = tmp_path / "ws" / "pkg" / "sub" / "nb.py"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("# %%\n")
    return notebook


def resolve(notebook: Path, **kwargs: object) -> tuple[str, str]:
    kwargs.setdefault("env", {})
    kwargs.setdefault("workspace_root", notebook.parents[2])
    resolved = resolve_python(notebook, **kwargs)  # type: ignore[arg-type]
    return resolved.path, resolved.reason


def test_default_is_the_servers_own_interpreter(project: Path) -> None:
    path, reason = resolve(project)
    assert path == sys.executable
    assert "own interpreter" in reason


def test_nearest_venv_walking_up_to_the_workspace_root(project: Path) -> None:
    workspace = project.parents[2]
    outer = make_venv(workspace / ".venv")
    assert resolve(project) == (str(outer), f"nearest .venv at {workspace / '.venv'}")
    inner = make_venv(project.parents[1] / "venv")
    assert resolve(project) == (str(inner), f"nearest venv at {project.parents[1] / 'venv'}")


def test_venv_above_the_workspace_root_is_not_used(project: Path) -> None:
    make_venv(project.parents[3] / ".venv")  # beside the workspace, not in it
    assert resolve(project)[0] == sys.executable
    # Without a workspace root the walk continues up (here: to the filesystem root).
    found = resolve_python(project, env={}, workspace_root=None)
    assert found.path == str(project.parents[3] / ".venv" / "bin" / "python")


def test_venv_folder_without_interpreter_is_skipped(project: Path) -> None:
    (project.parent / ".venv").mkdir()
    outer = make_venv(project.parents[2] / ".venv")
    assert resolve(project)[0] == str(outer)


def test_pyproject_setting_beats_venv_and_is_relative_to_its_folder(project: Path) -> None:
    make_venv(project.parent / ".venv")
    pkg = project.parents[1]
    target = make_venv(pkg / "envs" / "kernel")
    (pkg / "pyproject.toml").write_text('[tool.sessions]\npython = "envs/kernel/bin/python"\n')
    path, reason = resolve(project)
    assert path == str(target)
    assert str(pkg / "pyproject.toml") in reason


def test_pyproject_may_name_an_environment_folder(project: Path) -> None:
    pkg = project.parents[1]
    target = make_venv(pkg / "env")
    (pkg / "pyproject.toml").write_text('[tool.sessions]\npython = "env"\n')
    assert resolve(project)[0] == str(target)


def test_only_the_nearest_pyproject_counts(project: Path) -> None:
    workspace = project.parents[2]
    make_venv(workspace / "far")
    (workspace / "pyproject.toml").write_text('[tool.sessions]\npython = "far/bin/python"\n')
    (project.parents[1] / "pyproject.toml").write_text('[project]\nname = "x"\n')
    venv = make_venv(workspace / ".venv")
    assert resolve(project)[0] == str(venv)


def test_broken_pyproject_is_ignored(project: Path) -> None:
    (project.parent / "pyproject.toml").write_text("[tool.sessions\npython = \n")
    assert resolve(project)[0] == sys.executable


def test_setting_beats_everything(project: Path) -> None:
    make_venv(project.parent / ".venv")
    (project.parent / "pyproject.toml").write_text('[tool.sessions]\npython = "/nope/python"\n')
    chosen = make_venv(project.parents[3] / "chosen")
    path, reason = resolve(project, setting=str(chosen))
    assert path == str(chosen)
    assert reason == "setting sessions.python"


def test_relative_setting_is_relative_to_the_workspace(project: Path) -> None:
    chosen = make_venv(project.parents[2] / "tools" / "env")
    assert resolve(project, setting="tools/env/bin/python")[0] == str(chosen)


def test_bare_command_setting_is_looked_up_on_path(project: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "on-path"
    bin_dir.mkdir()
    (bin_dir / "pythonX").symlink_to(sys.executable)
    assert resolve(project, setting="pythonX", env={"PATH": str(bin_dir)})[0] == str(
        bin_dir / "pythonX"
    )


def test_explicit_missing_interpreter_is_returned_for_the_check_to_report(project: Path) -> None:
    assert resolve(project, setting="/does/not/exist/python")[0] == "/does/not/exist/python"


def test_active_virtual_env_then_conda_prefix(project: Path, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "active-venv")
    conda = make_venv(tmp_path / "conda")
    env = {"VIRTUAL_ENV": str(venv.parents[1]), "CONDA_PREFIX": str(conda.parents[1])}
    path, reason = resolve(project, env=env)
    assert path == str(venv)
    assert reason.startswith("active VIRTUAL_ENV")
    assert resolve(project, env={"CONDA_PREFIX": str(conda.parents[1])})[0] == str(conda)
    # A stale variable pointing nowhere falls through to the default.
    assert resolve(project, env={"VIRTUAL_ENV": str(tmp_path / "gone")})[0] == sys.executable
    # The nearest .venv wins over the active environment.
    local = make_venv(project.parent / ".venv")
    assert resolve(project, env=env)[0] == str(local)


# -- check_ipykernel ------------------------------------------------------------


def test_check_accepts_an_interpreter_with_ipykernel() -> None:
    assert check_ipykernel(sys.executable) is None
    assert check_ipykernel(sys.executable) is None  # cached


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real environment without ipykernel (and without pip: fast to make)."""
    prefix = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    return prefix / "bin" / "python"


def test_missing_ipykernel_names_the_interpreter_and_the_fix(bare_venv: Path) -> None:
    error = check_ipykernel(str(bare_venv))
    assert isinstance(error, KernelSetupError)
    # No pip in this venv either, so the fix bootstraps it first.
    fix = f"{bare_venv} -m ensurepip && {bare_venv} -m pip install ipykernel"
    assert error.fix == fix
    assert fix in error.message
    assert "ipykernel is not installed" in error.message
    assert error.python == str(bare_venv)


def test_missing_ipykernel_with_pip_present_is_one_pip_install(tmp_path: Path) -> None:
    prefix = tmp_path / "with-pip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    (site_packages,) = (prefix / "lib").glob("python3*/site-packages")
    (site_packages / "pip").mkdir()  # enough for the check, which looks pip up without importing it
    (site_packages / "pip" / "__init__.py").write_text("")
    python = prefix / "bin" / "python"
    error = check_ipykernel(str(python))
    assert isinstance(error, KernelSetupError)
    assert error.fix == f"{python} -m pip install ipykernel"


def test_missing_interpreter_has_its_own_message(tmp_path: Path) -> None:
    error = check_ipykernel(str(tmp_path / "nope" / "python"))
    assert isinstance(error, KernelSetupError)
    assert "not found" in error.message
    assert str(tmp_path / "nope" / "python") in error.message
    assert error.fix is None


def test_non_executable_interpreter_has_its_own_message(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("not a program")
    fake.chmod(0o644)
    error = check_ipykernel(str(fake))
    assert isinstance(error, KernelSetupError)
    assert "not an executable" in error.message


def test_interpreter_that_fails_to_run_reports_why(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'broken interpreter' >&2\nexit 7\n")
    fake.chmod(0o755)
    error = check_ipykernel(str(fake))
    assert isinstance(error, KernelSetupError)
    assert "broken interpreter" in error.message
    assert error.fix is None


@pytest.mark.kernel
async def test_start_without_ipykernel_raises_and_starts_nothing(
    bare_venv: Path, tmp_path: Path
) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    session = KernelSession(str(bare_venv), tmp_path, runtime_folder=runtime)
    states: list[str] = []
    session.on_state(states.append)
    with pytest.raises(KernelSetupError) as raised:
        await session.start()
    assert raised.value.fix == f"{bare_venv} -m ensurepip && {bare_venv} -m pip install ipykernel"
    assert session.state == "stopped"
    assert states == []
    assert session.pid is None
    assert os.listdir(runtime) == []


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
    """QA: a typo in ``[tool.sessions] python`` must not silently pick another Python.

    Found as a user: with ``python = 3`` or a TOML syntax error in the project's
    ``pyproject.toml``, ``sessions status`` said only "the server's own
    interpreter", with no hint that the project setting had been ignored."""
    (tmp_path / "pyproject.toml").write_text(pyproject)
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 1\n")

    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)

    assert resolved.path == sys.executable
    assert resolved.reason.startswith("the server's own interpreter; ")
    assert f"{tmp_path / 'pyproject.toml'} was ignored" in resolved.reason
    assert why in resolved.reason


def test_a_pyproject_without_the_setting_adds_no_note(tmp_path: Path) -> None:
    """QA: the note that a ``[tool.sessions] python`` setting was ignored appears
    only when there is such a setting."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 1\n")
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    assert resolved.reason == "the server's own interpreter"


def test_status_shows_the_ignored_setting(tmp_path: Path) -> None:
    """QA: with ``python = 3`` in the project's ``pyproject.toml``, ``sessions
    status`` had said only "the server's own interpreter", with no hint that the
    project setting had been ignored."""
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
    """QA: a typo in ``[tool.sessions] python`` must not silently pick another
    Python: ``sessions run`` warns that the setting was ignored, and why."""
    (tmp_path / "pyproject.toml").write_text("[tool.sessions]\npython = 3\n")
    (tmp_path / "nb.py").write_text("# %%\nx = 1\n")
    result = cli("run", "nb.py", "-q", cwd=tmp_path, env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "[tool.sessions] python in" in result.stderr
    assert "was ignored: " in result.stderr and "not 3" in result.stderr
    assert resolve_python(tmp_path / "nb.py", env={}).warning is not None
