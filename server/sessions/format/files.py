"""Reading a notebook file as text: a regular UTF-8 file under the size limit.

Every surface reads notebooks through :func:`read_notebook_text`, so a FIFO,
a directory, a binary or a non-UTF-8 file gets one clear message that says
what to do, and a file over the limit is refused before it is read.
"""

from __future__ import annotations

import errno
from pathlib import Path

from sessions.format.bounded_read import (
    NOTEBOOK_LIMIT_HINT,
    FileRefused,
    max_notebook_bytes,
    read_regular_file,
)


class NotebookReadError(Exception):
    """The notebook file cannot be read as text; the message says why and what to do."""


class NotebookTooLarge(NotebookReadError):
    """The notebook is over the size limit for analysis; the message says how to raise it."""


def read_notebook_text(path: Path, *, max_bytes: int | None = None) -> str:
    """Read a notebook file, refusing what is not a UTF-8 text file with a clear message.

    Only a regular file of at most ``max_bytes`` (default: ``SESSIONS_MAX_NOTEBOOK_BYTES``
    or 4 MB) is read: a FIFO never blocks, a link to ``/dev/zero`` is never read
    (``bounded_read``).
    """
    limit = max_notebook_bytes() if max_bytes is None else max_bytes
    try:
        data = read_regular_file(path, limit, limit_hint=NOTEBOOK_LIMIT_HINT)
    except FileNotFoundError:
        raise NotebookReadError(f"{path}: no such file") from None
    except FileRefused as exc:
        if exc.errno == errno.EISDIR:
            raise NotebookReadError(f"{path}: is a directory, not a notebook .py file") from None
        kind = NotebookTooLarge if exc.errno == errno.EFBIG else NotebookReadError
        raise kind(f"{path}: cannot be read as a notebook: {exc.strerror}") from None
    except OSError as exc:
        raise NotebookReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if b"\x00" in data:
        raise NotebookReadError(
            f"{path}: looks like a binary file (contains NUL bytes), not a notebook"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookReadError(
            f"{path}: is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8"
        ) from exc
