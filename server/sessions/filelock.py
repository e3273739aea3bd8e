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
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def advisory_lock(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
