"""Finding notebooks in a folder: ``.py`` files with at least one ``# %%`` cell marker."""

from __future__ import annotations

import os
from pathlib import Path

from sessions.format.bounded_read import (
    DEFAULT_MAX_NOTEBOOK_BYTES,
    max_notebook_bytes,
    read_regular_file,
)
from sessions.format.markers import marker_lines, split_lines

SKIPPED_FOLDERS = frozenset(
    {"node_modules", "__pycache__", "site-packages", "venv", "env", "build", "dist"}
)
"""Folders that hold installed or generated code, not a user's notebooks (and
every folder whose name starts with a dot: .git, .venv, .tox ...)."""

MAX_FILE_BYTES = DEFAULT_MAX_NOTEBOOK_BYTES
"""The default size limit of a notebook (``bounded_read``); larger files are not listed."""


def has_cell_marker(text: str) -> bool:
    # A byte order mark is no part of the first line (``parse`` sets it aside):
    # with it, a notebook whose first line is its first marker was not listed.
    starts, _ = marker_lines(split_lines(text.removeprefix("\ufeff")))
    return bool(starts)


def _is_notebook(path: Path) -> bool:
    # Only a regular file, only up to the notebook size limit: a FIFO named
    # x.py must not block the listing, nor a link to /dev/zero be read forever.
    try:
        text = read_regular_file(path, max_notebook_bytes()).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return has_cell_marker(text)


def find_notebooks(folder: Path, *, recursive: bool = True, limit: int = 500) -> list[Path]:
    """Notebook files under ``folder``, sorted, at most ``limit`` of them."""
    found: list[Path] = []
    for directory, folders, files in os.walk(folder):
        folders[:] = sorted(
            name for name in folders if not name.startswith(".") and name not in SKIPPED_FOLDERS
        )
        if not recursive:
            folders.clear()
        for name in sorted(files):
            path = Path(directory) / name
            if name.endswith(".py") and _is_notebook(path):
                found.append(path)
                if len(found) >= limit:
                    return found
    return found
