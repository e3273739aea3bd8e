"""PEP 723 notebooks through the real CLI (subprocesses, real uv, real PyPI,
real kernels): ``sessions run`` in the block's environment, built once and
reused; a changed block gets another; a bad dependency is one clear error;
``sessions status`` and ``sessions env`` build nothing; ``sessions env
--refresh`` rebuilds; ``sessions add`` edits the block and nothing else.

Tests marked ``network`` download from PyPI (into this test run's uv cache,
tests/conftest.py); CI has PyPI, so they are not skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.cli import cli, cli_env

NOTEBOOK = '''\
"""Jokes, from the notebook's own environment."""
# /// script
# dependencies = ["pyjokes==0.8.3"]
# ///

# %%
import importlib.metadata

import pyjokes

print("pyjokes", importlib.metadata.version("pyjokes"), "from", pyjokes.__file__)
'''


def setup(tmp_path: Path, text: str = NOTEBOOK, name: str = "nb.py") -> tuple[Path, dict[str, str]]:
    """The notebook, and an environment for the CLI whose script envs go to ``tmp_path/envs``."""
    path = tmp_path / name
    path.write_bytes(text.encode())
    env = cli_env(tmp_path)
    env["SESSIONS_ENV_DIR"] = str(tmp_path / "envs")
    return path, env


def built_envs(tmp_path: Path) -> list[str]:
    folder = tmp_path / "envs"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def kernel_of(path: Path, env: dict[str, str]) -> dict[str, str]:
    result = cli("status", path.name, "--json", cwd=path.parent, env=env)
    assert result.returncode == 0, result.stderr
    kernel: dict[str, str] = json.loads(result.stdout)["kernel"]
    return kernel


@pytest.mark.kernel
@pytest.mark.network
def test_run_uses_the_block_builds_once_and_a_change_builds_another(tmp_path: Path) -> None:
    """Needs network (PyPI): uv installs pyjokes, text-unidecode and ipykernel."""
    path, env = setup(tmp_path)
    # Status first: it says which environment, and builds nothing.
    kernel = kernel_of(path, env)
    assert kernel["reason"].startswith("PEP 723 script block of nb.py: 1 dependency; uv env at ")
    assert "not built yet" in kernel["reason"]
    assert built_envs(tmp_path) == []

    first = cli("run", path.name, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "building the environment of nb.py with uv" in first.stderr
    folder = tmp_path / "envs" / built_envs(tmp_path)[0]
    assert f"pyjokes 0.8.3 from {folder}" in first.stdout
    assert "not built yet" not in kernel_of(path, env)["reason"]
    marker = (folder / "sessions-env.json").stat()

    again = cli("run", path.name, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "building" not in again.stderr  # the cached environment, as it was
    assert "pyjokes 0.8.3" in again.stdout
    now = (folder / "sessions-env.json").stat()
    assert (now.st_ino, now.st_mtime_ns) == (marker.st_ino, marker.st_mtime_ns)

    path.write_text(
        NOTEBOOK.replace('"pyjokes==0.8.3"', '"pyjokes==0.8.3", "text-unidecode==1.3"')
        + "\nimport text_unidecode\nprint(text_unidecode.unidecode('café'))\n"
    )
    changed = cli("run", path.name, cwd=tmp_path, env=env)
    assert changed.returncode == 0, changed.stderr
    assert "building the environment of nb.py" in changed.stderr
    assert "cafe" in changed.stdout
    assert len(built_envs(tmp_path)) == 2


@pytest.mark.network
def test_a_bad_dependency_is_one_clear_error(tmp_path: Path) -> None:
    """Needs network (PyPI): uv finds that the package does not exist."""
    path, env = setup(
        tmp_path,
        '# /// script\n# dependencies = ["sessions-no-such-package-xyz==1.0"]\n# ///\n\n# %%\nx = 1\n',
    )
    result = cli("run", path.name, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "could not resolve" in line]
    assert len(errors) == 1
    assert errors[0].startswith("sessions: uv could not resolve the dependencies of nb.py: ")
    assert "sessions-no-such-package-xyz" in errors[0]
    assert "run `sessions env nb.py --refresh` for details" in errors[0]
    assert built_envs(tmp_path) == []
    assert not path.with_name("nb.sessions.toml").exists()  # no cell ran


def test_a_nearby_venv_is_ignored_only_when_there_is_a_block(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    kernel = kernel_of(path, env)
    assert kernel["python"].startswith(str(tmp_path / "envs"))
    assert kernel["reason"].startswith("PEP 723")
    path.write_text("# %%\nx = 1\n")
    kernel = kernel_of(path, env)
    assert kernel["python"] == str(tmp_path / ".venv" / "bin" / "python")
    assert built_envs(tmp_path) == []


@pytest.mark.network
def test_env_shows_then_refresh_builds(tmp_path: Path) -> None:
    """Needs network (PyPI)."""
    path, env = setup(tmp_path)
    shown = cli("env", path.name, cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "`# /// script` block at line 2 (1 dependency)" in shown.stdout
    assert '  # dependencies = ["pyjokes==0.8.3"]' in shown.stdout
    assert "not built yet" in shown.stdout
    assert built_envs(tmp_path) == []  # showing builds nothing

    refreshed = cli("env", path.name, "--refresh", cwd=tmp_path, env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "sessions: uv:  + pyjokes==0.8.3" in refreshed.stderr  # uv's whole output
    assert "(built 20" in refreshed.stdout
    assert "  pyjokes 0.8.3" in refreshed.stdout and "  ipykernel " in refreshed.stdout

    payload = json.loads(cli("env", path.name, "--json", cwd=tmp_path, env=env).stdout)
    assert payload["block"]["dependencies"] == ["pyjokes==0.8.3"]
    environment = payload["environment"]
    assert environment["built"] is True and environment["used_by_kernel"] is True
    assert {"name": "pyjokes", "version": "0.8.3"} in environment["packages"]
    assert payload["kernel"]["python"] == environment["python"]


def test_env_without_a_block(tmp_path: Path) -> None:
    path, env = setup(tmp_path, "# %%\nx = 1\n")
    shown = cli("env", path.name, cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "has no `# /// script` block" in shown.stdout
    assert "sessions add nb.py PACKAGE" in shown.stdout
    refresh = cli("env", path.name, "--refresh", cwd=tmp_path, env=env)
    assert refresh.returncode == 2 and "no `# /// script` block" in refresh.stderr
    broken, env = setup(tmp_path, '# /// script\n# dependencies = "x"\n# ///\n# %%\n', "b.py")
    result = cli("env", broken.name, cwd=tmp_path, env=env)
    assert result.returncode == 2 and "list of strings" in result.stderr


@pytest.mark.network
@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            NOTEBOOK,
            NOTEBOOK.replace(
                '# dependencies = ["pyjokes==0.8.3"]\n',
                '# dependencies = [\n#     "pyjokes==0.8.3",\n#     "six==1.17.0",\n# ]\n',
            ),
        ),
        # No block: one at the top of the preamble, below the Jupytext header.
        (
            "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx = 1  \n",
            "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n"
            '# /// script\n# dependencies = [\n#     "six==1.17.0",\n# ]\n# ///\n\n# %%\nx = 1  \n',
        ),
        # A CRLF notebook with a BOM (uv alone would not find this block).
        (
            '\ufeff"""D."""\r\n# /// script\r\n# dependencies = []\r\n# ///\r\n\r\n# %%\r\nx\r\n',
            '\ufeff"""D."""\r\n# /// script\r\n# dependencies = [\r\n#     "six==1.17.0",\r\n'
            "# ]\r\n# ///\r\n\r\n# %%\r\nx\r\n",
        ),
    ],
)
def test_add_edits_the_block_and_nothing_else(tmp_path: Path, before: str, after: str) -> None:
    """Needs network (PyPI): uv add looks six up."""
    path, env = setup(tmp_path, before)
    result = cli("add", path.name, "six==1.17.0", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == after.encode()
    assert "six==1.17.0" in result.stdout
    assert built_envs(tmp_path) == []  # adding builds nothing: the next run does


@pytest.mark.network
def test_add_of_a_missing_package_changes_nothing(tmp_path: Path) -> None:
    """Needs network (PyPI)."""
    path, env = setup(tmp_path)
    result = cli("add", path.name, "sessions-no-such-package-xyz", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "uv could not add sessions-no-such-package-xyz" in result.stderr
    assert "nb.py is unchanged" in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == NOTEBOOK


def test_add_refuses_a_block_outside_the_preamble(tmp_path: Path) -> None:
    text = "# %%\nx = 1\n\n# %%\n# /// script\n# dependencies = []\n# ///\n"
    path, env = setup(tmp_path, text)
    result = cli("add", path.name, "six", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "is in cell 1, not in the preamble" in result.stderr
    assert path.read_text() == text


@pytest.mark.kernel
@pytest.mark.network
def test_the_example_notebook_runs(tmp_path: Path) -> None:
    """Needs network (PyPI). examples/pep723.py, copied (its sidecar stays here)."""
    example = Path(__file__).resolve().parents[2] / "examples" / "pep723.py"
    path, env = setup(tmp_path, example.read_text(), "pep723.py")
    result = cli("run", path.name, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "'Straße nach Zürich'       -> strasse-nach-zurich" in result.stdout
    assert f"kernel Python: {tmp_path / 'envs'}" in result.stdout
