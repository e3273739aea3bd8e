"""Run a kernel so that it cannot outlive its owner (DESIGN §6, "no orphans").

Usage (as a script, by path, with the kernel's own interpreter)::

    python -I watchdog.py --owner PID [--cleanup FILE ...] [--owner-cleanup FILE ...] \
        -- python -m ipykernel_launcher -f CONN

The owner launches this script as the leader of a new process group
(``start_new_session``); the kernel and everything a cell starts inherit that
group. The script waits for the kernel and, in a thread, polls the owner. When
either is gone it removes the ``--cleanup`` files (connection file, IPC
sockets) and kills every process of the kernel, then itself. The
``--owner-cleanup`` files (the session's registry entry) are removed only
when the owner is gone: a dead owner cannot remove them itself, while a
kernel that merely exits is replaced by a restart that keeps them.

"Every process of the kernel" is found three ways, because a cell's child
may leave each of them (docs/sessions.md, "What we guarantee"):

- the process group, which a child leaves with ``setsid``,
  ``start_new_session`` or ``process_group=0``;
- the process tree: on Linux this process is a *child subreaper*
  (``PR_SET_CHILD_SUBREAPER``), so a descendant whose parent exits (a double
  fork, ``setsid nohup cmd &``) is re-parented to us instead of to init, and
  every descendant stays findable by walking ``/proc`` parent links back to
  us. Walking is needed, not just tracking who gets re-parented to us: a
  child that never loses its parent (``Popen(start_new_session=True)`` from
  a live kernel) is never re-parented, and we only learn of re-parented
  processes when they exit anyway (``waitpid``);
- the tag: the owner puts ``SESSIONS_KERNEL_TAG=OWNER:START:CONNECTION_FILE``
  in our environment, which the kernel and its descendants inherit. It is how
  the owner, and ``sessions ls``, find a kernel's processes once this
  watchdog is gone and the tree is broken (``/proc/PID/environ``).

The kernel also gets ``PR_SET_PDEATHSIG`` = SIGKILL: if this watchdog is
SIGKILLed, the kernel dies at once (its owner then sees the watchdog exit and
ends the rest by group and tag).

Stdlib only and free of this package's imports: the kernel's interpreter may
be another environment where ``sessions`` is not installed, and ``-I`` keeps
this folder off ``sys.path``. The package imports the process-finding helpers
from here (``sessions.kernel.watchdog``), so there is one definition of the tag.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import NamedTuple

POLL_SECONDS = 0.25
PREFIX = "[sessions watchdog]"
TAG_VARIABLE = "SESSIONS_KERNEL_TAG"
"""``OWNER_PID:OWNER_START:CONNECTION_FILE``, in the environment of a kernel's
watchdog and inherited by everything the kernel starts."""

KILL_SECONDS = 3.0
"""How long a clean-up keeps finding and killing a kernel's processes."""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_LINUX = sys.platform.startswith("linux")


# -- Linux process facilities --------------------------------------------------


_libc: ctypes.CDLL | None = None


def prctl(option: int, value: int) -> bool:
    """``prctl(option, value)`` through libc; False where there is none
    (not Linux) or it failed."""
    global _libc
    if not _LINUX:
        return False
    try:
        # Loaded once, before any fork: a forked child calls it without dlopen.
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        result: int = _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)
    except (OSError, AttributeError):
        return False
    return result == 0


def become_subreaper() -> bool:
    """Adopt our descendants whose parent exits (Linux >= 3.4)."""
    return prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(parent: int) -> None:
    """In a forked child before ``exec``: get SIGKILL when ``parent`` dies.
    If it died already (between fork and now), there is nobody to signal us:
    end at once."""
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL)) and os.getppid() != parent:
        os._exit(1)


class ProcessInfo(NamedTuple):
    pid: int
    ppid: int
    pgrp: int
    start: int
    """Start time (clock ticks after boot): with the pid, names one process
    even after the pid is reused."""
    zombie: bool


def read_process(pid: int) -> ProcessInfo | None:
    """``/proc/PID/stat`` of one process, or None when it is gone (or not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            data = stat_file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    rest = data.rsplit(b")", 1)[-1].split()
    try:
        return ProcessInfo(pid, int(rest[1]), int(rest[2]), int(rest[19]), rest[0] == b"Z")
    except (IndexError, ValueError):
        return None


def process_table() -> dict[int, ProcessInfo]:
    """Every process we can see, by pid; empty where there is no ``/proc``."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    table: dict[int, ProcessInfo] = {}
    for name in names:
        if name.isdigit():
            info = read_process(int(name))
            if info is not None:
                table[info.pid] = info
    return table


def process_start(pid: int) -> int:
    """The start time of ``pid`` (0 when unknown)."""
    info = read_process(pid)
    return info.start if info is not None else 0


def process_tag(pid: int) -> str | None:
    """The ``SESSIONS_KERNEL_TAG`` a process was started with, if any.
    (Its environment as of its ``exec``; unreadable for other users' processes.)"""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ_file:
            data = environ_file.read()
    except OSError:
        return None
    prefix = TAG_VARIABLE.encode() + b"="
    for item in data.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def make_tag(owner: int, connection_file: str) -> str:
    return f"{owner}:{process_start(owner)}:{connection_file}"


def parse_tag(tag: str) -> tuple[int, int, str] | None:
    """``(owner_pid, owner_start, connection_file)``, or None for a malformed tag."""
    parts = tag.split(":", 2)
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]), int(parts[1]), parts[2]
    except ValueError:
        return None


def owner_alive(owner: int, start: int) -> bool:
    """Whether the process that started a kernel still runs (and is the same
    process: ``start`` rules out a reused pid when it is known)."""
    info = read_process(owner)
    if info is None:
        if _LINUX:
            return False
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return not info.zombie and (start == 0 or info.start == start)


def descendants(table: dict[int, ProcessInfo], root: int) -> set[int]:
    """The pids whose parent links lead to ``root`` (``root`` excluded)."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: set[int] = set()
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def ancestors(pid: int) -> set[int]:
    """``pid``'s parent, its parent... up to init: never ours to kill."""
    found: set[int] = set()
    info = read_process(pid)
    while info is not None and info.ppid > 0 and info.ppid not in found:
        found.add(info.ppid)
        info = read_process(info.ppid)
    return found


def tagged(table: dict[int, ProcessInfo], connection_file: str) -> set[int]:
    """The pids whose tag names ``connection_file`` (one kernel's processes)."""
    found: set[int] = set()
    for pid in table:
        tag = process_tag(pid)
        parsed = parse_tag(tag) if tag is not None else None
        if parsed is not None and parsed[2] == connection_file:
            found.add(pid)
    return found


def kill_until_gone(
    find: Callable[[dict[int, ProcessInfo]], Iterable[int]],
    *,
    spare: Iterable[int] = (),
    reap: bool = False,
    timeout: float = KILL_SECONDS,
) -> set[int]:
    """SIGKILL what ``find(process_table())`` names, again and again, until it
    names nothing alive: a process may fork between one look and the kill,
    but a killed one forks no more, and its children are found next round.
    ``spare``: never killed (ourselves, our ancestors). ``reap``: collect our
    own dead children as we go (a subreaper's adopted ones). Returns the pids
    still alive after ``timeout``."""
    keep = {os.getpid(), *spare}
    deadline = time.monotonic() + timeout
    while True:
        table = process_table()
        targets = {pid for pid in find(table) if pid not in keep}
        targets = {pid for pid in targets if pid in table and not table[pid].zombie}
        if not targets or time.monotonic() > deadline:
            return targets
        for pid in targets:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if reap:
            reap_children()
        time.sleep(0.01)


def reap_children() -> None:
    """Collect every child of ours that has exited (no waiting)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


# -- the watchdog ----------------------------------------------------------------


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


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class _Watchdog:
    """One kernel, watched. All clean-up happens in the main thread: the
    owner-polling thread asks for it with a SIGTERM to ourselves, so a
    signal never interrupts a clean-up run by another thread."""

    def __init__(self, owner: int, cleanup: list[str], owner_cleanup: list[str]) -> None:
        self.owner = owner
        self.cleanup = cleanup
        self.owner_cleanup = owner_cleanup
        self.child: subprocess.Popen[bytes] | None = None
        self.owner_gone = False
        self.finishing = False
        tag = parse_tag(os.environ.get(TAG_VARIABLE, ""))
        self.connection_file = tag[2] if tag is not None else None
        self.subreaper = False

    def members(self, table: dict[int, ProcessInfo]) -> set[int]:
        """Our kernel's processes: our descendants, our process group, our tag."""
        me = os.getpid()
        found = descendants(table, me)
        if os.getpgrp() == me:
            found |= {pid for pid, info in table.items() if info.pgrp == me}
        if self.connection_file is not None:
            found |= tagged(table, self.connection_file)
        return found

    def finish(self) -> None:
        """Remove the leftover files, kill every process of the kernel, exit."""
        if self.finishing:
            return  # a signal during our own clean-up: let it go on
        self.finishing = True
        files = [*self.cleanup, *(_with_companions(self.owner_cleanup) if self.owner_gone else [])]
        for path in files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        me = os.getpid()
        spare = ancestors(me)
        kill_until_gone(self.members, spare=spare, reap=self.subreaper)
        if os.getpgrp() == me:
            os.killpg(me, signal.SIGKILL)  # what /proc missed (not Linux); ends us too
        # Not a group leader (launched by hand): never kill a group we do not own.
        child = self.child
        if child is not None and child.returncode is None:
            with contextlib.suppress(OSError):
                child.kill()
        os._exit(1)

    def watch_owner(self, parent_at_start: int) -> None:
        while _owner_alive(self.owner, parent_at_start):
            time.sleep(POLL_SECONDS)
        _say(f"owner {self.owner} is gone; stopping the kernel")
        self.owner_gone = True
        # To the main thread, which is waiting for the kernel: it does the clean-up.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)

    def wait_kernel(self, child: subprocess.Popen[bytes]) -> int:
        """Wait for the kernel to exit; as a subreaper, also collect the
        adopted processes that exit meanwhile (else they stay zombies)."""
        if not self.subreaper:
            return child.wait()
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return child.wait()
            if pid == child.pid:
                # As Popen reports it (os.waitstatus_to_exitcode is 3.9+).
                code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                child.returncode = code
                return code


def _with_companions(paths: list[str]) -> list[str]:
    """Each ``KEY.json`` and the ``KEY.*`` files beside it (a registry entry's
    executed log and request files), as ``Registry.remove`` removes them."""
    found: list[str] = []
    for path in paths:
        folder, name = os.path.split(path)
        stem = name.rsplit(".", 1)[0] + "."
        found.append(path)
        with contextlib.suppress(OSError):
            found += [
                os.path.join(folder, n) for n in os.listdir(folder or ".") if n.startswith(stem)
            ]
    return found


def main(argv: list[str]) -> None:
    owner, cleanup, owner_cleanup, command = _parse(argv)
    parent_at_start = os.getppid()
    watchdog = _Watchdog(owner, cleanup, owner_cleanup)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        # Interrupts are sent to the whole group and meant for the kernel. A
        # Python handler (not SIG_IGN) so that the kernel, after exec, gets the
        # default disposition back and its children stay interruptible.
        pass

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        if not watchdog.owner_gone and not watchdog.finishing:
            _say("stopping the kernel: SIGTERM")
        watchdog.finish()

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, on_terminate)

    watchdog.subreaper = become_subreaper()
    if not watchdog.subreaper:
        _say(
            "note: no child subreaper on this system; a cell's child that leaves "
            "the kernel's process group may outlive the kernel"
        )
    me = os.getpid()
    # Spawned from the main thread, which lives as long as we do: the
    # parent-death signal follows the thread that forked, not the process.
    watchdog.child = child = subprocess.Popen(
        command, preexec_fn=(lambda: die_with_parent(me)) if _LINUX else None
    )
    _say(f"kernel pid {child.pid}")

    thread = threading.Thread(
        target=watchdog.watch_owner, args=(parent_at_start,), name="owner-watch", daemon=True
    )
    thread.start()

    try:
        returncode = watchdog.wait_kernel(child)
        _say(f"kernel exited with {_describe(returncode)}")
    finally:
        watchdog.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
