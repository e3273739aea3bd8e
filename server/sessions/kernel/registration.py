"""The owner's side of the registry: keep a started kernel's entry current.

The process that owns a kernel (its watchdog's ``--owner``) is the only
writer of the kernel's registry entry. ``Registration`` watches the owned
``KernelSession``:

- its IOPub stream, which carries every client's requests: an execute
  request's ``busy``/``idle`` status is *activity* (whoever sent it: another
  editor, a terminal, ``jupyter console``), and a code that ran without error
  is appended to the entry's ``executed`` log — the cells loaded in this
  kernel, which every client's ``run --stale`` trusts and ``clone`` replays;
- its state: a restart clears ``executed`` and records the new connection
  file and kernel pid; a stop or death removes the entry;
- the registry folder, every ``poll_interval``, for a restart request left by
  another process (``sessions restart``, an attached client);
- the idle timeout: once no execute request ran for ``idle_timeout`` minutes
  (and none is running), ``on_idle`` is called (the supervisor shuts down).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sessions.format.hashing import code_hash
from sessions.kernel.registry import Registry, SessionEntry, now_iso, parse_iso
from sessions.kernel.session import KernelSession, KernelState

log = logging.getLogger(__name__)


class Registration:
    """Registers ``session`` (already started) as a live session of ``notebook``."""

    def __init__(
        self,
        registry: Registry,
        session: KernelSession,
        notebook: Path,
        *,
        key: str | None = None,
        name: str | None = None,
        detached: bool = False,
        clone_of: str | None = None,
        idle_timeout: float | None = None,
        on_idle: Callable[[], Awaitable[None]] | None = None,
        poll_interval: float = 0.25,
    ) -> None:
        if session.connection_file is None or session.pid is None or session.pgid is None:
            raise ValueError("register a kernel after it has started")
        self.registry = registry
        self.session = session
        self.poll_interval = poll_interval
        self._on_idle = on_idle
        now = now_iso()
        self.entry = SessionEntry(
            key=key or registry.new_key(),
            notebook=str(Path(notebook).absolute()),
            python=session.python,
            owner_pid=os.getpid(),
            kernel_pid=session.pid,
            pgid=session.pgid,
            connection_file=str(session.connection_file),
            started=now,
            last_activity=now,
            state=session.state,
            name=name,
            detached=detached,
            clone_of=clone_of,
            idle_timeout=idle_timeout,
        )
        self._codes: dict[str, str] = {}
        """Execute requests in flight (msg id -> code) that have not failed so far."""
        self._running: set[str] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._poller: asyncio.Task[None] | None = None
        self._ended = False
        self._dirty = False
        """Activity not yet written: flushed by the poller, off the execution path."""

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def running(self) -> bool:
        """An execute request (from any client) is running."""
        return bool(self._running)

    def begin(self) -> SessionEntry:
        """Write the entry and start following the session (call in its event loop)."""
        self.registry.write(self.entry)
        key = self.entry.key
        self.session.executed_source = lambda: self.registry.executed(key)
        self._unsubscribe = [
            self.session.on_iopub(self._on_message),
            self.session.on_state(self._on_state),
        ]
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="registry-poll")
        return self.entry

    def end(self) -> None:
        """Remove the entry and stop following the session. Idempotent."""
        if self._ended:
            return
        self._ended = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._poller is not None and self._poller is not asyncio.current_task():
            self._poller.cancel()
        self.registry.remove(self.entry.key)

    def idle_seconds(self) -> float:
        if self._running:
            return 0.0
        return (datetime.now(UTC) - parse_iso(self.entry.last_activity)).total_seconds()

    def idle_expired(self) -> bool:
        timeout = self.entry.idle_timeout
        return timeout is not None and not self._running and self.idle_seconds() > timeout * 60

    # -- following the kernel ----------------------------------------------

    def _write(self) -> None:
        if not self._ended:
            self._dirty = False
            state = self.session.state
            # Busy means an execute request runs (any client's). The session's
            # own "busy" outlives a request whose ``idle`` was lost.
            self.entry.state = "busy" if self._running else ("idle" if state == "busy" else state)
            self.registry.write(self.entry, with_executed=False)

    def _on_message(self, msg: dict[str, Any]) -> None:
        msg_type = msg["msg_type"]
        parent = msg.get("parent_header") or {}
        msg_id = parent.get("msg_id", "")
        if msg_type == "execute_input":
            self._codes[msg_id] = str(msg["content"].get("code", ""))
        elif msg_type == "error":
            self._codes.pop(msg_id, None)  # a failing code is not loaded
        elif msg_type == "status" and parent.get("msg_type") == "execute_request":
            state = msg["content"].get("execution_state")
            if state == "busy":
                # The kernel runs one execute request at a time: any other one
                # still listed as running lost its ``idle`` (dropped by a full
                # IOPub queue) and is over. Whether it failed is not known, so
                # its code is not logged as loaded.
                for lost in self._running - {msg_id}:
                    self._running.discard(lost)
                    self._codes.pop(lost, None)
                self._running.add(msg_id)
            elif state == "idle":
                self._running.discard(msg_id)
                code = self._codes.pop(msg_id, None)
                if code is not None and code.strip() and not self._ended:
                    # At once, not with the next entry write: a client that
                    # attaches right after this run must know the code is loaded.
                    self.registry.append_executed(self.entry.key, code_hash(code))
            else:
                return
            self.entry.last_activity = now_iso()
            # Written by the poller within ``poll_interval``: an entry rewrite per
            # cell would sit on every cell's critical path (about 0.5 ms each).
            self._dirty = True

    def _on_state(self, state: KernelState) -> None:
        if state in ("stopped", "dead"):
            self.end()
            return
        if state == "restarting":
            self.entry.executed = []
            self.registry.set_executed(self.entry.key, [])
            self._codes.clear()
            self._running.clear()
        elif state in ("idle", "busy") and self.session.pid not in (None, self.entry.kernel_pid):
            # A new kernel process after a restart.
            assert self.session.pid is not None and self.session.pgid is not None
            self.entry.kernel_pid = self.session.pid
            self.entry.python = self.session.python  # a changed script block's env
            self.entry.pgid = self.session.pgid
            self.entry.connection_file = str(self.session.connection_file)
            self.entry.restarts += 1
            self.entry.last_activity = now_iso()
        elif state in ("idle", "busy"):
            # Every cell turns the kernel busy then idle: the poller writes the
            # entry within ``poll_interval`` instead of each cell waiting on two
            # file replaces (about 0.7 ms a cell on a 1,000-cell run).
            self._dirty = True
            return
        self._write()

    def _forget_requests_ended_without_idle(self) -> None:
        """Our own session gave up waiting for the ``idle`` of these requests
        (``KernelSession`` ends a request after ``idle_timeout`` of silence
        after its reply): they are over. Without this a run whose ``idle`` was
        lost left the entry ``busy`` for good, and the idle timeout never came."""
        ended = self.session._ended_without_idle  # same package: the session's own record
        for msg_id in [m for m in self._running if m in ended]:
            self._running.discard(msg_id)
            self._codes.pop(msg_id, None)
            self.entry.last_activity = now_iso()
            self._dirty = True

    async def _poll(self) -> None:
        while not self._ended:
            await asyncio.sleep(self.poll_interval)
            try:
                self._forget_requests_ended_without_idle()
                if self.registry.take_request(self.entry.key, "restart"):
                    await self.session.restart()
                elif self._dirty or (
                    self.registry.read(self.entry.key) is None and not self._ended
                ):
                    self._write()  # activity to record, or removed by hand: we are alive
                if self._on_idle is not None and self.idle_expired():
                    log.info("session %s idle for %.1f s; stopping", self.key, self.idle_seconds())
                    on_idle, self._on_idle = self._on_idle, None
                    await on_idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("session %s: registry poll failed", self.key)


__all__ = ["Registration"]
