"""``sessions run --server URL`` against a real ``jupyter server``: the token
from JUPYTER_TOKEN or --token-file, never written to the sidecar; a wrong
token or URL is one line that says how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cli, cli_env
from tests.support.jupyter_server import JupyterServer, free_port

pytestmark = [pytest.mark.kernel]


def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "nb.py"
    path.write_text(
        "# %% where\nimport os\nhere = os.getcwd()\n\n# %% say\nprint('remote', 6 * 7)\n"
    )
    return path


def test_run_on_a_jupyter_server(jupyter: JupyterServer, tmp_path: Path) -> None:
    path = notebook(tmp_path)
    env = {**cli_env(tmp_path), "JUPYTER_TOKEN": jupyter.token}
    done = cli("run", str(path), "--server", jupyter.url, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "remote 42" in done.stdout
    sidecar = (tmp_path / "nb.sessions.toml").read_text()
    assert "remote 42" in sidecar and jupyter.token not in sidecar
    assert jupyter.kernels() == []  # ours, deleted when the run ended

    token_file = tmp_path / "token"
    token_file.write_text(jupyter.token + "\n")
    (tmp_path / "pyproject.toml").write_text(f'[tool.sessions]\nserver = "{jupyter.url}"\n')
    status = cli("status", str(path), cwd=tmp_path, env=cli_env(tmp_path))
    assert f"kernel: python3 on {jupyter.url} ([tool.sessions] server" in status.stdout
    again = cli(
        "run",
        "--all",
        str(path),
        "--token-file",
        str(token_file),
        cwd=tmp_path,
        env=cli_env(tmp_path),
    )
    assert again.returncode == 0, again.stderr


def test_a_wrong_token_or_url_is_one_clear_line(jupyter: JupyterServer, tmp_path: Path) -> None:
    path = notebook(tmp_path)
    env = {**cli_env(tmp_path), "JUPYTER_TOKEN": "wrong"}
    done = cli("run", str(path), "--server", jupyter.url, cwd=tmp_path, env=env)
    assert done.returncode != 0
    assert "refused" in done.stderr and "JUPYTER_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr

    gone = cli(
        "run", str(path), "--server", f"http://127.0.0.1:{free_port()}/", cwd=tmp_path, env=env
    )
    assert gone.returncode != 0 and "Cannot reach the Jupyter server" in gone.stderr
    bad = cli("run", str(path), "--server", "ftp://x", cwd=tmp_path, env=env)
    assert bad.returncode != 0 and "is not a Jupyter server URL" in bad.stderr
    assert not (tmp_path / "nb.sessions.toml").exists()


def test_a_shared_session_on_the_server(jupyter: JupyterServer, tmp_path: Path) -> None:
    path = tmp_path / "shared.py"
    path.write_text(
        "# %% count\ncounter = globals().get('counter', 0) + 1\nprint('count', counter)\n"
    )
    env = {**cli_env(tmp_path), "JUPYTER_TOKEN": jupyter.token}
    started = cli("start", str(path), "--server", jupyter.url, "--name", "gpu", env=env)
    assert started.returncode == 0, started.stderr
    assert f"on {jupyter.url}" in started.stdout
    [kernel] = jupyter.kernels()

    listed = cli("ls", "--json", env=env)
    [row] = [r for r in json.loads(listed.stdout) if r.get("name") == "gpu"]
    assert row["server"] == jupyter.url and row["remote_id"] == kernel["id"]
    assert row["health"] == "remote"
    registry_text = "".join(p.read_text() for p in (tmp_path / "rt").rglob("*.json"))
    assert jupyter.token not in registry_text  # the URL and kernel id, never the token

    # Two runs from two processes share the kernel: the second sees the first's state.
    first = cli("run", "--all", str(path), "--server", jupyter.url, env=env)
    second = cli("run", "--all", str(path), "--server", jupyter.url, env=env)
    assert "count 1" in first.stdout and "count 2" in second.stdout, (first.stdout, second.stdout)
    assert [k["id"] for k in jupyter.kernels()] == [kernel["id"]]  # left running: shared

    refused = cli("console", "gpu", env=env)
    assert refused.returncode == 2 and "local sessions only" in refused.stderr

    stopped = cli("stop", "gpu", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert jupyter.kernels() == []
    assert "gpu" not in cli("ls", "--json", env=env).stdout


def test_sharing_a_kernel_already_running_on_the_server(
    jupyter: JupyterServer, tmp_path: Path
) -> None:
    import urllib.request

    request = urllib.request.Request(
        jupyter.url + "api/kernels",
        data=b'{"name": "python3"}',
        method="POST",
        headers={"Authorization": f"token {jupyter.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        kernel_id = json.load(response)["id"]  # as JupyterLab would have started it
    path = tmp_path / "adopt.py"
    path.write_text("# %%\nprint('on', 'the same kernel')\n")
    env = {**cli_env(tmp_path), "JUPYTER_TOKEN": jupyter.token}
    adopted = cli("start", str(path), "--server", jupyter.url, "--kernel-id", kernel_id, env=env)
    assert adopted.returncode == 0 and kernel_id in adopted.stdout, adopted.stderr
    ran = cli("run", str(path), "--server", jupyter.url, env=env)
    assert "on the same kernel" in ran.stdout
    assert [k["id"] for k in jupyter.kernels()] == [kernel_id]
    missing = cli("start", str(path), "--server", jupyter.url, "--kernel-id", "nope", env=env)
    assert missing.returncode == 2 and "runs no kernel 'nope'" in missing.stderr
    no_server = cli("start", str(path), "--kernel-id", kernel_id, env=cli_env(tmp_path))
    assert no_server.returncode == 2 and "give --server" in no_server.stderr
    assert cli("stop", str(path), env=env).returncode == 0
    assert jupyter.kernels() == []
