"""KernelSession against real ipykernel processes: outputs, interrupt, restart,
death, shutdown. Read-only tests share one kernel; the others get their own."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sessions.kernel import ExecuteResult, KernelDeadError, KernelSession, KernelStartError

pytestmark = [pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]


def process_alive(pid: int) -> bool:
    """Running (zombies count as gone: nothing may reap an orphan quickly)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


async def wait_gone(pid: int, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        await asyncio.sleep(0.02)
    return not process_alive(pid)


async def run(session: KernelSession, code: str) -> tuple[ExecuteResult, list[dict[str, Any]]]:
    outputs: list[dict[str, Any]] = []
    result = await session.execute(code, outputs.append)
    return result, outputs


def stdout_of(outputs: list[dict[str, Any]]) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream")


@pytest.fixture(scope="module")
def notebook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebook folder")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(notebook_dir: Path) -> AsyncIterator[KernelSession]:
    session = KernelSession(sys.executable, notebook_dir)
    try:
        await session.start()
        yield session
    finally:
        await session.shutdown()


@pytest_asyncio.fixture(loop_scope="module")
async def kernel(tmp_path: Path) -> AsyncIterator[KernelSession]:
    session = KernelSession(sys.executable, tmp_path)
    try:
        await session.start()
        yield session
    finally:
        await session.shutdown()


# -- outputs (shared kernel) ------------------------------------------------------


async def test_streams_and_execute_result(shared: KernelSession) -> None:
    result, outputs = await run(
        shared, "import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7"
    )
    assert result.status == "ok"
    assert result.execution_count is not None
    assert {"output_type": "stream", "name": "stdout", "text": "out\n"} in outputs
    assert {"output_type": "stream", "name": "stderr", "text": "err\n"} in outputs
    assert outputs[-1] == {
        "output_type": "execute_result",
        "data": {"text/plain": "42"},
        "metadata": {},
        "execution_count": result.execution_count,
    }
    assert result.started is not None
    assert result.duration > 0


async def test_display_data_and_updates(shared: KernelSession) -> None:
    result, outputs = await run(
        shared,
        "from IPython.display import HTML, display, clear_output\n"
        "display(HTML('<b>hi</b>'))\n"
        "handle = display('first', display_id='progress')\n"
        "handle.update('second')\n"
        "clear_output(wait=True)\n",
    )
    assert result.status == "ok"
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["display_data", "display_data", "update_display_data", "clear_output"]
    assert outputs[0]["data"]["text/html"] == "<b>hi</b>"
    assert outputs[1]["transient"] == {"display_id": "progress"}
    assert outputs[2]["data"]["text/plain"] == "'second'"
    assert outputs[2]["transient"] == {"display_id": "progress"}
    assert outputs[3] == {"output_type": "clear_output", "wait": True}


async def test_error_result_and_output(shared: KernelSession) -> None:
    result, outputs = await run(shared, "def f():\n    return {}['missing']\nf()")
    assert result.status == "error"
    assert result.ename == "KeyError"
    assert result.evalue == "'missing'"
    assert any("f()" in line for line in result.traceback)
    assert [o["output_type"] for o in outputs] == ["error"]
    assert outputs[0]["ename"] == "KeyError"
    # The kernel stays usable after an error.
    assert (await run(shared, "1"))[0].status == "ok"


async def test_silent_execution_has_no_count_and_no_result(shared: KernelSession) -> None:
    before, _ = await run(shared, "0")
    silent_outputs: list[dict[str, Any]] = []
    silent = await shared.execute("print('quiet'); 5", silent_outputs.append, silent=True)
    after, _ = await run(shared, "0")
    assert silent.status == "ok"
    assert [o["output_type"] for o in silent_outputs] == ["stream"]
    assert after.execution_count == (before.execution_count or 0) + 1


async def test_input_is_refused_instead_of_hanging(shared: KernelSession) -> None:
    result, _ = await run(shared, "input('name? ')")
    assert result.status == "error"
    assert result.ename == "StdinNotImplementedError"


async def test_concurrent_requests_keep_their_own_outputs(shared: KernelSession) -> None:
    (first, out1), (second, out2) = await asyncio.gather(
        run(shared, "import time; time.sleep(0.1); print('one')"), run(shared, "print('two')")
    )
    assert (first.status, second.status) == ("ok", "ok")
    assert stdout_of(out1) == "one\n"
    assert stdout_of(out2) == "two\n"


async def test_state_follows_busy_and_idle(shared: KernelSession) -> None:
    states: list[str] = []
    unsubscribe = shared.on_state(states.append)
    try:
        await run(shared, "import time; time.sleep(0.05)")
    finally:
        unsubscribe()
    assert states == ["busy", "idle"]
    assert shared.state == "idle"


async def test_cwd_is_the_notebook_folder(shared: KernelSession, notebook_dir: Path) -> None:
    _, outputs = await run(shared, "import os; print(os.getcwd())")
    assert stdout_of(outputs).strip() == str(notebook_dir)


async def test_connection_file_is_private_and_uses_ipc(shared: KernelSession) -> None:
    path = shared.connection_file
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o777 == 0o700
    assert '"transport": "ipc"' in path.read_text()
    assert shared.kernel_info["language_info"]["name"] == "python"


async def test_pid_is_the_kernel_in_its_own_process_group(shared: KernelSession) -> None:
    _, outputs = await run(shared, "import os; print(os.getpid(), os.getpgrp())")
    pid, pgrp = map(int, stdout_of(outputs).split())
    assert pid == shared.pid
    assert pgrp == shared.pgid
    assert pgrp != os.getpgrp()


async def test_language_comes_from_kernel_info(shared: KernelSession) -> None:
    assert shared.language == f"python {platform.python_version()}"


# -- the end of a request: reply plus idle, the wait for idle bounded ---------------------


def drop_idle_status(session: KernelSession) -> None:
    """Lose every ``idle`` status on the way in, as an overflowing IOPub queue did."""
    handle = session._handle_iopub

    def without_idle(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
            return
        handle(msg)

    session._handle_iopub = without_idle  # type: ignore[method-assign]


async def test_a_lost_idle_ends_the_request_after_the_bound(kernel: KernelSession) -> None:
    kernel.idle_timeout = 0.3
    drop_idle_status(kernel)
    code = (
        "import threading\n"
        "print('now', flush=True)\n"
        "threading.Timer(1.0, lambda: print('after the bound', flush=True)).start()\n"
    )
    start = time.monotonic()
    result, outputs = await asyncio.wait_for(run(kernel, code), 10)
    assert time.monotonic() - start < 3
    assert result.status == "ok" and result.idle_missing
    text = stdout_of(outputs)
    assert text.startswith("now\n") and "did not arrive within 0.3 s of its reply" in text
    # What the kernel publishes for it later is not in its result, but counted.
    await wait_until_true(lambda: kernel.late_outputs == 1)
    assert "after the bound" not in stdout_of(outputs)


async def test_a_reader_that_is_behind_is_waited_for(kernel: KernelSession) -> None:
    # The kernel replies long before this slow consumer has read its 2,000
    # outputs: the bounded wait counts silence, not time since the reply.
    kernel.idle_timeout = 0.3
    lines: list[str] = []

    def slow(output: dict[str, Any]) -> None:
        time.sleep(0.001)  # blocks the event loop, like a busy server
        lines.append(output.get("text", ""))

    code = "for i in range(2000):\n    print(i, flush=True)\n"
    result = await asyncio.wait_for(kernel.execute(code, slow), 60)
    assert result.status == "ok" and not result.idle_missing
    assert "".join(lines) == "".join(f"{i}\n" for i in range(2000))


async def wait_until_true(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# -- interrupt and restart ----------------------------------------------------------


async def test_interrupt_stops_a_sleeping_cell_quickly(kernel: KernelSession) -> None:
    await run(kernel, "kept = 1")
    running = asyncio.create_task(run(kernel, "import time; time.sleep(60)"))
    await asyncio.sleep(0.3)
    states: list[str] = [kernel.state]
    started = time.perf_counter()
    await kernel.interrupt()
    result, outputs = await running
    elapsed = time.perf_counter() - started
    assert result.status == "interrupted"
    assert result.ename == "KeyboardInterrupt"
    assert elapsed < 1.0
    states.append(kernel.state)
    assert states == ["busy", "idle"]
    # The same kernel goes on, namespace intact.
    _, outputs = await run(kernel, "print(kept)")
    assert stdout_of(outputs) == "1\n"


async def test_interrupt_escalates_to_restart_when_ignored(kernel: KernelSession) -> None:
    await run(kernel, "kept = 1")
    old_pid = kernel.pid
    states: list[str] = []
    kernel.on_state(states.append)
    running = asyncio.create_task(
        run(
            kernel,
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
        )
    )
    await asyncio.sleep(0.3)
    await kernel.interrupt(escalate_after=0.5)
    result, _ = await asyncio.wait_for(running, 5)
    assert result.status == "interrupted"
    assert "restarting" in states
    assert kernel.state == "idle"
    assert old_pid is not None and kernel.pid != old_pid
    assert await wait_gone(old_pid)
    result, _ = await run(kernel, "kept")
    assert result.ename == "NameError"


async def test_interrupt_when_idle_does_nothing(kernel: KernelSession) -> None:
    pid = kernel.pid
    await kernel.interrupt(escalate_after=0.1)
    assert kernel.pid == pid
    assert (await run(kernel, "1"))[0].status == "ok"


async def test_restart_clears_variables(kernel: KernelSession) -> None:
    await run(kernel, "x = 41")
    old_pid, old_file = kernel.pid, kernel.connection_file
    await kernel.restart()
    assert kernel.state == "idle"
    assert kernel.pid != old_pid
    assert old_file is not None and not old_file.exists()
    result, _ = await run(kernel, "x")
    assert result.status == "error"
    assert result.ename == "NameError"


# -- kernel death ------------------------------------------------------------------

DEATHS = {
    "os._exit": "import os; os._exit(1)",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "SIGKILL": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
}


@pytest.mark.parametrize("how", DEATHS)
async def test_death_is_detected_promptly(kernel: KernelSession, how: str) -> None:
    pid = kernel.pid
    assert pid is not None
    outputs: list[dict[str, Any]] = []
    code = "print('before', flush=True)\nimport time; time.sleep(0.3)\n" + DEATHS[how]
    started = time.perf_counter()
    result = await asyncio.wait_for(kernel.execute(code, outputs.append), 10)
    assert result.status == "dead"
    assert time.perf_counter() - started < 2.0
    assert stdout_of(outputs) == "before\n"
    assert kernel.state == "dead"
    assert kernel.death_reason is not None
    expected = {"os._exit": "exit code 1", "segfault": "SIGSEGV", "SIGKILL": "SIGKILL"}[how]
    assert expected in kernel.death_reason
    assert not process_alive(pid)
    with pytest.raises(KernelDeadError):
        await run(kernel, "1")
    await kernel.restart()
    assert (await run(kernel, "1"))[0].status == "ok"


async def test_kernel_killed_from_outside_while_running(kernel: KernelSession) -> None:
    assert kernel.pid is not None
    running = asyncio.create_task(run(kernel, "import time; time.sleep(60)"))
    await asyncio.sleep(0.3)
    os.kill(kernel.pid, signal.SIGKILL)
    result, _ = await asyncio.wait_for(running, 2.0)
    assert result.status == "dead"
    assert kernel.state == "dead"


# -- shutdown ----------------------------------------------------------------------


async def test_shutdown_ends_the_cells_children_and_removes_files(tmp_path: Path) -> None:
    session = KernelSession(sys.executable, tmp_path)
    try:
        await session.start()
        _, outputs = await run(
            session,
            "import subprocess; child = subprocess.Popen(['sleep', '1000']); print(child.pid)",
        )
        child = int(stdout_of(outputs))
        kernel_pid = session.pid
        connection = session.connection_file
        assert kernel_pid is not None and connection is not None
        assert process_alive(child)
    finally:
        await session.shutdown()
    assert session.state == "stopped"
    assert await wait_gone(child)
    assert await wait_gone(kernel_pid)
    assert not connection.exists()
    assert list(connection.parent.glob(connection.stem + "*")) == []
    await session.shutdown()  # idempotent
    with pytest.raises(KernelDeadError):
        await run(session, "1")


async def test_for_notebook_runs_in_the_notebook_folder(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\n")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    async with KernelSession.for_notebook(notebook, workspace_root=tmp_path, env=env) as session:
        assert session.python == sys.executable
        _, outputs = await run(session, "import os; print(os.getcwd())")
    assert stdout_of(outputs).strip() == str(tmp_path)
    assert session.state == "stopped"


async def test_kernel_dying_at_start_up_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    # A fake ipykernel_launcher ahead on the kernel's PYTHONPATH (the watchdog
    # runs isolated, the setup check with our environment: only the kernel sees it).
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "ipykernel_launcher.py").write_text(
        "import sys\nprint('boom: cannot start', file=sys.stderr)\nsys.exit(3)\n"
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, PYTHONPATH=str(fake))
    session = KernelSession(sys.executable, tmp_path, env=env, runtime_folder=runtime)
    states: list[str] = []
    session.on_state(states.append)
    with pytest.raises(KernelStartError) as raised:
        await asyncio.wait_for(session.start(), 10)
    assert "exit code 3" in str(raised.value)
    assert "boom: cannot start" in str(raised.value)
    assert states == ["starting", "dead"]
    assert session.death_reason == str(raised.value)
    assert list(runtime.iterdir()) == []
    with pytest.raises(KernelDeadError):
        await run(session, "1")


async def test_shutdown_while_busy_ends_the_execution_quickly(tmp_path: Path) -> None:
    session = KernelSession(sys.executable, tmp_path)
    try:
        await session.start()
        running = asyncio.create_task(run(session, "import time; time.sleep(60)"))
        await asyncio.sleep(0.3)
    finally:
        started = time.perf_counter()
        await session.shutdown()
    assert time.perf_counter() - started < 1.5
    result, _ = await running
    assert result.status == "dead"
    assert session.state == "stopped"
