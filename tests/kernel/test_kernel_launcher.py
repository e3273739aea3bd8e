"""The launch plumbing: private runtime folder, connection files, kernel
environment, and the watchdog script on its own."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sessions.kernel.launcher import (
    WATCHDOG_SCRIPT,
    kernel_environment,
    runtime_dir,
    write_connection,
)


def test_runtime_dir_is_private_and_under_xdg_runtime_dir(tmp_path: Path) -> None:
    folder = runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)})
    assert folder.parent == tmp_path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    folder.chmod(0o755)  # loosened by someone: tightened again
    assert stat.S_IMODE(runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)}).stat().st_mode) == 0o700


def test_connection_file_is_private_with_a_key_and_ipc_sockets(tmp_path: Path) -> None:
    connection = write_connection(tmp_path)
    assert stat.S_IMODE(connection.path.stat().st_mode) == 0o600
    info = json.loads(connection.path.read_text())
    assert info["transport"] == "ipc"
    assert len(info["key"]) == 64
    assert len(connection.extra_files) == 5
    assert all(str(p).startswith(info["ip"] + "-") for p in connection.extra_files)
    connection.remove()
    assert list(tmp_path.iterdir()) == []


def test_long_runtime_paths_fall_back_to_tcp(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    connection = write_connection(deep)
    info = json.loads(connection.path.read_text())
    assert info["transport"] == "tcp"
    assert info["ip"] == "127.0.0.1"
    assert connection.extra_files == []


def test_kernel_environment_activates_the_kernels_venv(tmp_path: Path) -> None:
    (tmp_path / "env" / "bin").mkdir(parents=True)
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = tmp_path / "env" / "bin" / "python"
    env = kernel_environment(str(python), {"PATH": "/usr/bin", "PYTHONHOME": "/x", "A": "1"})
    assert env == {
        "PATH": f"{tmp_path / 'env' / 'bin'}{os.pathsep}/usr/bin",
        "VIRTUAL_ENV": str(tmp_path / "env"),
        "A": "1",
    }
    # Not a venv (a system interpreter): left alone apart from PYTHONHOME.
    assert kernel_environment("/usr/bin/python3", {"PATH": "/bin"}) == {"PATH": "/bin"}


def test_watchdog_reports_the_exit_and_removes_the_files(tmp_path: Path) -> None:
    leftover = tmp_path / "connection.json"
    leftover.write_text("{}")
    completed = subprocess.run(
        [sys.executable, "-I", str(WATCHDOG_SCRIPT), "--owner", str(os.getpid()),
         "--cleanup", str(leftover), "--", sys.executable, "-c", "raise SystemExit(3)"],
        capture_output=True, text=True, timeout=30, start_new_session=True, check=False,
    )  # fmt: skip
    assert "[sessions watchdog] kernel pid " in completed.stderr
    assert "[sessions watchdog] kernel exited with exit code 3" in completed.stderr
    assert not leftover.exists()


def test_watchdog_that_is_not_a_group_leader_kills_only_its_child(tmp_path: Path) -> None:
    # The watchdog runs inside a helper's process group (not as its leader) and
    # watches an owner that exits: it must end its own child, not the group.
    helper = textwrap.dedent(
        f"""
        import subprocess, sys, time
        owner = subprocess.Popen(["sleep", "0.3"])
        watchdog = subprocess.Popen(
            [sys.executable, "-I", {str(WATCHDOG_SCRIPT)!r}, "--owner", str(owner.pid), "--",
             "sleep", "1000"], stderr=subprocess.PIPE, text=True)
        owner.wait()
        code = watchdog.wait(timeout=10)
        print(code, "survived", flush=True)
        print(watchdog.stderr.read(), flush=True)
        """
    )
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", helper],
        capture_output=True, text=True, timeout=30, start_new_session=True, check=False,
    )  # fmt: skip
    assert completed.stdout.startswith("1 survived")
    assert "owner" in completed.stdout and "is gone" in completed.stdout
    assert time.monotonic() - started < 5
