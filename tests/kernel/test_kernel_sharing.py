"""Sharing one kernel between clients through the session registry: an owner
in this process, `sessions run` in other processes, attached clients that
interrupt, restart and detach without killing what is not theirs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sessions.format.hashing import code_hash
from sessions.format.notebook import parse
from sessions.kernel import KernelSession
from sessions.kernel.attached import AttachedKernel
from sessions.kernel.registration import Registration
from sessions.kernel.registry import Registry, pid_alive
from sessions.run.kernel_factory import attach_or_start
from tests.support.cli import cli

pytestmark = pytest.mark.kernel


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime folder (short path: IPC sockets) for this test's registry."""
    folder = Path(tempfile.mkdtemp(prefix="sx", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    for entry in Registry().entries():  # whatever a failed test left running
        for pid in (entry.pgid, entry.owner_pid if entry.detached else 0):
            if pid > 0 and pid != os.getpid():
                kill_quietly(pid)
    shutil.rmtree(folder, ignore_errors=True)


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


@pytest.fixture
async def owned(runtime: Path, tmp_path: Path) -> AsyncIterator[tuple[KernelSession, Path]]:
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\ndoubled = shared_value * 2\nprint(doubled)\n")
    kernel = await attach_or_start(notebook)
    try:
        yield kernel, notebook
    finally:
        await kernel.shutdown()


async def run_code(kernel: KernelSession, code: str) -> tuple[str, str]:
    outputs: list[dict[str, Any]] = []
    result = await kernel.execute(code, outputs.append)
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    return result.status, text


async def test_cli_run_attaches_to_the_kernel_this_process_owns(
    owned: tuple[KernelSession, Path],
) -> None:
    kernel, notebook = owned
    assert isinstance(kernel, KernelSession) and not isinstance(kernel, AttachedKernel)
    status, _ = await run_code(kernel, "shared_value = 21")
    assert status == "ok"
    [entry] = Registry().for_notebook(notebook)
    assert entry.owner_pid == os.getpid() and entry.kernel_pid == kernel.pid

    completed = await asyncio.to_thread(cli, "run", str(notebook), "--json")
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert summary["cells"][0]["outputs"][0]["text"] == "42\n"

    # The other way round: what the terminal defined is here, and the
    # terminal's exit only detached it.
    assert pid_alive(entry.kernel_pid)
    status, text = await run_code(kernel, "print(doubled + 1)")
    assert (status, text) == ("ok", "43\n")
    after = Registry().get(entry.key)
    assert after is not None
    cell_code = parse(notebook.read_text()).cells[0].code
    assert code_hash(cell_code) in after.executed
    # The activity itself is written by the owner's poller within its
    # ``poll_interval`` (0.25 s), not with each cell: wait for that write.
    deadline = time.monotonic() + 10
    while after.last_activity <= entry.last_activity and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        found = Registry().get(entry.key)
        assert found is not None
        after = found
    assert after.last_activity > entry.last_activity


async def test_two_cli_runs_share_a_detached_kernel(runtime: Path, tmp_path: Path) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text(
        '# %%\nhits = globals().get("hits", 0) + 1\n\n# %%\nimport os\nprint(hits, os.getpid())\n'
    )
    started = await asyncio.to_thread(cli, "start", str(notebook), "--detach")
    assert started.returncode == 0, started.stderr
    [entry] = Registry().for_notebook(notebook)
    try:
        seen = []
        for _ in range(2):
            completed = await asyncio.to_thread(cli, "run", str(notebook), "--json")
            assert completed.returncode == 0, completed.stderr
            seen.append(json.loads(completed.stdout)["cells"][1]["outputs"][0]["text"].split())
        assert seen == [["1", str(entry.kernel_pid)], ["2", str(entry.kernel_pid)]]
    finally:
        stopped = await asyncio.to_thread(cli, "stop", entry.key)
    assert stopped.returncode == 0, stopped.stderr


async def test_fresh_starts_a_new_kernel(owned: tuple[KernelSession, Path]) -> None:
    kernel, notebook = owned
    await run_code(kernel, "shared_value = 1")
    completed = await asyncio.to_thread(cli, "run", str(notebook), "--fresh", "--json")
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["cells"][0]["outputs"][0]["ename"] == "NameError"


async def attached_to(kernel: KernelSession) -> AttachedKernel:
    [entry] = [e for e in Registry().entries() if e.kernel_pid == kernel.pid]
    return await AttachedKernel.attach(entry, Registry())


async def test_attached_client_shares_interrupts_and_detaches(
    owned: tuple[KernelSession, Path],
) -> None:
    kernel, _ = owned
    attached = await attached_to(kernel)
    assert attached.pid == kernel.pid and attached.state == "idle"
    assert await run_code(kernel, "from_owner = 5") == ("ok", "")
    assert await run_code(attached, "print(from_owner * 3)") == ("ok", "15\n")

    # Interrupt from the attached client: SIGINT to the kernel's group.
    task = asyncio.create_task(
        run_code(attached, "import time\nprint('go', flush=True)\ntime.sleep(30)")
    )
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await attached.interrupt()
    status, text = await asyncio.wait_for(task, 10)
    assert status == "interrupted" and text == "go\n"
    assert time.monotonic() - started < 3.0  # ended by SIGINT, not by escalation

    # Detaching leaves the owner's kernel running, namespace intact.
    await attached.shutdown()
    assert attached.state == "stopped"
    assert pid_alive(kernel.pid or 0)
    assert await run_code(kernel, "print(from_owner)") == ("ok", "5\n")


async def test_restart_from_an_attached_client_goes_through_the_owner(
    owned: tuple[KernelSession, Path],
) -> None:
    kernel, notebook = owned
    old_pid = kernel.pid
    await run_code(kernel, "before_restart = 1")
    attached = await attached_to(kernel)
    states: list[str] = []
    kernel.on_state(states.append)
    try:
        await asyncio.wait_for(attached.restart(), 60)
        assert attached.pid == kernel.pid and kernel.pid != old_pid
        assert not pid_alive(old_pid or 0)
        assert "restarting" in states  # the owner's runner forgets what was loaded
        status, text = await run_code(attached, "print('before_restart' in globals())")
        assert (status, text) == ("ok", "False\n")
        # The owner logs the code when *its* IOPub brings the idle, which may
        # come a little after the attached client's own: wait for it.
        loaded = [code_hash("print('before_restart' in globals())")]
        deadline = time.monotonic() + 10
        [entry] = Registry().for_notebook(notebook)
        while entry.executed != loaded and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            [entry] = Registry().for_notebook(notebook)
        assert entry.restarts == 1 and entry.kernel_pid == kernel.pid and entry.executed == loaded
    finally:
        await attached.shutdown()


async def test_attached_client_follows_an_owner_restart_and_sees_the_owner_go(
    owned: tuple[KernelSession, Path],
) -> None:
    kernel, _ = owned
    attached = await attached_to(kernel)
    states: list[str] = []
    attached.on_state(states.append)
    await kernel.restart()
    deadline = time.monotonic() + 20
    while attached.pid != kernel.pid and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert attached.pid == kernel.pid
    while attached.state != "idle" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert "restarting" in states
    assert await run_code(attached, "print(2 + 2)") == ("ok", "4\n")

    await kernel.shutdown()
    while attached.state != "dead" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert attached.state == "dead"
    assert Registry().entries() == []


async def test_registration_is_removed_when_the_kernel_dies(runtime: Path, tmp_path: Path) -> None:
    session = KernelSession(sys.executable, tmp_path)
    await session.start()
    try:
        registration = Registration(Registry(), session, tmp_path / "nb.py")
        registration.begin()
        assert Registry().get(registration.key) is not None
        await session.execute("import os; os._exit(1)", lambda output: None)
        assert session.state == "dead"
        assert Registry().get(registration.key) is None
        assert not (Registry().folder / f"{registration.key}.json").exists()
    finally:
        await session.shutdown()


OWNER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from sessions.run.kernel_factory import attach_or_start

    async def main() -> None:
        kernel = await attach_or_start(Path(sys.argv[1]))
        print(kernel.pid, flush=True)
        time.sleep(1000)

    asyncio.run(main())
    """
)


def test_registry_is_cleaned_after_sigkill_of_the_owner(runtime: Path, tmp_path: Path) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nx = 1\n")
    script = tmp_path / "owner.py"
    script.write_text(OWNER_SCRIPT)
    owner = subprocess.Popen(
        [sys.executable, str(script), str(notebook)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        kernel_pid = int(owner.stdout.readline())
        [entry] = Registry().entries()
        assert (entry.owner_pid, entry.kernel_pid) == (owner.pid, kernel_pid)
        owner.kill()
        owner.wait()
        # The owner could not remove its entry: its watchdog does, as it kills
        # the kernel, before any reader comes by (readers clean up too:
        # test_registry.py).
        entry_file = Registry().entry_path(entry.key)
        deadline = time.monotonic() + 5
        while (pid_alive(kernel_pid) or entry_file.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(kernel_pid)
        assert not entry_file.exists()
        assert Registry().entries() == []
    finally:
        owner.kill()
        owner.wait()
