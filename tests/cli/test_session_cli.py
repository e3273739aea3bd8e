"""The session verbs of the CLI against real kernels: start/stop (nothing
left in /proc), ls --json, console attach, restart, clone, names, unknown
sessions and the idle sweep."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from sessions.kernel.registry import NAME_RULE, Registry, SessionEntry, pid_alive
from tests.support.cli import cli, command

pytestmark = pytest.mark.kernel

NOTEBOOK = '# %%\nhits = globals().get("hits", 0) + 1\n\n# %%\nprint("hits", hits)\n'


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sx", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.delenv("SESSIONS_IDLE_TIMEOUT", raising=False)
    yield folder
    for entry in Registry().entries():  # whatever a failed test left running
        for pid in (entry.owner_pid, entry.pgid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    return path


def start(notebook: Path, *args: str, env: dict[str, str] | None = None) -> SessionEntry:
    completed = cli("start", str(notebook), "--detach", *args, env=env)
    assert completed.returncode == 0, completed.stderr
    key = completed.stdout.split()[2]
    entry = Registry().get(key)
    assert entry is not None
    return entry


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def read_variable(entry: SessionEntry, expression: str) -> str:
    """Print ``expression`` in the session's kernel with jupyter_client's
    blocking client on the registered connection file; its stdout."""
    messages: list[dict[str, Any]] = []
    client = BlockingKernelClient()
    client.load_connection_file(entry.connection_file)
    client.start_channels()
    try:
        client.wait_for_ready(timeout=10)
        reply = client.execute_interactive(
            f"print({expression})", timeout=10, output_hook=messages.append
        )
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok"
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


def test_detached_start_and_stop_leave_no_processes(runtime: Path, notebook: Path) -> None:
    entry = start(notebook, "--name", "demo")
    assert entry.detached and entry.name == "demo"
    assert entry.notebook == str(notebook)
    # The supervisor owns the kernel: a child of nobody we know, in its own session.
    assert pid_alive(entry.owner_pid) and pid_alive(entry.kernel_pid)
    members = group_members(entry.pgid)
    assert entry.kernel_pid in members and entry.pgid in members
    child = cli("run", str(notebook), "--cell", "0")
    assert child.returncode == 0, child.stderr
    connection = Path(entry.connection_file)
    assert connection.exists()

    stopped = cli("stop", "demo")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped session" in stopped.stdout
    for pid in (entry.owner_pid, entry.kernel_pid, entry.pgid):
        assert not Path(f"/proc/{pid}").exists() or not pid_alive(pid)
    assert group_members(entry.pgid) == []
    assert not connection.exists()
    assert Registry().entries() == []
    assert list(Registry().folder.iterdir()) == []


def test_ls_json_shape(runtime: Path, notebook: Path) -> None:
    entry = start(notebook, "--name", "shape", "--idle-timeout", "30")
    try:
        completed = cli("ls", "--json")
        assert completed.returncode == 0, completed.stderr
        [row] = json.loads(completed.stdout)
        assert row["key"] == entry.key and len(row["key"]) == 8
        assert int(row["key"], 16) >= 0
        assert row["name"] == "shape"
        assert row["notebook"] == str(notebook)
        assert row["state"] == "idle"
        assert row["health"] == "ok"
        assert row["python"] == entry.python
        assert isinstance(row["idle_seconds"], float) and row["idle_seconds"] >= 0
        assert row["detached"] is True and row["clone_of"] is None
        assert row["idle_timeout"] == 30
        assert row["owner_pid"] == entry.owner_pid and row["kernel_pid"] == entry.kernel_pid
        table = cli("ls")
        assert entry.key in table.stdout and "shape" in table.stdout and "ok" in table.stdout
    finally:
        cli("stop", entry.key)


def test_unknown_session_is_a_clear_error_listing_the_live_ones(
    runtime: Path, notebook: Path
) -> None:
    entry = start(notebook, "--name", "alive")
    try:
        for verb in ("stop", "restart", "console"):
            completed = cli(verb, "deadbeef")
            assert completed.returncode == 2
            assert "no such session: 'deadbeef'" in completed.stderr
            assert f"{entry.key} (alive)" in completed.stderr
        assert Registry().get(entry.key) is not None
    finally:
        cli("stop", entry.key)


@pytest.mark.parametrize("name", ["with space", "dot.ted", "slash/ed", "", "é" * 129, "a;b"])
def test_bad_names_are_refused_with_the_rule(runtime: Path, notebook: Path, name: str) -> None:
    completed = cli("start", str(notebook), "--detach", "--name", name)
    assert completed.returncode == 2
    assert NAME_RULE in completed.stderr
    assert Registry().entries() == []


def test_good_unicode_name_at_the_byte_limit_and_duplicates(runtime: Path, notebook: Path) -> None:
    name = "é" * 127 + "-_"  # 256 bytes
    entry = start(notebook, "--name", name)
    try:
        again = cli("start", str(notebook), "--detach", "--name", name)
        assert again.returncode == 2 and f"already used by session {entry.key}" in again.stderr
    finally:
        assert cli("stop", name).returncode == 0


def test_console_attach_sees_notebook_variables(runtime: Path, notebook: Path) -> None:
    entry = start(notebook)
    try:
        assert cli("run", str(notebook)).returncode == 0
        if importlib.util.find_spec("jupyter_console") is None:
            completed = cli("console", entry.key)
            assert completed.returncode == 2
            assert "-m pip install jupyter-console" in completed.stderr
        else:
            completed = cli(
                "console",
                entry.key,
                input="print('seen', hits * 10)\n",  # then EOF: Ctrl-D detaches
                timeout=60,
            )
            assert "seen 10" in completed.stdout
            assert "Ctrl-D leaves and keeps the kernel running" in completed.stderr
        assert read_variable(entry, "'seen', hits * 10") == "seen 10\n"
        assert pid_alive(entry.kernel_pid)  # leaving the console only detached
    finally:
        cli("stop", entry.key)


def test_restart_verb_gives_a_new_kernel_process(runtime: Path, notebook: Path) -> None:
    entry = start(notebook)
    try:
        assert cli("run", str(notebook)).returncode == 0
        completed = cli("restart", str(notebook))
        assert completed.returncode == 0, completed.stderr
        after = Registry().get(entry.key)
        assert after is not None and after.kernel_pid != entry.kernel_pid
        assert after.restarts == 1 and after.executed == []
        assert not pid_alive(entry.kernel_pid)
        assert read_variable(after, "'hits' in globals()") == "False\n"
    finally:
        cli("stop", entry.key)


def test_clone_replays_the_loaded_cells(runtime: Path, notebook: Path) -> None:
    source = start(notebook, "--name", "source")
    try:
        assert cli("run", str(notebook), "--cell", "0").returncode == 0
        assert cli("run", str(notebook), "--cell", "0").returncode == 0  # hits == 2 there
        completed = cli("clone", "source", "--name", "copy")
        assert completed.returncode == 0, completed.stderr
        assert "replayed cells 0" in completed.stdout
        clone = Registry().resolve("copy")
        assert clone.clone_of == source.key and clone.kernel_pid != source.kernel_pid
        assert read_variable(clone, "hits") == "1\n"  # replayed once, in a new process
        listing = json.loads(cli("ls", "--json").stdout)
        assert {row["name"]: row["clone_of"] for row in listing} == {
            "source": None,
            "copy": source.key,
        }
        assert "clone of " + source.key in cli("ls").stdout
    finally:
        cli("stop", "copy")
        cli("stop", "source")


def test_idle_sweep_stops_an_idle_kernel(runtime: Path, notebook: Path) -> None:
    env = {**os.environ, "SESSIONS_IDLE_TIMEOUT": "0.02"}  # 1.2 s
    entry = start(notebook, env=env)
    assert entry.idle_timeout == 0.02
    assert wait_until(lambda: not pid_alive(entry.owner_pid), 15)
    assert wait_until(lambda: group_members(entry.pgid) == [], 5)
    assert Registry().entries() == []


def test_idle_sweep_never_stops_a_busy_kernel(runtime: Path, notebook: Path) -> None:
    entry = start(notebook, "--idle-timeout", "0.02")
    client = BlockingKernelClient()
    client.load_connection_file(entry.connection_file)
    client.start_channels()
    try:
        client.wait_for_ready(timeout=10)
        result: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: result.update(
                client.execute_interactive("import time; time.sleep(4)", timeout=30)
            )
        )
        thread.start()
        time.sleep(3.5)  # far beyond the 1.2 s timeout, still running
        assert pid_alive(entry.kernel_pid)
        current = Registry().get(entry.key)
        assert current is not None and current.state == "busy"
        thread.join(30)
        assert result["content"]["status"] == "ok"
    finally:
        client.stop_channels()
    # Idle from now on: swept.
    assert wait_until(lambda: not pid_alive(entry.owner_pid), 15)
    assert wait_until(lambda: group_members(entry.pgid) == [], 5)


def test_foreground_start_is_not_detached_and_ctrl_c_leaves_nothing(
    runtime: Path, notebook: Path
) -> None:
    owner = subprocess.Popen(
        command("start", str(notebook), "--name", "fg"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        announced = owner.stdout.readline()  # blocks until the kernel is registered
        assert announced.startswith("started session") and "Ctrl-C to stop" in announced
        (entry,) = Registry().entries()
        listed = json.loads(cli("ls", "--json").stdout)
        assert [(s["name"], s["detached"]) for s in listed] == [("fg", False)]
        assert cli("run", str(notebook)).returncode == 0  # others attach to it
        owner.send_signal(signal.SIGINT)
        assert owner.wait(timeout=30) == 0
        deadline = time.monotonic() + 3
        while group_members(entry.pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_members(entry.pgid) == []
        assert Registry().entries() == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
