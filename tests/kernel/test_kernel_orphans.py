"""No orphans: when the process that owns a kernel goes away — normal exit
without shutdown, crash, SIGTERM or SIGKILL — the kernel, its watchdog and
the processes a cell started are gone within 3 s, and so are the runtime files.
A child in a session of its own ends with its kernel too (shutdown, restart),
and a SIGKILLed watchdog is a dead kernel with a reason, not a silent one.
(``test_kernel_escapes.py`` does the same with a real ``sessions run``.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sessions.kernel import KernelDeadError, KernelSession

pytestmark = pytest.mark.kernel

OWNER_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from sessions.kernel import KernelSession

    async def main(mode: str) -> None:
        session = KernelSession(sys.executable, Path.cwd())
        await session.start()
        outputs = []
        code = "import subprocess; child = subprocess.Popen(['sleep', '1000']); print(child.pid)"
        await session.execute(code, outputs.append)
        child = int("".join(o["text"] for o in outputs if o["output_type"] == "stream"))
        print(json.dumps({
            "kernel": session.pid, "watchdog": session.pgid, "child": child,
            "connection_file": str(session.connection_file),
        }), flush=True)
        if mode == "exit":
            return  # ends the program without shutting the kernel down
        if mode == "crash":
            raise RuntimeError("owner crashed")
        time.sleep(1000)  # wait to be killed

    asyncio.run(main(sys.argv[1]))
    """
)


def process_alive(pid: int) -> bool:
    """Running (zombies count as gone: nothing may reap an orphan quickly)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def wait_all_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if process_alive(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if process_alive(pid)]


@pytest.mark.parametrize("how", ["exit", "crash", "SIGTERM", "SIGKILL"])
def test_kernel_and_its_children_die_with_the_owner(tmp_path: Path, how: str) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER_SCRIPT)
    mode = how if how in ("exit", "crash") else "wait"
    owner = subprocess.Popen(
        [sys.executable, str(script), mode],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids: list[int] = []
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line, owner.stderr.read() if owner.stderr else "owner printed nothing"
        info = json.loads(line)
        pids = [info["kernel"], info["watchdog"], info["child"]]
        assert all(process_alive(pid) for pid in pids)
        if how == "SIGTERM":
            owner.send_signal(signal.SIGTERM)
        elif how == "SIGKILL":
            owner.kill()
        owner.wait(timeout=10)
        if how == "crash":
            assert owner.returncode == 1
            assert owner.stderr is not None and "owner crashed" in owner.stderr.read()

        assert wait_all_gone(pids, timeout=3.0) == []
        connection = Path(info["connection_file"])
        assert not connection.exists()
        assert list(connection.parent.glob(connection.stem + "*")) == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in pids:  # never leave a failed test's processes behind
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
        for stream in (owner.stdout, owner.stderr):
            if stream is not None:
                stream.close()


# -- escapes and a killed watchdog, in process (issue 11) -----------------------

# A child that leaves the kernel's process group and session at once.
ESCAPE_CODE = (
    "import subprocess\n"
    "escaped = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
    "print(escaped.pid)"
)


async def start_with_escapee(tmp_path: Path) -> tuple[KernelSession, int]:
    session = KernelSession(sys.executable, tmp_path)
    await session.start()
    outputs: list[dict[str, Any]] = []
    result = await session.execute(ESCAPE_CODE, outputs.append)
    assert result.status == "ok", outputs
    escaped = int("".join(o["text"] for o in outputs if o["output_type"] == "stream"))
    assert process_alive(escaped)
    return session, escaped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreaper: Linux")
@pytest.mark.parametrize("how", ["shutdown", "restart"])
async def test_a_child_in_its_own_session_ends_with_its_kernel(tmp_path: Path, how: str) -> None:
    session, escaped = await start_with_escapee(tmp_path)
    try:
        if how == "shutdown":
            await session.shutdown()
        else:
            await session.restart()
            assert session.state == "idle"
        assert wait_all_gone([escaped], timeout=3.0) == []
    finally:
        await session.shutdown()
        if process_alive(escaped):
            os.kill(escaped, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG: Linux")
async def test_a_sigkilled_watchdog_is_a_dead_kernel_with_a_reason(tmp_path: Path) -> None:
    session, escaped = await start_with_escapee(tmp_path)
    kernel, watchdog = session.pid, session.pgid
    assert kernel is not None and watchdog is not None
    connection = session.connection_file
    assert connection is not None
    try:
        running = asyncio.ensure_future(session.execute("import time; time.sleep(1000)", [].append))
        await asyncio.sleep(0.3)
        os.kill(watchdog, signal.SIGKILL)
        result = await asyncio.wait_for(running, 5)
        assert result.status == "dead"
        assert session.state == "dead"
        assert session.death_reason is not None
        assert "the kernel's watchdog was killed by SIGKILL" in session.death_reason
        assert wait_all_gone([kernel, escaped, watchdog], timeout=3.0) == []
        assert not connection.exists()
        with pytest.raises(KernelDeadError, match="watchdog was killed"):
            await session.execute("1", [].append)
    finally:
        await session.shutdown()
        for pid in (kernel, escaped):
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
