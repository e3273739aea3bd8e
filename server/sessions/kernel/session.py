"""One Jupyter kernel for one notebook, driven through jupyter_client's async
client (DESIGN §6).

``KernelSession`` launches the kernel (see ``launcher.py``), sends execute
requests and streams their outputs, interrupts, restarts and shuts down. It
knows nothing about cells, queues or the sidecar: the runner builds those on
top.

Messages are read by two long-lived tasks, one per channel (IOPub, shell),
and routed by the request they answer, so several requests may be in flight.
IOPub is read losslessly and in bulk: our SUB socket has no high-water mark
(zmq's default of 1,000 queued messages made a busy reader lose outputs; the
kernel's own send queue is deepened by ``iopub_config.py``), and the reader
takes the messages already queued in batches, without an await for each.

A request ends when its ``execute_reply`` (shell) and its closing ``idle``
status (IOPub, after its last output) have both arrived. The wait for
``idle`` after the reply is bounded: if the request's IOPub stream stays
silent for ``idle_timeout`` seconds after the reply (silent meaning nothing
of it read *and* nothing left unread in the socket, so a reader that is
merely behind is waited for), the request ends without it and a note says
so in its outputs. Outputs the kernel publishes for it after that are not
part of its result; they are counted and logged.

A third task waits for the kernel process: when it exits unasked, every
pending ``execute`` returns ``"dead"`` at once (no timeout involved) and the
state becomes ``"dead"``. A dead kernel is not restarted behind the caller's
back: ``execute`` then raises ``KernelDeadError`` and the caller decides to
``restart()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import zmq.asyncio
from jupyter_client.asynchronous.client import AsyncKernelClient

from sessions.cache.records import Output
from sessions.kernel.comms import CommEvent, CommMirror
from sessions.kernel.errors import KernelDeadError, KernelStartError
from sessions.kernel.handshake import kernel_info_round
from sessions.kernel.interpreter import check_ipykernel, resolve_python
from sessions.kernel.iopub import output_from_message
from sessions.kernel.launcher import (
    ConnectionFile,
    KernelProcess,
    Transport,
    describe_exit,
    kernel_environment,
    runtime_dir,
    write_connection,
)
from sessions.kernel.script_env import (
    BrokenScriptBlock,
    Progress,
    ScriptEnv,
    lookup,
    stderr_progress,
)
from sessions.kernel.wire import decode

log = logging.getLogger(__name__)

KernelState = Literal["stopped", "starting", "idle", "busy", "dead", "restarting"]
"""``stopped``: not started yet, or shut down. The others are DESIGN's states."""

ExecuteStatus = Literal["ok", "error", "aborted", "interrupted", "dead"]

OutputCallback = Callable[[Output], None]
StateCallback = Callable[[KernelState], None]
MessageCallback = Callable[[dict[str, Any]], None]
"""Gets every IOPub message, whichever client's request it answers."""
CommCallback = Callable[[CommEvent], None]
"""Gets every comm message the kernel sends (and the Output widget updates
the server makes when it captures outputs)."""

_COMM_MESSAGES = frozenset({"comm_open", "comm_msg", "comm_close"})

# Output that was on the wire when the kernel died is still worth showing:
# give the IOPub reader this long to deliver it before reporting the death.
_DEATH_DRAIN_SECONDS = 0.05

# The IOPub reader handles at most this many queued messages in a row, and
# for at most this long, before it lets the event loop run other tasks (LSP
# requests, timers). The time bound matters when messages are dear (a flood
# of widget updates): a request that takes several loop turns to answer
# waits one slice per turn, so a slice must stay short.
_READ_BATCH = 256
_READ_SLICE_SECONDS = 0.001

# Requests that ended without their ``idle``, remembered to count late outputs.
_ENDED_WITHOUT_IDLE_KEPT = 32

_OUTPUT_MESSAGES = frozenset(
    {"stream", "display_data", "update_display_data", "execute_result", "error", "clear_output"}
)


@dataclass(slots=True)
class ExecuteResult:
    status: ExecuteStatus
    execution_count: int | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)
    started: datetime | None = None
    duration: float = 0.0
    """Seconds from sending the request to the end of its outputs."""
    idle_missing: bool = False
    """The closing ``idle`` did not arrive within ``idle_timeout`` of the reply."""
    msg_id: str = ""
    """The execute request's id: comms the cell opened name it as their parent."""


@dataclass(slots=True, eq=False)
class _Execution:
    """An execute request in flight: done when both its reply (shell) and its
    closing ``idle`` status (IOPub, after the last output) have arrived, or
    when IOPub stayed silent for it for ``idle_timeout`` after the reply."""

    on_output: OutputCallback
    done: asyncio.Future[None]
    reply: dict[str, Any] | None = None
    idle: bool = False
    interrupt_requested: bool = False
    ended_as: ExecuteStatus | None = None
    """Set when the kernel went away before answering."""
    last_heard: float = 0.0
    """``time.monotonic()`` of the reply or of the request's last IOPub message."""
    idle_missing: bool = False
    reconnected: bool = False
    """The connection to a remote kernel dropped while it ran: outputs may be lost."""

    def check_done(self) -> None:
        if self.reply is not None and self.idle and not self.done.done():
            self.done.set_result(None)

    def end(self, status: ExecuteStatus) -> None:
        if not self.done.done():
            self.ended_as = status
            self.done.set_result(None)


class KernelSession:
    """A kernel for one notebook: ``await start()``, ``execute``, ``interrupt``,
    ``restart``, ``shutdown`` (also ``async with``)."""

    def __init__(
        self,
        python: str,
        cwd: Path,
        *,
        python_reason: str = "",
        env: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        runtime_folder: Path | None = None,
        startup_timeout: float = 60.0,
        shutdown_timeout: float = 2.0,
        idle_timeout: float = 3.0,
        owner_cleanup: Sequence[Path] = (),
        script_env: ScriptEnv | BrokenScriptBlock | None = None,
        on_env_progress: Progress | None = None,
    ) -> None:
        self.python = python
        self.python_reason = python_reason
        self.script_env = script_env
        """The PEP 723 environment ``python`` belongs to: built before the
        kernel starts if it is not yet (``script_env.py``)."""
        self.on_env_progress = on_env_progress or stderr_progress
        """Where the lines of such a build go (default: stderr, the CLI's and the servers' log)."""
        self.cwd = Path(cwd)
        self._env = env
        self._transport = transport
        self._runtime_folder = runtime_folder
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.idle_timeout = idle_timeout
        """Seconds of IOPub silence after a reply before a request ends without its ``idle``."""
        self.late_outputs = 0
        """Outputs that arrived for requests that had already ended without their ``idle``."""
        self.owner_cleanup = list(owner_cleanup)
        """Files the watchdog removes if this process dies without shutting
        the kernel down (the session's registry entry)."""

        self._state: KernelState = "stopped"
        self._state_callbacks: list[StateCallback] = []
        self._message_callbacks: list[MessageCallback] = []
        self._comm_callbacks: list[CommCallback] = []
        self.comms = CommMirror()
        """The kernel's open comms (widgets) and their state, as the server saw them."""
        self.kernel_id = ""
        """Names the kernel process this session talks to; a new one at each
        start and restart (clients tell a restarted kernel's widgets from the
        old ones by it)."""
        self.death_reason: str | None = None
        """Why the kernel is dead (``state == "dead"``), for the user."""
        self.kernel_info: dict[str, Any] = {}
        """Content of the last ``kernel_info_reply`` (language_info, banner...)."""
        self.executed_source: Callable[[], Sequence[str]] | None = None
        """Where the codes this kernel process ran are recorded, by every client:
        the session registry, once the kernel is registered or attached to."""

        self._process: KernelProcess | None = None
        self._connection: ConnectionFile | None = None
        self._client: AsyncKernelClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[str, _Execution] = {}
        self._ended_without_idle: dict[str, int] = {}
        """msg_id -> late outputs counted for it (the last few such requests)."""
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._lifecycle = asyncio.Lock()
        self._death_task: asyncio.Task[None] | None = None

    @classmethod
    def for_notebook(
        cls,
        notebook_path: Path,
        *,
        setting: str | None = None,
        workspace_root: Path | None = None,
        env: Mapping[str, str] = os.environ,
        **options: Any,
    ) -> KernelSession:
        """A session in the notebook's folder with the interpreter that
        ``resolve_python`` picks for it; ``env`` is used for the resolution
        and is the kernel's environment."""
        resolved = resolve_python(
            notebook_path, setting=setting, workspace_root=workspace_root, env=env
        )
        return cls(
            resolved.path,
            Path(notebook_path).absolute().parent,
            python_reason=resolved.reason,
            env=env,
            script_env=resolved.script_env,
            **options,
        )

    # -- state ---------------------------------------------------------------

    @property
    def state(self) -> KernelState:
        return self._state

    @property
    def pid(self) -> int | None:
        """The ipykernel process (not the watchdog), while it runs."""
        return self._process.kernel_pid if self._process is not None else None

    @property
    def pgid(self) -> int | None:
        """The kernel's process group: kernel, watchdog, and cells' children."""
        return self._process.pgid if self._process is not None else None

    @property
    def connection_file(self) -> Path | None:
        return self._connection.path if self._connection is not None else None

    def loaded_codes(self) -> frozenset[str] | None:
        """``code_hash`` of every code that ran without error in this kernel
        process, from any client (an editor, a terminal, a console); None
        when the kernel is not registered, so only its own runs are known."""
        if self.executed_source is None:
            return None
        return frozenset(self.executed_source())

    @property
    def language(self) -> str:
        """``"python 3.11.7"``: the kernel's language and version, from its
        ``kernel_info`` (empty before the kernel answered)."""
        info = self.kernel_info.get("language_info") or {}
        name, version = str(info.get("name") or ""), str(info.get("version") or "")
        return f"{name} {version}".strip()

    def on_state(self, callback: StateCallback) -> Callable[[], None]:
        """Call ``callback(state)`` on every state change; returns an unsubscribe."""
        self._state_callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._state_callbacks.remove(callback)

        return unsubscribe

    def on_iopub(self, callback: MessageCallback) -> Callable[[], None]:
        """Call ``callback(msg)`` on every IOPub message (also those answering
        other clients of a shared kernel); returns an unsubscribe."""
        self._message_callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._message_callbacks.remove(callback)

        return unsubscribe

    def on_comm(self, callback: CommCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every comm message from the kernel;
        returns an unsubscribe."""
        self._comm_callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._comm_callbacks.remove(callback)

        return unsubscribe

    def _new_kernel_identity(self) -> None:
        self.comms.clear()
        self.kernel_id = uuid.uuid4().hex[:12]

    def _set_state(self, state: KernelState) -> None:
        if state == self._state:
            return
        self._state = state
        for callback in list(self._state_callbacks):
            try:
                callback(state)
            except Exception:
                log.exception("kernel state callback failed")

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Launch the kernel and wait until it answers ``kernel_info``.

        Raises ``KernelSetupError`` (before launching anything) when the
        interpreter cannot run ipykernel, ``KernelStartError`` when the kernel
        does not come up; in both cases nothing is left running. No-op when
        the kernel already runs.
        """
        async with self._lifecycle:
            if self._process is not None:
                return
            await self._check_setup()
            self._set_state("starting")
            await self._launch()

    async def restart(self) -> None:
        """A fresh kernel (empty namespace) in place of the current one, which
        is asked to shut down and killed if it does not within ``shutdown_timeout``.
        Executions still running end as ``"interrupted"``. Also the way back
        from ``"dead"``. Raises like ``start``."""
        await self._restart(graceful=True)

    async def shutdown(self) -> None:
        """Stop the kernel and every process it started (the whole group).
        Executions still running end as ``"dead"``. Idempotent."""
        async with self._lifecycle:
            await self._stop(graceful=True, pending_status="dead")
            self._set_state("stopped")

    async def __aenter__(self) -> KernelSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    async def _check_setup(self) -> None:
        if self.script_env is not None:
            # Raises KernelSetupError (uv missing, a failed resolve, a broken block).
            await asyncio.to_thread(self.script_env.prepare, self.on_env_progress)
            self.python_reason = self.script_env.reason()  # "not built yet" no more
        problem = await asyncio.to_thread(check_ipykernel, self.python)
        if problem is not None:
            raise problem

    def _follow_script_block(self) -> None:
        """After the notebook's script block changed, a restart starts the
        kernel in the block's new environment (a broken block: the check
        then fails and the running kernel stays as it was). A block that was
        removed keeps the old one: where else to go is the resolver's to say,
        with settings this session does not know."""
        if not isinstance(self.script_env, ScriptEnv):
            return
        current = lookup(self.script_env.notebook, root=self.script_env.folder.parent).env
        if isinstance(current, ScriptEnv) and current.folder != self.script_env.folder:
            self.script_env, self.python = current, str(current.python)
        elif isinstance(current, BrokenScriptBlock):
            self.script_env = current

    async def _restart(self, *, graceful: bool) -> None:
        async with self._lifecycle:
            previous = self.script_env, self.python, self.python_reason
            self._follow_script_block()
            try:
                await self._check_setup()  # before stopping: a failed check leaves all as it was
            except BaseException:
                self.script_env, self.python, self.python_reason = previous
                raise
            self._set_state("restarting")
            await self._stop(graceful=graceful, pending_status="interrupted")
            await self._launch()

    async def _launch(self) -> None:
        folder = self._runtime_folder or runtime_dir()
        connection = write_connection(folder, self._transport)
        env = kernel_environment(self.python, self._env if self._env is not None else os.environ)
        try:
            process = await KernelProcess.launch(
                self.python, connection, self.cwd, env, self.owner_cleanup
            )
        except OSError as error:
            connection.remove()
            self._set_state("dead")
            self.death_reason = f"could not launch {self.python}: {error}"
            raise KernelStartError(self.death_reason) from error

        client = AsyncKernelClient(context=_shared_context())
        client.load_connection_info(connection.info)
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        self._process, self._connection, self._client = process, connection, client
        self._new_kernel_identity()
        try:
            self.kernel_info = await self._wait_ready(client, process)
            await process.wait_kernel_pid(timeout=1.0)
        except BaseException as error:
            reason = str(error) if isinstance(error, KernelStartError) else repr(error)
            await self._stop(graceful=False, pending_status="dead")
            self._set_state("dead")
            self.death_reason = reason
            if isinstance(error, KernelStartError | asyncio.CancelledError):
                raise
            raise KernelStartError(reason) from error

        self.death_reason = None
        self._tasks = [
            asyncio.create_task(self._read_iopub(client), name="kernel-iopub"),
            asyncio.create_task(self._read_shell(client), name="kernel-shell"),
            asyncio.create_task(self._watch_process(process), name="kernel-process"),
        ]
        self._set_state("idle")

    async def _wait_ready(
        self, client: AsyncKernelClient, process: KernelProcess | None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send ``kernel_info`` until it is answered and IOPub is connected
        (a SUB socket misses what is published before it joins). ``process``
        is ``None`` for a kernel someone else launched."""
        limit = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            if process is not None and not process.alive:
                await process.wait()
                raise KernelStartError(self._exit_message(process, "while starting"))
            if time.monotonic() > deadline:
                raise KernelStartError(
                    f"The kernel ({self.python}) did not answer within {limit:.0f} s."
                )
            content = await kernel_info_round(client, "shell")
            if content is not None:
                return content

    def _exit_message(self, process: KernelProcess, when: str) -> str:
        message = f"{describe_exit(process)} {when} ({self.python})"
        tail = process.output_tail().strip()
        return f"{message}:\n{tail}" if tail else f"{message}."

    async def _stop(self, *, graceful: bool, pending_status: ExecuteStatus) -> None:
        """End the kernel (asking first when ``graceful``), its process group,
        the reader tasks, the channels and the runtime files."""
        process, client, connection = self._process, self._client, self._connection
        self._process = self._client = self._connection = None
        self.comms.clear()
        await self._end_tasks()
        if process is not None:
            # A busy kernel would not get to the request in time: skip asking.
            if graceful and process.alive and client is not None and not self._pending:
                client.shutdown()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), self.shutdown_timeout)
            # Also after a clean exit: the cells' children are in the group.
            await process.kill()
        if client is not None:
            client.stop_channels()
        if connection is not None:
            connection.remove()
        self._end_pending(pending_status)

    async def _end_tasks(self) -> None:
        """Cancel the reader and watcher tasks and wait for them to end (not the
        one calling: a watcher may be the one stopping the session)."""
        tasks, self._tasks = self._tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        for task in tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _end_pending(self, status: ExecuteStatus) -> None:
        for execution in self._pending.values():
            execution.end(status)
        self._pending.clear()
        self._quiet.set()

    # -- reading messages ------------------------------------------------------

    async def _read_iopub(self, client: AsyncKernelClient) -> None:
        channel = client.iopub_channel
        socket: zmq.asyncio.Socket = channel.socket
        # A synchronous view of the same socket: queued messages are taken
        # without an await (and a future) each, which is most of the cost of
        # reading a flood of small stream messages.
        queued: zmq.Socket[bytes] = zmq.Socket.shadow(socket.underlying)
        session = client.session
        clock = time.perf_counter
        while True:
            await socket.poll()
            deadline = clock() + _READ_SLICE_SECONDS
            for _ in range(_READ_BATCH):
                try:
                    frames = queued.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                try:
                    self._handle_iopub(decode(session, frames))
                except Exception:
                    log.exception("could not handle an IOPub message")
                if clock() > deadline:
                    await asyncio.sleep(0)  # more may be queued: let other tasks in first
                    break
            else:
                await asyncio.sleep(0)

    def _iopub_queued(self) -> bool:
        """Whether IOPub messages wait in our socket, not read yet."""
        client = self._client
        if client is None or client.iopub_channel.socket is None:
            return False
        return bool(client.iopub_channel.socket.getsockopt(zmq.EVENTS) & zmq.POLLIN)

    def _handle_iopub(self, msg: dict[str, Any]) -> None:
        for callback in list(self._message_callbacks):
            try:
                callback(msg)
            except Exception:
                log.exception("IOPub message callback failed")
        msg_type: str = msg["msg_type"]
        content: dict[str, Any] = msg["content"]
        parent_id = msg["parent_header"].get("msg_id", "")
        if msg_type in _COMM_MESSAGES:
            self._handle_comm(msg_type, content, msg.get("buffers") or [], parent_id)
            return
        execution = self._pending.get(parent_id)
        if execution is not None:
            execution.last_heard = time.monotonic()
        if self.comms.captures(parent_id) and self._capture(parent_id, msg_type, content):
            return
        if msg_type == "status":
            execution_state = content.get("execution_state")
            if execution_state in ("busy", "idle") and self._state in ("busy", "idle"):
                self._set_state(execution_state)
            if execution_state == "idle" and execution is not None:
                execution.idle = True
                execution.check_done()
            return
        if execution is None:
            if parent_id in self._ended_without_idle:
                self._count_late_output(parent_id, msg_type)
            return
        output = output_from_message(msg_type, content)
        if output is not None:
            try:
                execution.on_output(output)
            except Exception:
                log.exception("output callback failed")

    def _capture(self, parent_id: str, msg_type: str, content: dict[str, Any]) -> bool:
        """Outputs printed inside ``with out:`` of an Output widget go to the
        widget (as a front end would route them), not to the cell."""
        output = output_from_message(msg_type, content)
        if output is None:
            return False
        captured = self.comms.capture(parent_id, msg_type, output)
        if captured is None:
            return False
        self._send_comm_message(captured)  # the kernel's copy of ``outputs`` stays in step
        self._publish_comm(captured)
        return True

    def _handle_comm(
        self, msg_type: str, content: dict[str, Any], buffers: Sequence[Any], parent_id: str
    ) -> None:
        comm_id = str(content.get("comm_id", ""))
        if not comm_id:
            return
        data = content.get("data") or {}
        event = CommEvent(
            kind="open"
            if msg_type == "comm_open"
            else "close"
            if msg_type == "comm_close"
            else "msg",
            comm_id=comm_id,
            data=data if isinstance(data, dict) else {},
            metadata=dict(content.get("metadata") or {}),
            buffers=[bytes(b) for b in buffers],
            target_name=str(content.get("target_name", "")),
        )
        self.comms.apply(event, parent_id=parent_id)
        self._publish_comm(event)

    def _publish_comm(self, event: CommEvent) -> None:
        for callback in list(self._comm_callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("comm callback failed")

    def _count_late_output(self, parent_id: str, msg_type: str) -> None:
        if msg_type not in _OUTPUT_MESSAGES:
            return
        self.late_outputs += 1
        self._ended_without_idle[parent_id] += 1
        count = self._ended_without_idle[parent_id]
        # The first one is worth a warning; a flood of them is worth a count.
        log.log(
            logging.WARNING if count == 1 else logging.DEBUG,
            "output (%s) of request %s arrived after it ended without its idle status "
            "(%d so far); it is not in the request's result",
            msg_type,
            parent_id,
            count,
        )

    async def _read_shell(self, client: AsyncKernelClient) -> None:
        while True:
            self._handle_shell(await client.get_shell_msg())

    def _handle_shell(self, msg: dict[str, Any]) -> None:
        execution = self._pending.get(msg["parent_header"].get("msg_id", ""))
        if execution is not None and msg["msg_type"] == "execute_reply":
            execution.reply = msg["content"]
            execution.last_heard = time.monotonic()
            execution.check_done()
            if not execution.done.done():
                self._await_idle(msg["parent_header"]["msg_id"], execution)

    def _await_idle(self, msg_id: str, execution: _Execution) -> None:
        """Bound the wait for ``idle`` once the reply is in: end the request
        when IOPub has been silent for it for ``idle_timeout`` seconds."""
        loop = asyncio.get_running_loop()

        def check() -> None:
            if execution.done.done():
                return
            silent_for = time.monotonic() - execution.last_heard
            if silent_for < self.idle_timeout or self._iopub_queued():
                # Heard from it lately, or the reader is behind (messages
                # queued unread may be its own): look again later.
                loop.call_later(max(self.idle_timeout - silent_for, 0.05), check)
                return
            log.warning(
                "no idle status for request %s %.1f s after its reply; ending it",
                msg_id,
                silent_for,
            )
            execution.idle_missing = True
            self._ended_without_idle[msg_id] = 0
            while len(self._ended_without_idle) > _ENDED_WITHOUT_IDLE_KEPT:
                del self._ended_without_idle[next(iter(self._ended_without_idle))]
            with contextlib.suppress(Exception):
                execution.on_output(_idle_missing_note(self.idle_timeout))
            execution.done.set_result(None)

        loop.call_later(self.idle_timeout, check)

    async def _watch_process(self, process: KernelProcess) -> None:
        await process.wait()
        if process is not self._process:
            return  # stopped on purpose
        await asyncio.sleep(_DEATH_DRAIN_SECONDS)
        if process is not self._process:
            return
        reason = self._exit_message(process, "unexpectedly")
        # _stop cancels this very task, so the cleanup runs as its own task.
        self._death_task = asyncio.create_task(self._die(reason), name="kernel-death")

    async def _die(self, reason: str) -> None:
        async with self._lifecycle:
            if self._process is None or self._process.alive:
                return  # restarted or shut down meanwhile
            await self._stop(graceful=False, pending_status="dead")
            self.death_reason = reason
            self._set_state("dead")

    # -- requests ------------------------------------------------------------

    async def execute(
        self, code: str, on_output: OutputCallback, *, silent: bool = False
    ) -> ExecuteResult:
        """Run ``code``; ``on_output`` gets each output as it arrives.

        ``silent`` runs without an execution count or history entry (and the
        kernel publishes no ``execute_result``). Returns when the kernel has
        answered and sent the request's last output, or at once when the
        kernel dies (``"dead"``) or is restarted (``"interrupted"``). Raises
        ``KernelDeadError`` when no kernel is running.
        """
        async with self._lifecycle:  # wait out a start/restart in progress
            connected = self._connected()
        if not connected:
            reason = f": {self.death_reason}" if self.death_reason else ""
            raise KernelDeadError(f"The kernel is not running{reason}. Restart it to run code.")
        loop = asyncio.get_running_loop()
        execution = _Execution(on_output=on_output, done=loop.create_future())
        started = datetime.now(UTC)
        clock = time.perf_counter()
        msg_id = self._send_shell(
            "execute_request",
            {
                "code": code,
                "silent": silent,
                "store_history": not silent,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        self._pending[msg_id] = execution
        self._quiet.clear()
        try:
            await execution.done
        finally:
            self._pending.pop(msg_id, None)
            if not self._pending:
                self._quiet.set()
        result = _result_of(execution)
        result.idle_missing = execution.idle_missing
        result.msg_id = msg_id
        result.started = started
        result.duration = time.perf_counter() - clock
        return result

    def send_comm(self, event: CommEvent) -> None:
        """Sends a front end's comm message to the kernel (shell channel) and
        applies it to the mirror. ``KernelDeadError`` when no kernel runs."""
        if not self._connected():
            raise KernelDeadError("The kernel is not running.")
        self.comms.apply(event)
        self._send_comm_message(event)

    def _connected(self) -> bool:
        """Whether requests can be sent (a kernel runs and its channels are open)."""
        return self._client is not None

    def _send_comm_message(self, event: CommEvent) -> None:
        content: dict[str, Any] = {"comm_id": event.comm_id, "data": event.data}
        if event.kind == "open":
            content["target_name"] = event.target_name
        msg_type = {"open": "comm_open", "msg": "comm_msg", "close": "comm_close"}[event.kind]
        self._send_shell(msg_type, content, event.metadata, event.buffers)

    def _send_shell(
        self,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> str:
        """Sends a request on the shell channel; returns its ``msg_id`` ("" when
        no kernel is connected)."""
        client = self._client
        if client is None:
            return ""
        message = client.session.msg(msg_type, content, metadata=metadata or None)
        client.session.send(client.shell_channel.socket, message, buffers=list(buffers) or None)
        return str(message["header"]["msg_id"])

    async def interrupt(self, *, escalate_after: float = 3.0) -> None:
        """Interrupt what runs (SIGINT to the kernel's process group, as a
        terminal's Ctrl-C would); if it has not finished after
        ``escalate_after`` seconds, restart the kernel. Running executions end
        as ``"interrupted"``. No-op when nothing runs."""
        process = self._process
        if process is None or not self._pending:
            return
        for execution in self._pending.values():
            execution.interrupt_requested = True
        process.signal_group(signal.SIGINT)
        try:
            await asyncio.wait_for(self._quiet.wait(), escalate_after)
        except TimeoutError:
            if self._process is process:
                log.info("kernel ignored SIGINT for %.1f s; restarting it", escalate_after)
                await self._restart(graceful=False)


def _result_of(execution: _Execution) -> ExecuteResult:
    if execution.ended_as is not None:
        return ExecuteResult(status=execution.ended_as)
    reply = execution.reply or {}
    status = reply.get("status", "error")
    count = reply.get("execution_count")
    if status == "ok" and execution.reconnected:
        # What the kernel published during the outage may not have reached us:
        # an error, so the cell is stale, never fresh with outputs missing.
        return ExecuteResult(
            status="error",
            execution_count=count,
            ename="OutputsLost",
            evalue="the connection to the kernel dropped while the cell ran; run it again",
        )
    if status == "ok":
        return ExecuteResult(status="ok", execution_count=count)
    ename = reply.get("ename")
    result = ExecuteResult(
        status="error",
        execution_count=count,
        ename=ename,
        evalue=reply.get("evalue"),
        traceback=list(reply.get("traceback", [])),
    )
    if status == "aborted":
        result.status = "interrupted" if execution.interrupt_requested else "aborted"
    elif execution.interrupt_requested or ename == "KeyboardInterrupt":
        result.status = "interrupted"
    return result


def _idle_missing_note(idle_timeout: float) -> Output:
    return {
        "output_type": "stream",
        "name": "stderr",
        "text": (
            f"\n[sessions: the kernel's end-of-output message did not arrive within "
            f"{idle_timeout:g} s of its reply; output published after that is not shown here]\n"
        ),
    }


_context: zmq.asyncio.Context | None = None


def _shared_context() -> zmq.asyncio.Context:
    """One zmq context (one I/O thread) for all kernels of this process,
    instead of one per client that restarts would leak.

    Its sockets queue without limit on receipt (``RCVHWM`` 0): with zmq's
    default of 1,000 messages, a SUB socket whose reader falls behind a
    kernel printing flushed lines silently drops outputs, and may drop the
    ``idle`` that ends a request. The messages are the cell's output, which
    the runner keeps anyway (capped, see ``outputs.StreamText``)."""
    global _context
    if _context is None or _context.closed:
        _context = zmq.asyncio.Context()
        _context.setsockopt(zmq.RCVHWM, 0)
    return _context
