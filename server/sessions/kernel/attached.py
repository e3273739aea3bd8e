"""A client of a kernel that another process owns (a shared session).

``AttachedKernel`` has ``KernelSession``'s interface (``execute``,
``interrupt``, ``restart``, ``shutdown``, ``state``, ``on_state``...) and its
message routing, but connects to the connection file of a registered session
instead of launching a kernel. What differs is ownership:

- ``shutdown()`` only *detaches*: the channels close, the kernel keeps running
  for its owner and the other clients;
- ``interrupt()`` sends SIGINT to the kernel's process group (same user);
- ``restart()`` asks the owner (a request file in the registry) and waits for
  the new kernel process, then reconnects to it;
- a watcher notices when the kernel process goes away: if the owner has
  restarted it (from any client), the session reconnects (state
  ``restarting`` then ``idle``, so runners forget what was loaded); if the
  session is gone, the state becomes ``dead``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient

from sessions.kernel.errors import KernelDeadError, KernelStartError
from sessions.kernel.handshake import kernel_info_round
from sessions.kernel.registry import Registry, SessionEntry, pid_alive
from sessions.kernel.session import ExecuteStatus, KernelSession, _shared_context

_WATCH_SECONDS = 0.25


class AttachedKernel(KernelSession):
    """A shared kernel, seen from a client that does not own it."""

    def __init__(self, entry: SessionEntry, registry: Registry, *, connect_timeout: float = 5.0):
        super().__init__(entry.python, Path(entry.notebook).parent)
        self.entry = entry
        self.registry = registry
        self.connect_timeout = connect_timeout
        self.executed_source = lambda: registry.executed(entry.key)

    @classmethod
    async def attach(
        cls, entry: SessionEntry, registry: Registry, *, connect_timeout: float = 5.0
    ) -> AttachedKernel:
        """Connect to ``entry``'s kernel; ``KernelStartError`` when it does not answer."""
        kernel = cls(entry, registry, connect_timeout=connect_timeout)
        await kernel.start()
        return kernel

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def pid(self) -> int | None:
        return self.entry.kernel_pid if self._client is not None else None

    @property
    def pgid(self) -> int | None:
        return self.entry.pgid if self._client is not None else None

    @property
    def connection_file(self) -> Path | None:
        return Path(self.entry.connection_file) if self._client is not None else None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Connect (no-op when connected)."""
        async with self._lifecycle:
            if self._client is None:
                await self._connect()

    async def _connect(self) -> None:
        client = AsyncKernelClient(context=_shared_context())
        client.load_connection_file(self.entry.connection_file)
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        try:
            self.kernel_info = await self._wait_ready_control(client)
        except BaseException:
            client.stop_channels()
            raise
        self._client = client
        self._new_kernel_identity()
        self.death_reason = None
        self._tasks = [
            asyncio.create_task(self._read_iopub(client), name="attached-iopub"),
            asyncio.create_task(self._read_shell(client), name="attached-shell"),
            asyncio.create_task(self._watch_kernel(), name="attached-watch"),
        ]
        self._set_state("busy" if self.entry.state == "busy" else "idle")

    async def _wait_ready_control(self, client: AsyncKernelClient) -> dict[str, Any]:
        """``kernel_info`` on the control channel until answered and IOPub is
        connected. Control, not shell: a kernel busy with another client's
        cell still answers there at once."""
        deadline = time.monotonic() + self.connect_timeout
        while time.monotonic() < deadline:
            if not pid_alive(self.entry.kernel_pid):
                break
            content = await kernel_info_round(client, "control")
            if content is not None:
                return content
        raise KernelStartError(
            f"The shared kernel {self.entry.label()} of {self.entry.notebook} did not answer."
        )

    async def _stop(self, *, graceful: bool, pending_status: ExecuteStatus) -> None:
        """Detach: close our channels; the kernel is not ours to stop."""
        client, self._client = self._client, None
        await self._end_tasks()
        if client is not None:
            client.stop_channels()
        self._end_pending(pending_status)

    async def _restart(self, *, graceful: bool) -> None:
        """Ask the owner to restart the kernel, then reconnect to the new one."""
        async with self._lifecycle:
            before = self.registry.read(self.entry.key)
            if before is None:
                raise KernelDeadError(f"The shared session {self.entry.label()} has stopped.")
            self._set_state("restarting")
            await self._stop(graceful=False, pending_status="interrupted")
            self.registry.request(self.entry.key, "restart")
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                current = self.registry.get(self.entry.key)
                if current is None:
                    self._set_state("dead")
                    self.death_reason = f"the shared session {self.entry.label()} stopped"
                    raise KernelDeadError(f"The shared session {self.entry.label()} stopped.")
                if current.restarts > before.restarts and current.state in ("idle", "busy"):
                    self.entry = current
                    await self._connect()
                    return
                await asyncio.sleep(0.05)
            self._set_state("dead")
            self.death_reason = "the owner did not restart the shared kernel"
            raise KernelStartError(
                f"The owner (pid {before.owner_pid}) of session {before.label()} did not "
                f"restart its kernel within {self.startup_timeout:.0f} s."
            )

    async def interrupt(self, *, escalate_after: float = 3.0) -> None:
        """SIGINT to the kernel's process group; restart (through the owner)
        if the running request has not ended after ``escalate_after`` s."""
        if self._client is None or not self._pending:
            return
        for execution in self._pending.values():
            execution.interrupt_requested = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.entry.pgid, signal.SIGINT)
        try:
            await asyncio.wait_for(self._quiet.wait(), escalate_after)
        except TimeoutError:
            await self._restart(graceful=False)

    # -- following the shared kernel -----------------------------------------

    async def _watch_kernel(self) -> None:
        while pid_alive(self.entry.kernel_pid):
            await asyncio.sleep(_WATCH_SECONDS)
        # Gone: restarted by its owner (a new pid in the entry), or stopped.
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            current = self.registry.get(self.entry.key)
            if current is None:
                break
            if current.kernel_pid != self.entry.kernel_pid and current.state in ("idle", "busy"):
                self._death_task = asyncio.create_task(
                    self._reconnect(current), name="attached-reconnect"
                )
                return
            await asyncio.sleep(0.05)
        self._death_task = asyncio.create_task(self._lost(), name="attached-lost")

    async def _reconnect(self, entry: SessionEntry) -> None:
        async with self._lifecycle:
            if self._client is None:
                return  # detached meanwhile
            self._set_state("restarting")
            await self._stop(graceful=False, pending_status="interrupted")
            self.entry = entry
            try:
                await self._connect()
            except KernelStartError as error:
                self.death_reason = str(error)
                self._set_state("dead")

    async def _lost(self) -> None:
        async with self._lifecycle:
            if self._client is None:
                return
            await self._stop(graceful=False, pending_status="dead")
            self.death_reason = f"the shared kernel of session {self.entry.label()} stopped"
            self._set_state("dead")


__all__ = ["AttachedKernel"]
