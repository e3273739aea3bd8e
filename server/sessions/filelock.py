"""An advisory inter-process lock on a dedicated lock file (``fcntl.flock``).

Each acquisition opens the lock file anew, so the lock also serialises
threads of one process. The kernel drops the lock when its holder dies, so a
crashed writer never leaves the lock taken. Not re-entrant: taking it again
while holding it in the same thread deadlocks.

The wait is a blocking ``flock``: the kernel wakes a waiter as soon as the
lock is released. (Polling with ``LOCK_NB`` starves a waiter: a process doing
back-to-back updates re-takes the lock before the sleeper next looks.)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
    from its absolute path. Only when no private folder is usable does the lock
    sit beside the file, as ``NAME.lock``.
    """
    folder = _private_lock_folder()
    if folder is None:
        return path.with_name(path.name + ".lock")
    digest = hashlib.blake2b(str(path.absolute()).encode("utf-8", "surrogatepass"), digest_size=16)
    return folder / f"{digest.hexdigest()}.lock"


@contextmanager
def advisory_lock(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
