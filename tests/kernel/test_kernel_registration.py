"""The registry entry of a kernel whose ``idle`` status was lost (issue 11,
item 7: after a run of 100,000 flushed stderr lines the kernel was idle but
the registry said "busy" for good). A full IOPub queue drops the status for
our subscriber; here the session is made to miss it, on a real kernel."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessions.kernel.registration import Registration
from sessions.kernel.registry import Registry
from sessions.kernel.session import KernelSession

pytestmark = pytest.mark.kernel


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime folder (short path: IPC sockets) for this test's registry."""
    folder = Path(tempfile.mkdtemp(prefix="sx", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def drop_idle_of_next_execute(session: KernelSession) -> None:
    """The next execute request's closing ``idle`` never reaches this process."""
    handle = session._handle_iopub
    dropped: list[str] = []

    def handle_without_idle(msg: dict[str, Any]) -> None:
        parent = msg["parent_header"]
        if (
            not dropped
            and msg["msg_type"] == "status"
            and msg["content"].get("execution_state") == "idle"
            and parent.get("msg_type") == "execute_request"
        ):
            dropped.append(parent["msg_id"])
            return
        handle(msg)

    session._handle_iopub = handle_without_idle  # type: ignore[method-assign]


async def wait_for_state(registry: Registry, key: str, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        entry = registry.read(key)
        if entry is not None and entry.state == state:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"registry entry is {entry and entry.state!r}, not {state!r}")
        await asyncio.sleep(0.05)


async def test_a_lost_idle_does_not_leave_the_entry_busy(runtime: Path, tmp_path: Path) -> None:
    session = KernelSession(sys.executable, tmp_path, idle_timeout=0.5)
    await session.start()
    try:
        registry = Registry()
        registration = Registration(registry, session, tmp_path / "nb.py", poll_interval=0.05)
        registration.begin()
        drop_idle_of_next_execute(session)
        result = await session.execute("import sys; print('x', file=sys.stderr)", lambda o: None)
        assert result.idle_missing
        await wait_for_state(registry, registration.key, "idle")
        assert not registration.running
        # The next run is tracked as usual.
        result = await session.execute("y = 1", lambda o: None)
        assert result.status == "ok" and not result.idle_missing
        await wait_for_state(registry, registration.key, "idle")
        assert not registration.running
    finally:
        await session.shutdown()


async def test_the_next_execute_ends_one_whose_idle_was_lost(runtime: Path, tmp_path: Path) -> None:
    """Another client's request (not ours to wait for): the kernel runs one
    execute at a time, so the next one's ``busy`` means it is over."""
    session = KernelSession(sys.executable, tmp_path, idle_timeout=60)
    await session.start()
    try:
        registration = Registration(Registry(), session, tmp_path / "nb.py", poll_interval=0.05)
        registration.begin()
        lost = {
            "msg_type": "status",
            "parent_header": {"msg_id": "other-client-1", "msg_type": "execute_request"},
            "content": {"execution_state": "busy"},
        }
        registration._on_message(lost)  # its idle never comes
        assert registration.running
        result = await session.execute("z = 1", lambda o: None)
        assert result.status == "ok"
        assert not registration.running
        assert os.getpid() == registration.entry.owner_pid
    finally:
        await session.shutdown()
