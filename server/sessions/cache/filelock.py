"""An advisory inter-process lock on a dedicated lock file (``fcntl.flock``).

Each acquisition opens the lock file anew, so the lock also serialises
threads of one process. The kernel drops the lock when its holder dies, so a
crashed writer never leaves the lock taken. Not re-entrant: taking it again
while holding it in the same thread deadlocks.

The wait is a blocking ``flock``: the kernel wakes a waiter as soon as the
lock is released. (Polling with ``LOCK_NB`` starves a waiter: a process doing
back-to-back updates re-takes the lock before the sleeper next looks.)

A holder that never lets go — a ``sessions run`` suspended with Ctrl-Z in the
middle of a write — must not make every other writer hang in silence. So
when the lock is taken, the blocking ``flock`` runs in a thread of its own;
after ``NOTICE_AFTER`` seconds the waiter logs which process holds the lock
(from ``/proc/locks``, and the small holder record every holder writes into
the lock file: its pid and command line) and whether it is stopped, and after
the timeout (``SESSIONS_LOCK_TIMEOUT``, default 60 s) it gives up with
``LockTimeout``. The abandoned thread keeps waiting and releases the lock at
once if it ever gets it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import math
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sessions.cache.atomic import helper_path

DEFAULT_TIMEOUT = 60.0
"""Seconds a writer waits for the lock before giving up (``SESSIONS_LOCK_TIMEOUT``)."""
TIMEOUT_VARIABLE = "SESSIONS_LOCK_TIMEOUT"
NOTICE_AFTER = 2.0
"""Seconds of waiting after which the waiter says who holds the lock."""

log = logging.getLogger(__name__)


class LockTimeout(TimeoutError):
    """The lock stayed taken for the whole timeout; the message names the holder."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ETIMEDOUT, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _private_lock_folder() -> Path | None:
    """A per-user folder (mode 0700) for lock files, or ``None`` if none can be trusted."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(xdg) if xdg and Path(xdg).is_dir() else Path(tempfile.gettempdir())
    folder = base / f"sessions-locks-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    # Refuse a folder someone else created (or a symlink planted) in a shared /tmp.
    if info.st_uid != os.getuid() or not folder.is_dir() or folder.is_symlink():
        return None
    if info.st_mode & 0o077:
        folder.chmod(0o700)
    return folder


def lock_file_for(path: Path) -> Path:
    """The lock file guarding ``path``: kept out of the user's folder.

    Every process of this user that writes ``path`` derives the same lock file
    from its real path (symlinks resolved: writes go through a link to its
    target, so two names of one file must share one lock). Only when no
    private folder is usable does the lock sit beside the file, as
    ``NAME.lock`` (shortened with a hash when that name would be too long).
    """
    real = Path(os.path.realpath(path))
    folder = _private_lock_folder()
    if folder is None:
        return helper_path(real, "", ".lock")
    digest = hashlib.blake2b(str(real).encode("utf-8", "surrogatepass"), digest_size=16)
    return folder / f"{digest.hexdigest()}.lock"


def lock_timeout() -> float:
    """The wait limit from ``SESSIONS_LOCK_TIMEOUT`` (seconds; ``inf`` waits forever)."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value < 0:
        log.warning(
            "%s=%r is not a number of seconds; waiting up to %g s for locks",
            TIMEOUT_VARIABLE,
            raw,
            DEFAULT_TIMEOUT,
        )
        return DEFAULT_TIMEOUT
    return value


@contextmanager
def advisory_lock(
    lock_path: Path, *, what: str | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold the lock on ``lock_path`` for the ``with`` block.

    ``what`` names the guarded file in messages (the lock file's own name is
    a hash). ``timeout`` defaults to ``lock_timeout()``; past it ``LockTimeout``
    is raised, saying which process holds the lock.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    owned = True  # whether closing ``fd`` is ours to do
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owned = False  # while waiting, ``fd`` may pass to the waiting thread
            _wait(
                fd,
                lock_path,
                what or lock_path.name,
                lock_timeout() if timeout is None else timeout,
            )
            owned = True
        _record_holder(fd)
        yield
    finally:
        if owned:
            os.close(fd)  # closing the descriptor releases the lock


def _wait(fd: int, lock_path: Path, what: str, timeout: float) -> None:
    """Block until ``fd`` holds the lock; on any exception ``fd`` is no longer ours."""
    waiter = _BlockingAcquire(fd)
    try:
        got = waiter.wait(min(NOTICE_AFTER, timeout))
        if not got:
            log.warning(
                "%s is locked by another writer: %s; waiting up to %s for it to finish "
                "(%s sets how long)",
                what,
                describe_holder(lock_path),
                _seconds(timeout),
                TIMEOUT_VARIABLE,
            )
            got = waiter.wait(max(timeout - NOTICE_AFTER, 0))
        if not got:
            raise LockTimeout(
                f"gave up after {_seconds(timeout)} waiting for the lock on {what}, held by "
                f"{describe_holder(lock_path)}; when it is gone run again, or set "
                f"{TIMEOUT_VARIABLE} to wait longer"
            )
    except BaseException:
        if waiter.abandon():
            os.close(fd)  # got it at the last moment: let it go
        raise
    if waiter.error is not None:
        os.close(fd)
        raise waiter.error


def _seconds(value: float) -> str:
    return "ever" if math.isinf(value) else f"{value:g} s"


class _BlockingAcquire:
    """A blocking ``flock`` in a daemon thread, so the caller can stop waiting.

    Until ``wait`` returns True the descriptor belongs to the thread: after
    ``abandon`` the thread closes it (releasing a lock got too late), so the
    caller must not.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._guard = threading.Lock()
        self._done = threading.Event()
        self._abandoned = False
        self.error: OSError | None = None
        threading.Thread(target=self._acquire, name="sessions-lock-wait", daemon=True).start()

    def _acquire(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as error:
            self.error = error
        with self._guard:
            if self._abandoned:
                os.close(self._fd)
                return
            self._done.set()

    def wait(self, seconds: float) -> bool:
        return self._done.wait(None if math.isinf(seconds) else seconds)

    def abandon(self) -> bool:
        """Stop waiting. True: the lock was got meanwhile, the caller owns ``fd`` again."""
        with self._guard:
            if self._done.is_set():
                return True
            self._abandoned = True
            return False


# --- who holds the lock ---------------------------------------------------------


@cache
@cache
def _own_command() -> str:
    """This process's command line (it does not change: read once)."""
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            raw = handle.read()
        command = " ".join(os.fsdecode(part) for part in raw.split(b"\0") if part)
    except OSError:
        command = " ".join([sys.executable, *sys.argv])
    return command[:500]


def _record_holder(fd: int) -> None:
    """Write this process's pid and command line into the lock file, for waiters to show."""
    record = f"{os.getpid()}\n{_own_command()}\n".encode("utf-8", "surrogateescape")
    # Only a courtesy to waiters: a lock folder that refuses writes costs nothing.
    with suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)


@dataclass(frozen=True)
class LockHolder:
    pid: int
    command: str | None
    stopped: bool


def _flock_pids(lock_path: Path) -> list[int]:
    """Pids holding a ``flock`` on ``lock_path`` according to ``/proc/locks`` (Linux)."""
    try:
        info = os.stat(lock_path)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    exact: list[int] = []
    same_inode: list[int] = []
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 2708 fe:00:2147876 0 EOF"; waiters have "->".
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            if int(inode) != info.st_ino or pid <= 0:
                continue
            device = (int(major, 16), int(minor, 16))
        except ValueError:
            continue
        # Overlay filesystems may show another device than stat does.
        same_inode.append(pid)
        if device == (os.major(info.st_dev), os.minor(info.st_dev)):
            exact.append(pid)
    return exact or same_inode


def _recorded(lock_path: Path) -> tuple[int | None, str | None]:
    try:
        with open(lock_path, "rb") as handle:
            lines = handle.read(4096).decode("utf-8", "replace").splitlines()
        return int(lines[0]), (lines[1] if len(lines) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None, None


def _process(pid: int) -> tuple[str | None, bool] | None:
    """The command line of ``pid`` and whether it is stopped; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
        command: str | None = " ".join(os.fsdecode(p) for p in raw.split(b"\0") if p)[:500]
    except OSError:
        command = None
    return command or None, state in (b"T", b"t")


def lock_holder(lock_path: Path) -> LockHolder | None:
    """The process holding the lock, as far as this system lets us see it."""
    pids = _flock_pids(lock_path)
    recorded_pid, recorded_command = _recorded(lock_path)
    if pids:
        # The record may be a previous holder's (written after locking): trust
        # it only when the kernel agrees.
        pid = recorded_pid if recorded_pid in pids else pids[0]
    elif recorded_pid is not None:
        pid = recorded_pid
    else:
        return None
    seen = _process(pid)
    if seen is None:
        if pids:
            return LockHolder(pid, None, stopped=False)
        return None  # a stale record of a process that is gone, and no kernel view
    command, stopped = seen
    if command is None and pid == recorded_pid:
        command = recorded_command
    return LockHolder(pid, command, stopped)


def describe_holder(lock_path: Path) -> str:
    """``process 1234 (sessions run nb.py), which is stopped ...`` for messages."""
    holder = lock_holder(lock_path)
    if holder is None:
        return "a process this system does not show (in another container or on another machine?)"
    if holder.pid == os.getpid():
        return f"this process ({holder.pid}), in another thread"
    text = f"process {holder.pid}"
    if holder.command:
        text += f" ({holder.command})"
    if holder.stopped:
        text += (
            f", which is stopped (suspended with Ctrl-Z?): resume it with `fg` in its "
            f"terminal or `kill -CONT {holder.pid}`, or end it"
        )
    return text
