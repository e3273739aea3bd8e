"""The environment of a PEP 723 ``# /// script`` block (kernel/script_env.py):
where it comes in the interpreter order, that finding it builds nothing, and
building it with the real uv from the real PyPI: a kernel that imports the
block's package, a failed build that leaves nothing, two builders at once, a
half folder that is never used.

Tests marked ``network`` download from PyPI (uv caches the files in this
test run's own folder, tests/conftest.py); CI has PyPI, so they are not
skipped.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from sessions.kernel import KernelSession, KernelSetupError, resolve_python
from sessions.kernel.script_env import BrokenScriptBlock, ScriptEnv, build, lookup
from tests.support.cli import plain_env

JOKES = "pyjokes==0.8.3"
"""Small, pure Python, and not in the test environment (checked below)."""

NOTEBOOK = f'''\
"""A notebook that brings its own environment."""
# /// script
# dependencies = ["{JOKES}"]
# ///

# %%
import pyjokes
print(pyjokes.__file__)
'''


@pytest.fixture
def env_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own environments folder (a fresh build each test)."""
    root = tmp_path / "envs"
    monkeypatch.setenv("SESSIONS_ENV_DIR", str(root))
    return root


def make_venv(prefix: Path) -> Path:
    (prefix / "bin").mkdir(parents=True)
    python = prefix / "bin" / "python"
    python.symlink_to(sys.executable)
    return python


def write(folder: Path, text: str, name: str = "nb.py") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def script_env(notebook: Path) -> ScriptEnv:
    found = lookup(notebook).env
    assert isinstance(found, ScriptEnv)
    return found


def test_the_package_is_not_in_the_test_environment() -> None:
    """The kernel tests below prove something only if the block's package is
    found in the built environment alone."""
    import importlib.util

    assert importlib.util.find_spec("pyjokes") is None


# -- the order (no network, nothing built) ----------------------------------------


def test_the_block_comes_before_a_nearby_venv(tmp_path: Path, env_root: Path) -> None:
    venv_python = make_venv(tmp_path / ".venv")
    notebook = write(tmp_path, NOTEBOOK)

    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)

    assert isinstance(resolved.script_env, ScriptEnv)
    assert resolved.path == str(resolved.script_env.python)
    assert Path(resolved.path).is_relative_to(env_root)
    assert resolved.reason.startswith("PEP 723 script block of nb.py: 1 dependency; uv env at ")
    assert "not built yet" in resolved.reason
    assert not env_root.exists()  # resolving is read-only: nothing was created

    write(tmp_path, "# %%\nimport pyjokes\n")  # the block is gone: the .venv again
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    assert (resolved.path, resolved.script_env) == (str(venv_python), None)


def test_settings_come_before_the_block(tmp_path: Path, env_root: Path) -> None:
    notebook = write(tmp_path, NOTEBOOK)
    chosen = make_venv(tmp_path / "chosen")
    assert resolve_python(notebook, setting=str(chosen), env={}).path == str(chosen)
    (tmp_path / "pyproject.toml").write_text('[tool.sessions]\npython = "chosen"\n')
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    assert (resolved.path, resolved.script_env) == (str(chosen), None)
    # An ignored project setting falls back to the block, and says so.
    (tmp_path / "pyproject.toml").write_text("[tool.sessions]\npython = 3\n")
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    assert isinstance(resolved.script_env, ScriptEnv)
    assert "was ignored" in resolved.reason


def test_equal_blocks_share_an_environment_and_a_change_gets_another(tmp_path: Path) -> None:
    first = script_env(write(tmp_path, NOTEBOOK, "a.py"))
    second = script_env(write(tmp_path, NOTEBOOK.replace('"""A', '"""Another'), "b.py"))
    assert first.folder == second.folder
    changed = NOTEBOOK.replace(JOKES, f"{JOKES}, text-unidecode==1.3")
    assert script_env(write(tmp_path, changed, "c.py")).folder != first.folder


async def test_a_broken_block_stops_the_kernel_start(tmp_path: Path, env_root: Path) -> None:
    make_venv(tmp_path / ".venv")
    notebook = write(tmp_path, '# /// script\n# dependencies = "pyjokes"\n# ///\n# %%\n')
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    # Not silently the .venv, whose packages are not those the block asks for.
    assert isinstance(resolved.script_env, BrokenScriptBlock)
    assert "cannot be used" in resolved.reason and "list of strings" in resolved.reason
    session = KernelSession.for_notebook(notebook, env={}, workspace_root=tmp_path)
    with pytest.raises(KernelSetupError, match=r"list of strings.*Fix the block"):
        await session.start()
    assert session.state == "stopped"


def test_a_block_after_the_preamble_is_not_used_and_said(tmp_path: Path, env_root: Path) -> None:
    venv_python = make_venv(tmp_path / ".venv")
    notebook = write(tmp_path, "# %%\nx = 1\n\n# %%\n# /// script\n# dependencies = []\n# ///\n")
    resolved = resolve_python(notebook, env={}, workspace_root=tmp_path)
    assert resolved.path == str(venv_python)
    assert resolved.warning is not None and "cell 1 is not used" in resolved.warning


def test_a_missing_uv_is_one_error_with_the_fix(
    tmp_path: Path, env_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONS_UV", str(tmp_path / "no-uv-here"))
    env = script_env(write(tmp_path, NOTEBOOK))
    with pytest.raises(KernelSetupError, match=r"SESSIONS_UV=.* is not an executable uv") as raised:
        env.prepare()
    assert raised.value.fix is not None and "pip install uv" in raised.value.fix
    assert not env.built


# -- building (network) -------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.network
async def test_the_kernel_runs_in_the_built_environment(tmp_path: Path, env_root: Path) -> None:
    """Needs network (PyPI): uv installs pyjokes and ipykernel."""
    make_venv(tmp_path / ".venv")  # nearby, and ignored: the block wins
    notebook = write(tmp_path, NOTEBOOK)
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    lines: list[str] = []
    session = KernelSession.for_notebook(
        notebook,
        env=plain_env(),
        workspace_root=tmp_path,
        runtime_folder=runtime,
        on_env_progress=lines.append,
    )
    assert session.script_env is not None and "not built yet" in session.python_reason
    async with session:
        outputs: list[dict[str, object]] = []
        result = await session.execute(
            "import pyjokes, sys; print(pyjokes.__file__); print(sys.prefix)", outputs.append
        )
    assert result.status == "ok"
    printed = "".join(str(o.get("text", "")) for o in outputs)
    folder = script_env(notebook).folder
    assert str(folder) in printed  # pyjokes and the kernel's prefix are in the env
    assert session.python_reason.startswith("PEP 723 script block of nb.py")
    assert "not built yet" not in session.python_reason  # said again once built
    assert lines[0].startswith("building the environment of nb.py with uv")
    assert any(line.startswith("uv: ") for line in lines)
    assert sorted(p.name for p in env_root.iterdir()) == [folder.name]  # no leftovers


@pytest.mark.network
def test_a_failed_resolve_leaves_nothing(tmp_path: Path, env_root: Path) -> None:
    """Needs network (PyPI): uv looks the missing package up."""
    notebook = write(
        tmp_path, '# /// script\n# dependencies = ["sessions-no-such-package-xyz==1.0"]\n# ///\n'
    )
    env = script_env(notebook)
    with pytest.raises(KernelSetupError) as raised:
        env.prepare()
    message = raised.value.message
    assert message.startswith("uv could not resolve the dependencies of nb.py: ")
    assert "sessions-no-such-package-xyz" in message
    assert "Fix the `# /// script` block, or run `sessions env" in message
    assert "--refresh` for details" in message
    assert list(env_root.iterdir()) == []  # no half environment, no temporary folder


@pytest.mark.network
def test_two_builders_at_once_make_one_environment(tmp_path: Path, env_root: Path) -> None:
    """Needs network (PyPI). Two processes starting the notebook's kernel at
    once both build; the first rename wins, the other build is dropped."""
    env = script_env(write(tmp_path, NOTEBOOK))
    errors: list[BaseException] = []

    def builder() -> None:
        try:
            build(env)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=builder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert env.built
    assert [p.name for p in env_root.iterdir()] == [env.folder.name]


@pytest.mark.network
def test_a_folder_without_the_marker_is_rebuilt(tmp_path: Path, env_root: Path) -> None:
    """Needs network (PyPI). A folder with a Python but without the marker (a
    copy cut short, a build of an older version) is never used as it is; the
    temporary folder of a build killed long ago is swept away."""
    env = script_env(write(tmp_path, NOTEBOOK))
    make_venv(env.folder)
    assert not env.built
    dead = env_root / f".tmp-{env.folder.name}-1-dead"
    dead.mkdir()
    old = time.time() - 2 * 3600
    os.utime(dead, (old, old))
    env.prepare()
    assert env.built and (env.folder / "pyvenv.cfg").is_file()  # a real venv, not the fake
    assert sorted(p.name for p in env_root.iterdir()) == [env.folder.name]
    marker = env.marker()
    assert marker is not None and marker["dependencies"] == [JOKES]


@pytest.mark.network
def test_refresh_replaces_a_built_environment(tmp_path: Path, env_root: Path) -> None:
    """Needs network (PyPI)."""
    env = script_env(write(tmp_path, NOTEBOOK))
    env.prepare()
    (env.folder / "left-by-the-old-one").write_text("x")
    build(env, refresh=True)
    assert env.built
    assert not (env.folder / "left-by-the-old-one").exists()
    assert sorted(p.name for p in env_root.iterdir()) == [env.folder.name]


@pytest.mark.kernel
@pytest.mark.network
async def test_a_restart_after_the_block_changed_uses_the_new_environment(
    tmp_path: Path, env_root: Path
) -> None:
    """Needs network (PyPI). The editor keeps its kernel: Restart is how a
    changed block reaches it. A block broken meanwhile leaves the kernel as it was."""
    notebook = write(tmp_path, NOTEBOOK)
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    session = KernelSession.for_notebook(
        notebook, env=plain_env(), workspace_root=tmp_path, runtime_folder=runtime
    )
    async with session:
        first = session.python
        write(tmp_path, NOTEBOOK.replace(JOKES, '", "'.join([JOKES, "text-unidecode==1.3"])))
        await session.restart()
        assert session.python != first
        assert session.python == str(script_env(notebook).python)
        outputs: list[dict[str, object]] = []
        result = await session.execute("import text_unidecode, pyjokes", outputs.append)
        assert result.status == "ok", outputs

        write(tmp_path, '# /// script\n# dependencies = "x"\n# ///\n# %%\n')
        with pytest.raises(KernelSetupError, match="list of strings"):
            await session.restart()
        assert session.state == "idle"
        assert isinstance(session.script_env, ScriptEnv)  # as it was
        result = await session.execute("text_unidecode", outputs.append)
        assert result.status == "ok"  # the same kernel process, values kept
