"""A kernel that outlives the command that started it (``sessions start``).

The supervisor is a small process that owns one kernel: it launches it (so
the kernel's watchdog watches the *supervisor*), registers it, optionally
replays cells into it (``clone``), and then waits. It shuts the kernel down
and exits on SIGTERM (``sessions stop``), SIGINT (Ctrl-C of a foreground
``sessions start``), the idle timeout, or when the kernel dies. Killing the
supervisor outright still leaves nothing: the watchdog then kills the
kernel's process group. Restart requests reach it through the registry like
any owner (``registration.py``).

Detached (``start_detached``), it runs as ``python -m
sessions.kernel.supervisor`` in a new session (no controlling terminal), and
tells its parent on stdout, in one JSON line, the entry it registered or why
it failed; then its stdout goes to /dev/null.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.format.bounded_read import max_notebook_bytes, read_regular_file
from sessions.format.hashing import code_hash
from sessions.format.notebook import parse
from sessions.kernel.errors import KernelError
from sessions.kernel.registration import Registration
from sessions.kernel.registry import Registry, SessionEntry
from sessions.kernel.session import KernelSession

IDLE_TIMEOUT_ENV = "SESSIONS_IDLE_TIMEOUT"


def default_idle_timeout(env: dict[str, str] | None = None) -> float | None:
    """Minutes from ``SESSIONS_IDLE_TIMEOUT`` (unset, empty or 0: no sweep)."""
    value = (env if env is not None else os.environ).get(IDLE_TIMEOUT_ENV, "").strip()
    if not value:
        return None
    try:
        minutes = float(value)
    except ValueError as error:
        raise ValueError(
            f"{IDLE_TIMEOUT_ENV} must be a number of minutes, not {value!r}"
        ) from error
    return minutes if minutes > 0 else None


@dataclass(slots=True)
class Replay:
    """What a clone replayed: cell indexes in replay order, and the first failure."""

    cells: list[int] = field(default_factory=list)
    failed: int | None = None
    error: str | None = None


@dataclass(slots=True)
class SupervisorOptions:
    notebook: Path
    key: str | None = None
    name: str | None = None
    python: str | None = None
    idle_timeout: float | None = None
    clone_of: str | None = None
    replay: list[str] = field(default_factory=list)
    """``code_hash``es to replay, in order (the source's ``executed``)."""
    detached: bool = True
    """Whether the supervisor runs in the background (``start --detach``, clones)
    rather than in the foreground of ``sessions start``; shown by ``sessions ls``."""


async def replay_cells(session: KernelSession, notebook: Path, hashes: Sequence[str]) -> Replay:
    """Run, in ``hashes`` order, the notebook's code cells whose code has
    those hashes; stop at the first error. Outputs are not kept."""
    # Bounded and never blocking: the notebook may have become a FIFO or a device.
    data = read_regular_file(notebook, max_notebook_bytes())
    cells = parse(data.decode("utf-8", errors="replace")).cells
    by_hash: dict[str, int] = {}
    for position, cell in enumerate(cells):
        if cell.kind == "code" and cell.code.strip():
            by_hash.setdefault(code_hash(cell.code), position)
    replay = Replay()
    for digest in hashes:
        index = by_hash.get(digest)
        if index is None:
            continue  # code that is no longer in the notebook (or never was a cell)
        result = await session.execute(cells[index].code, lambda output: None)
        replay.cells.append(index)
        if result.status != "ok":
            replay.failed = index
            replay.error = f"{result.ename}: {result.evalue}" if result.ename else result.status
            break
    return replay


async def supervise(
    options: SupervisorOptions,
    registry: Registry,
    ready: Callable[[SessionEntry, Replay], None],
) -> None:
    """Own a kernel for ``options.notebook`` until stopped (see the module doc).
    ``ready`` is called once the kernel is registered (and replayed)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    key = options.key or registry.new_key()
    session = KernelSession.for_notebook(
        options.notebook, setting=options.python, owner_cleanup=[registry.entry_path(key)]
    )
    await session.start()
    try:

        async def on_idle() -> None:
            stop.set()

        registration = Registration(
            registry,
            session,
            options.notebook,
            key=key,
            name=options.name,
            detached=options.detached,
            clone_of=options.clone_of,
            idle_timeout=options.idle_timeout,
            on_idle=on_idle,
        )
        registration.begin()
        replay = await replay_cells(session, options.notebook, options.replay)
        ready(registration.entry, replay)
        session.on_state(lambda state: stop.set() if state == "dead" else None)
        await stop.wait()
    finally:
        await session.shutdown()


# -- running detached ----------------------------------------------------------


def _announce(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()
    # The parent reads one line and goes away; later writes must not fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _replay_json(replay: Replay) -> dict[str, Any]:
    return {"cells": replay.cells, "failed": replay.failed, "error": replay.error}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sessions.kernel.supervisor")
    parser.add_argument("notebook")
    parser.add_argument("--registry", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--name")
    parser.add_argument("--python")
    parser.add_argument("--idle-timeout", type=float)
    parser.add_argument("--clone-of")
    parser.add_argument("--replay", default="", help="comma-separated code hashes")
    args = parser.parse_args(argv)
    options = SupervisorOptions(
        notebook=Path(args.notebook),
        key=args.key,
        name=args.name,
        python=args.python,
        idle_timeout=args.idle_timeout,
        clone_of=args.clone_of,
        replay=[h for h in args.replay.split(",") if h],
    )
    announced = False

    def ready(entry: SessionEntry, replay: Replay) -> None:
        nonlocal announced
        announced = True
        _announce({"entry": entry.to_json(), "replay": _replay_json(replay)})

    try:
        asyncio.run(supervise(options, Registry(Path(args.registry)), ready))
    except (KernelError, OSError, ValueError) as error:
        if not announced:
            _announce({"error": str(error)})
        return 1
    return 0


class SupervisorError(Exception):
    """The detached supervisor could not start the kernel; the message says why."""


def start_detached(
    options: SupervisorOptions, registry: Registry, *, timeout: float = 90.0
) -> tuple[SessionEntry, Replay]:
    """Start a supervisor in the background and wait until its kernel is
    registered (and replayed). ``SupervisorError`` when it fails."""
    key = options.key or registry.new_key()
    command = [
        sys.executable,
        "-m",
        "sessions.kernel.supervisor",
        str(options.notebook.absolute()),
        "--registry",
        str(registry.folder),
        "--key",
        key,
    ]
    for flag, value in (
        ("--name", options.name),
        ("--python", options.python),
        ("--idle-timeout", options.idle_timeout),
        ("--clone-of", options.clone_of),
    ):
        if value is not None:
            command += [flag, str(value)]
    if options.replay:
        command += ["--replay", ",".join(options.replay)]
    # Through a shell that puts it in the background and exits: the
    # supervisor is re-parented to init, so no caller ever has to reap it.
    launcher = subprocess.Popen(
        ["/bin/sh", "-c", '"$@" & echo $!', "sh", *command],
        cwd=str(options.notebook.absolute().parent),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # no terminal: survives the shell that started it
    )
    assert launcher.stdout is not None
    stream = launcher.stdout
    supervisor_pid = int(stream.readline() or b"0")
    launcher.wait()
    deadline = time.monotonic() + timeout
    line = b""
    try:
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
                if supervisor_pid > 0:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(supervisor_pid, signal.SIGTERM)
                raise SupervisorError(f"the kernel did not start within {timeout:.0f} s")
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            line += chunk
    finally:
        stream.close()
    try:
        payload = json.loads(line)
    except ValueError:
        payload = {"error": "the supervisor exited before starting the kernel"}
    if "error" in payload:
        raise SupervisorError(str(payload["error"]))
    replay = payload["replay"]
    return SessionEntry.from_json(payload["entry"]), Replay(
        cells=list(replay["cells"]), failed=replay["failed"], error=replay["error"]
    )


if __name__ == "__main__":
    sys.exit(main())
