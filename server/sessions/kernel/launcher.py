"""Launch a kernel process: private runtime folder, connection file, process
group and watchdog (DESIGN §6).

The kernel runs as ``watchdog.py -- python -m ipykernel_launcher -f CONN`` in
a new session, so the watchdog's pid is the process group id, and with
``SESSIONS_KERNEL_TAG`` in its environment, which names this owner and the
connection file. The watchdog ends the kernel and every process a cell
started, also those that left the group (see ``watchdog.py``); if the
watchdog itself is killed, ``KernelProcess`` sees it exit at once and ends
the group and every tagged process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zmq
from jupyter_client.connect import KernelConnectionInfo, write_connection_file
from jupyter_core.paths import jupyter_runtime_dir

from sessions.kernel.watchdog import (
    KILL_SECONDS,
    TAG_VARIABLE,
    ancestors,
    kill_until_gone,
    make_tag,
    tagged,
)

log = logging.getLogger(__name__)

WATCHDOG_SCRIPT = Path(__file__).with_name("watchdog.py")
IOPUB_CONFIG = Path(__file__).with_name("iopub_config.py")
"""Loaded by the kernel (``--config``): a deeper IOPub queue, so a client that
falls behind gets every output late instead of losing some (see the file)."""
WATCHDOG_PREFIX = "[sessions watchdog]"

Transport = Literal["ipc", "tcp"]

# Unix socket paths are limited to ~104-108 bytes; keep a margin for "-N".
_MAX_IPC_PATH = 96
_OUTPUT_TAIL_LINES = 40
_MAX_LINE_BYTES = 64 * 1024


def runtime_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Our private folder (mode 0700) for connection files and IPC sockets.

    ``$XDG_RUNTIME_DIR`` when set (short paths, tmpfs, per-user), else a
    subfolder of Jupyter's runtime folder.
    """
    xdg = env.get("XDG_RUNTIME_DIR")
    base = Path(xdg) if xdg and Path(xdg).is_dir() else Path(jupyter_runtime_dir())
    folder = base / "sessions-kernels"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing folder.
    mode = folder.stat().st_mode
    if mode & 0o077:
        folder.chmod(0o700)
    return folder


@dataclass(slots=True)
class ConnectionFile:
    path: Path
    info: KernelConnectionInfo
    extra_files: list[Path] = field(default_factory=list)
    """IPC socket files the kernel will create; removed with the connection file."""

    def files(self) -> list[Path]:
        return [self.path, *self.extra_files]

    def remove(self) -> None:
        for path in self.files():
            with contextlib.suppress(OSError):
                path.unlink()


def write_connection(folder: Path, transport: Transport | None = None) -> ConnectionFile:
    """A fresh connection file (mode 0600, random HMAC key) in ``folder``.

    ``transport=None`` picks IPC where zmq supports it and the socket paths
    fit, TCP on localhost otherwise.
    """
    token = secrets.token_hex(8)
    path = folder / f"kernel-{token}.json"
    socket_base = folder / f"kernel-{token}"
    if transport is None:
        ipc_ok = os.name == "posix" and zmq.has("ipc") and len(str(socket_base)) <= _MAX_IPC_PATH
        transport = "ipc" if ipc_ok else "tcp"
    key = secrets.token_hex(32).encode()
    if transport == "ipc":
        _, info = write_connection_file(
            str(path), ip=str(socket_base), key=key, transport="ipc", kernel_name="python3"
        )
        ports = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
        numbers: dict[str, Any] = dict(info)
        extra = [Path(f"{socket_base}-{numbers[port]}") for port in ports]
    else:
        _, info = write_connection_file(
            str(path), ip="127.0.0.1", key=key, transport="tcp", kernel_name="python3"
        )
        extra = []
    return ConnectionFile(path, info, extra)


def kernel_environment(python: str, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The kernel's environment: ours, with the kernel's venv activated so that
    ``!pip`` and ``!python`` in a cell reach the notebook's environment."""
    env = dict(base)
    env.pop("PYTHONHOME", None)
    bin_dir = Path(python).parent
    prefix = bin_dir.parent
    if (prefix / "pyvenv.cfg").is_file():
        env["VIRTUAL_ENV"] = str(prefix)
        env["PATH"] = os.pathsep.join(filter(None, [str(bin_dir), env.get("PATH", "")]))
    return env


class _WatchdogProtocol(asyncio.SubprocessProtocol):
    """The watchdog's output, as lines, and its exit, as soon as it happens.

    ``asyncio.subprocess.Process.wait()`` also waits for the end of the
    output pipe, which the kernel and the cells' children inherit: a
    SIGKILLed watchdog whose kernel lives on would never be seen to exit.
    ``process_exited`` comes from the child watcher alone."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._partial = b""
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.output_closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        chunk = data.encode() if isinstance(data, str) else data
        *lines, partial = (self._partial + chunk).split(b"\n")
        # Only a tail of this output is ever shown: a line without end
        # (binary written to fd 1) must not grow without bound.
        self._partial = partial[-_MAX_LINE_BYTES:]
        for line in lines:
            self._on_line(line[-_MAX_LINE_BYTES:].decode(errors="replace"))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if self._partial:
            self._on_line(self._partial.decode(errors="replace"))
            self._partial = b""
        if not self.output_closed.done():
            self.output_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class KernelProcess:
    """The watchdog + kernel pair, seen from the owner."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _WatchdogProtocol,
        connection_file: Path,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self.connection_file = connection_file
        self.pgid = transport.get_pid()
        self.kernel_pid: int | None = None
        self._kernel_pid_known = asyncio.Event()
        self.exit_reason: str | None = None
        """How the kernel ended, as the watchdog saw it."""
        self.stop_reason: str | None = None
        """Why the watchdog ended the kernel (``SIGTERM``: ``sessions stop``)."""
        self._tail: deque[str] = deque(maxlen=_OUTPUT_TAIL_LINES)

    @classmethod
    async def launch(
        cls,
        python: str,
        connection: ConnectionFile,
        cwd: Path,
        env: Mapping[str, str],
        owner_cleanup: Sequence[Path] = (),
    ) -> KernelProcess:
        """``owner_cleanup``: files the watchdog removes if the owner dies."""
        cleanup = [arg for path in connection.files() for arg in ("--cleanup", str(path))]
        cleanup += [arg for path in owner_cleanup for arg in ("--owner-cleanup", str(path))]
        command = [
            python,
            "-I",
            str(WATCHDOG_SCRIPT),
            "--owner",
            str(os.getpid()),
            *cleanup,
            "--",
            python,
            "-m",
            "ipykernel_launcher",
            "-f",
            str(connection.path),
            f"--config={IOPUB_CONFIG}",
        ]
        # Inherited by the kernel and all it starts: how its processes are
        # found once the process tree no longer leads to the watchdog.
        tagged_env = {**env, TAG_VARIABLE: make_tag(os.getpid(), str(connection.path))}
        loop = asyncio.get_running_loop()
        lines: list[str] = []
        process: KernelProcess | None = None

        def on_line(line: str) -> None:
            if process is None:
                lines.append(line)  # before the constructor ran: rare, kept
            else:
                process._on_line(line)

        transport, protocol = await loop.subprocess_exec(
            lambda: _WatchdogProtocol(on_line),
            *command,
            cwd=str(cwd),
            env=tagged_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = cls(transport, protocol, connection.path)
        for line in lines:
            process._on_line(line)
        return process

    def _on_line(self, line: str) -> None:
        if line.startswith(WATCHDOG_PREFIX):
            message = line[len(WATCHDOG_PREFIX) :].strip()
            if message.startswith("kernel pid "):
                self.kernel_pid = int(message.removeprefix("kernel pid "))
                self._kernel_pid_known.set()
                return
            if message.startswith("kernel exited with "):
                self.exit_reason = message.removeprefix("kernel exited with ")
            elif message.startswith("stopping the kernel: "):
                self.stop_reason = message.removeprefix("stopping the kernel: ")
            elif message.startswith("note: "):
                log.info("kernel watchdog: %s", message.removeprefix("note: "))
                return
        self._tail.append(line)
        if line.lstrip().startswith("--existing "):
            # End of ipykernel's start-up banner: not worth showing anyone.
            self._tail.clear()

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    @property
    def alive(self) -> bool:
        return self.returncode is None

    def output_tail(self) -> str:
        """The last lines the kernel printed outside of Jupyter messages
        (start-up errors, crashes), for error messages."""
        return "\n".join(self._tail)

    async def wait_kernel_pid(self, timeout: float) -> int | None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kernel_pid_known.wait(), timeout)
        return self.kernel_pid

    async def wait(self) -> int:
        """Wait for the watchdog to exit (not for its output pipe to close:
        an escaped process may hold it), then briefly for its last lines."""
        await asyncio.shield(self._protocol.exited)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._protocol.output_closed), 0.5)
        returncode = self.returncode
        assert returncode is not None
        return returncode

    def signal_group(self, signum: int) -> bool:
        """Send ``signum`` to the kernel's whole process group (the watchdog
        ignores SIGINT). False when the group is already gone."""
        try:
            os.killpg(self.pgid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    async def kill(self, timeout: float = 5.0) -> None:
        """End the kernel and everything it started, and reap the watchdog.

        The watchdog is asked first (SIGTERM): it alone sees the whole tree
        (it is the subreaper) and removes the runtime files. Then, as a
        fallback and for the case where the watchdog is already gone (it was
        SIGKILLed), the group is SIGKILLed and every process still carrying
        this kernel's tag is killed."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pgid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._protocol.exited), min(timeout, 2.0))
        self.signal_group(signal.SIGKILL)
        try:
            await asyncio.to_thread(kill_kernel_processes, str(self.connection_file))
        except RuntimeError:  # the loop's executor is shut down: we are exiting
            kill_kernel_processes(str(self.connection_file))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._protocol.exited), timeout)
        # Closes our end of the pipe now, in the running loop: left to the
        # garbage collector it would run after the loop closed
        # ("RuntimeError: Event loop is closed").
        self._transport.close()


def kill_kernel_processes(connection_file: str, timeout: float = KILL_SECONDS) -> set[int]:
    """SIGKILL every process tagged with ``connection_file`` but this one and
    its ancestors (Linux; nothing elsewhere). Returns those that survived."""
    spare = ancestors(os.getpid())
    return kill_until_gone(
        lambda table: tagged(table, connection_file), spare=spare, timeout=timeout
    )


def describe_exit(process: KernelProcess) -> str:
    """Why the kernel process ended, in words."""
    if process.exit_reason:
        return f"the kernel exited with {process.exit_reason}"
    if process.stop_reason:
        return f"the kernel was stopped (its watchdog got {process.stop_reason})"
    code = process.returncode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        # Killed from outside before it could report the kernel's end: the
        # kernel died with it (parent-death signal), and ``kill`` ends the rest.
        return f"the kernel's watchdog was killed by {name}"
    if code is not None:
        return f"the kernel's watchdog exited with code {code}"
    return "the kernel stopped"


__all__ = [
    "WATCHDOG_SCRIPT",
    "ConnectionFile",
    "KernelProcess",
    "Transport",
    "describe_exit",
    "kernel_environment",
    "kill_kernel_processes",
    "runtime_dir",
    "write_connection",
]
