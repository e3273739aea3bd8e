"""Replacing a file atomically: readers see the old bytes or the new, never a mix.

The bytes go to a temporary file in the same folder (so the rename stays on
one filesystem), are flushed and fsynced, then renamed over the target, and
the folder is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, temp_path: Path | None = None) -> None:
    """Write ``data`` to ``path`` atomically.

    ``temp_path`` names the temporary file. A caller that holds a lock
    serialising all writers of ``path`` passes a fixed name, so a writer
    killed mid-write leaves one stale file that the next write reuses instead
    of a new stray file per crash. Without it a unique name is used.
    """
    if temp_path is None:
        temp_path = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp_path, flags, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            # Keep the permissions a user gave the file, not the umask's.
            os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
    os.close(fd)
    try:
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    # Some filesystems refuse fsync on a folder (EINVAL); the data is already
    # safe in the file, only the rename's durability is then up to the OS.
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)
