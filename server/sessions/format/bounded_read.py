"""Reading a file Sessions opens by name: a regular file only, and only up to a size limit.

A notebook or a sidecar name may stand for anything: git stores symlinks, so
a checkout can hold ``nb.py -> /dev/zero`` (an endless read), and a FIFO named
``nb.py`` blocks a plain ``open()`` until some writer comes along (which froze
``sessions status`` and the whole MCP server). So every read here

* opens with ``O_NONBLOCK`` (a FIFO opens at once, with or without a writer)
  and ``O_NOCTTY`` (a terminal never becomes ours), after a ``stat`` that
  refuses devices before they are even opened (opening some has effects);
* checks with ``fstat`` on the open descriptor that it is a regular file (the
  name may have been swapped between the two calls);
* refuses a file over the limit from its size, before reading it, and reads at
  most one byte more than the limit (a file growing meanwhile is caught too).

A refusal is :class:`FileRefused`, an ``OSError`` whose ``strerror`` says in
words what the file is and what to do, so callers that report
``error.strerror`` need no change.

The notebook limit (``SESSIONS_MAX_NOTEBOOK_BYTES``, the language server's
``sessions.maxNotebookBytes``) bounds what analysing one notebook may cost:
the analysis keeps about 35 bytes per byte of typical notebook code, and up to
about 350 for files of one-token statements (``a=1`` per line); the default
4 MB is 35 times the 250-cell reference notebook (docs/guarantees.md).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MAX_NOTEBOOK_BYTES = 4_000_000
"""Largest notebook file analysed by default (about 100,000 lines of typical code)."""

MAX_NOTEBOOK_VARIABLE = "SESSIONS_MAX_NOTEBOOK_BYTES"
"""Environment variable that changes the notebook limit for the CLI, MCP server and API."""

MAX_NOTEBOOK_SETTING = "sessions.maxNotebookBytes"
"""The language server's setting for the same limit."""

MAX_SIDECAR_BYTES = 256_000_000
"""Largest output cache read. Writing caps a notebook's outputs at 50 M
characters in total (``sidecar_cap``), so a sidecar we wrote stays far below
this even when its text is not ASCII; old or hand-made ones may not."""

_CHUNK = 1 << 20


class FileRefused(OSError):
    """A file that is not read: not a regular file, or over the size limit.

    ``strerror`` says what it is and what to do, in words for the user; the
    ``errno`` is the closest standard one (``EFBIG`` for a size, ``EISDIR``
    for a folder, ``EINVAL`` otherwise).
    """

    def __init__(self, code: int, reason: str, path: Path) -> None:
        super().__init__(code, reason, str(path))


def describe_kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def format_size(size: int, *, unit: bool = False) -> str:
    """``4000000`` -> ``4 MB``, ``52428800`` -> ``52.4 MB``, in bytes below 10 kB
    (``2,000 bytes``, or ``2,000-byte`` with ``unit``, before a noun)."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"
    if size >= 10_000:
        return f"{size / 1_000:.1f}".removesuffix(".0") + " kB"
    return f"{size:,}-byte" if unit else f"{size:,} bytes"


def _not_regular(path: Path, mode: int) -> FileRefused:
    kind = describe_kind(mode) or "not a regular file"
    code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
    target = ""
    if path.is_symlink():
        try:
            target = f" (a link to {os.readlink(path)})"
        except OSError:
            target = " (a link)"
    return FileRefused(code, f"it is {kind}{target}, not a regular file", path)


def _too_large(path: Path, size: int, limit: int, hint: str) -> FileRefused:
    reason = f"it is {format_size(size)}, over the {format_size(limit, unit=True)} limit"
    return FileRefused(errno.EFBIG, f"{reason} {hint}" if hint else reason, path)


def read_regular_file(path: Path, limit: int, *, limit_hint: str = "") -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Raises :class:`FileRefused` for anything else (``limit_hint`` is added to
    the size message: which setting raises the limit), and the ``OSError`` of
    the open itself (``FileNotFoundError``, ``PermissionError``). Never blocks
    on a FIFO and never reads more than ``limit + 1`` bytes.
    """
    # A stat first, so a device is refused before the open (opening a tape
    # rewinds it, opening a terminal may make it ours); the fstat below makes
    # the decision for the file actually opened.
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        if info.st_size > limit:
            raise _too_large(path, info.st_size, limit, limit_hint)
        # The size fstat saw (plus one byte) in one read; more only if the file
        # grew meanwhile, and never past the limit: it cannot be read without end.
        remaining = limit + 1
        chunks: list[bytes] = []
        while remaining > 0:
            chunk = os.read(fd, min(remaining, max(_CHUNK, info.st_size + 1)))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        got = limit + 1 - remaining
        if got > limit:
            raise _too_large(path, got, limit, limit_hint)
        return b"".join(chunks)  # one chunk: returned as it is, no copy
    finally:
        os.close(fd)


def max_notebook_bytes() -> int:
    """The notebook size limit: ``SESSIONS_MAX_NOTEBOOK_BYTES`` if set, else the default."""
    raw = os.environ.get(MAX_NOTEBOOK_VARIABLE, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_NOTEBOOK_BYTES
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    log.warning(
        "%s=%r is not a positive number of bytes; using %d",
        MAX_NOTEBOOK_VARIABLE,
        raw,
        DEFAULT_MAX_NOTEBOOK_BYTES,
    )
    return DEFAULT_MAX_NOTEBOOK_BYTES


NOTEBOOK_LIMIT_HINT = (
    f"for notebooks (raise it with {MAX_NOTEBOOK_VARIABLE}=BYTES in a terminal or for MCP, "
    f"or with the editor setting {MAX_NOTEBOOK_SETTING})"
)
"""What follows "over the 4 MB limit" when a notebook is refused: how to raise it."""


def text_bytes(text: str) -> int:
    """The UTF-8 size of ``text``, without encoding it when it is ASCII."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
