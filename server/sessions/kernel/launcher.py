"""Launch a kernel process: private runtime folder, connection file, process
group and watchdog (DESIGN §6).

The kernel runs as ``watchdog.py -- python -m ipykernel_launcher -f CONN`` in
a new session, so the watchdog's pid is the process group id: killing that
group ends the kernel and every child a cell started (see ``watchdog.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zmq
from jupyter_client.connect import KernelConnectionInfo, write_connection_file
from jupyter_core.paths import jupyter_runtime_dir

WATCHDOG_SCRIPT = Path(__file__).with_name("watchdog.py")
IOPUB_CONFIG = Path(__file__).with_name("iopub_config.py")
"""Loaded by the kernel (``--config``): a deeper IOPub queue, so a client that
falls behind gets every output late instead of losing some (see the file)."""
WATCHDOG_PREFIX = "[sessions watchdog]"

Transport = Literal["ipc", "tcp"]

# Unix socket paths are limited to ~104-108 bytes; keep a margin for "-N".
_MAX_IPC_PATH = 96
_OUTPUT_TAIL_LINES = 40


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


class KernelProcess:
    """The watchdog + kernel pair, seen from the owner."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pgid = process.pid
        self.kernel_pid: int | None = None
        self._kernel_pid_known = asyncio.Event()
        self.exit_reason: str | None = None
        self._tail: deque[str] = deque(maxlen=_OUTPUT_TAIL_LINES)
        self._reader = asyncio.create_task(self._read_output())

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
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=str(cwd),
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(process)

    async def _read_output(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        while line_bytes := await stream.readline():
            line = line_bytes.decode(errors="replace").rstrip("\n")
            if line.startswith(WATCHDOG_PREFIX):
                message = line[len(WATCHDOG_PREFIX) :].strip()
                if message.startswith("kernel pid "):
                    self.kernel_pid = int(message.removeprefix("kernel pid "))
                    self._kernel_pid_known.set()
                    continue
                if message.startswith("kernel exited with "):
                    self.exit_reason = message.removeprefix("kernel exited with ")
            self._tail.append(line)
            if line.lstrip().startswith("--existing "):
                # End of ipykernel's start-up banner: not worth showing anyone.
                self._tail.clear()

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def alive(self) -> bool:
        return self._process.returncode is None

    def output_tail(self) -> str:
        """The last lines the kernel printed outside of Jupyter messages
        (start-up errors, crashes), for error messages."""
        return "\n".join(self._tail)

    async def wait_kernel_pid(self, timeout: float) -> int | None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kernel_pid_known.wait(), timeout)
        return self.kernel_pid

    async def wait(self) -> int:
        returncode = await self._process.wait()
        # The reader ends at EOF, after the last line the watchdog wrote.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), 0.5)
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
        """SIGKILL the whole group and reap the watchdog."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), timeout)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def describe_exit(process: KernelProcess) -> str:
    """Why the kernel process ended, in words."""
    if process.exit_reason:
        return f"the kernel exited with {process.exit_reason}"
    if process.returncode is not None:
        return f"the kernel's watchdog exited with code {process.returncode}"
    return "the kernel stopped"


__all__ = [
    "WATCHDOG_SCRIPT",
    "ConnectionFile",
    "KernelProcess",
    "Transport",
    "describe_exit",
    "kernel_environment",
    "runtime_dir",
    "write_connection",
]
