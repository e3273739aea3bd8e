"""No orphans: when the process that owns a kernel goes away — normal exit
without shutdown, crash, SIGTERM or SIGKILL — the kernel, its watchdog and
the processes a cell started are gone within 3 s, and so are the runtime files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

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
