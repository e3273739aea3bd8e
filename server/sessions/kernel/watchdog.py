"""Run a kernel so that it cannot outlive its owner (DESIGN §6, "no orphans").

Usage (as a script, by path, with the kernel's own interpreter)::

    python -I watchdog.py --owner PID [--cleanup FILE ...] [--owner-cleanup FILE ...] \
        -- python -m ipykernel_launcher -f CONN

The owner launches this script as the leader of a new process group
(``start_new_session``); the kernel and everything a cell starts inherit that
group. The script waits for the kernel and, in a thread, polls the owner. When
either is gone it removes the ``--cleanup`` files (connection file, IPC
sockets) and SIGKILLs the whole group, itself included. So a kernel dies with
its owner even when the owner is SIGKILLed, and a dead kernel leaves no
children behind. The ``--owner-cleanup`` files (the session's registry
entry) are removed only when the owner is gone: a dead owner cannot remove
them itself, while a kernel that merely exits is replaced by a restart that
keeps them.

Stdlib only and free of this package's imports: the kernel's interpreter may
be another environment where ``sessions`` is not installed, and ``-I`` keeps
this folder off ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

POLL_SECONDS = 0.25
PREFIX = "[sessions watchdog]"


def _parse(argv: list[str]) -> tuple[int, list[str], list[str], list[str]]:
    if "--" not in argv:
        raise SystemExit("usage: watchdog.py --owner PID [--cleanup FILE ...] -- COMMAND ...")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    owner = 0
    cleanup: list[str] = []
    owner_cleanup: list[str] = []
    pairs = iter(options)
    for option in pairs:
        value = next(pairs, None)
        if value is None:
            raise SystemExit(f"{PREFIX} missing value for {option}")
        if option == "--owner":
            owner = int(value)
        elif option == "--cleanup":
            cleanup.append(value)
        elif option == "--owner-cleanup":
            owner_cleanup.append(value)
        else:
            raise SystemExit(f"{PREFIX} unknown option {option}")
    if owner <= 0 or not command:
        raise SystemExit(f"{PREFIX} need --owner PID and a command after --")
    return owner, cleanup, owner_cleanup, command


def _owner_alive(owner: int, parent_at_start: int) -> bool:
    # Our parent is normally the owner: when it dies we are re-parented, which
    # also catches the owner's pid being reused by an unrelated process.
    if parent_at_start == owner and os.getppid() != owner:
        return False
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _say(message: str) -> None:
    # The owner reads these lines; once it is gone the pipe is broken, and a
    # failed write must not stop the clean-up that follows.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"{PREFIX} {message}\n")
        sys.stderr.flush()


def _finish(cleanup: list[str], child: subprocess.Popen[bytes] | None) -> None:
    """Remove the leftover files, then kill everything in our process group."""
    for path in cleanup:
        with contextlib.suppress(OSError):
            os.unlink(path)
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)  # ends this process too
    # Not a group leader (launched by hand): never kill a group we do not own.
    if child is not None and child.poll() is None:
        child.kill()
    os._exit(1)


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def main(argv: list[str]) -> None:
    owner, cleanup, owner_cleanup, command = _parse(argv)
    parent_at_start = os.getppid()

    child: subprocess.Popen[bytes] | None = None

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        # Interrupts are sent to the whole group and meant for the kernel. A
        # Python handler (not SIG_IGN) so that the kernel, after exec, gets the
        # default disposition back and its children stay interruptible.
        pass

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        _finish(cleanup, child)

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, on_terminate)

    child = subprocess.Popen(command)
    _say(f"kernel pid {child.pid}")

    def watch_owner() -> None:
        try:
            while _owner_alive(owner, parent_at_start):
                time.sleep(POLL_SECONDS)
            _say(f"owner {owner} is gone; stopping the kernel")
            _finish([*cleanup, *owner_cleanup], child)
        finally:
            _finish(cleanup, child)

    threading.Thread(target=watch_owner, name="owner-watch", daemon=True).start()

    try:
        returncode = child.wait()
        _say(f"kernel exited with {_describe(returncode)}")
    finally:
        _finish(cleanup, child)


if __name__ == "__main__":
    main(sys.argv[1:])
