"""Which paths a client may name: notebooks inside one root folder, nothing else.

``sessions mcp --root WS`` gives file tools to a client that should reach WS
and no further. Every path a tool takes goes through :class:`WorkspaceScope`:
it is resolved as the OS would resolve it (``..``, symbolic links anywhere on
the way) and refused unless the real file is a regular ``.py`` file inside the
real root. Callers then work on the *resolved* path, so a write lands on the
file that was checked, never through a link to somewhere else.

This bounds what the file tools reach. Code that a notebook runs is not
contained by it: it runs with the user's rights (docs/agents.md).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sessions.cache.sidecar import sidecar_path
from sessions.format.bounded_read import max_notebook_bytes
from sessions.format.discovery import SKIPPED_FOLDERS, has_cell_marker

NOTEBOOK_SUFFIX = ".py"
NOTEBOOK_LIMIT = 500
"""Notebooks listed per call at most, as :func:`sessions.format.discovery.find_notebooks`."""


class OutsideScopeError(ValueError):
    """A path the scope refuses; the message names the path and says why."""


def real_path(path: Path) -> Path:
    """``path`` with every symbolic link and ``..`` resolved (missing tails kept)."""
    return Path(os.path.realpath(path))


def within(path: Path, roots: list[Path]) -> bool:
    """Whether ``path``, resolved, is one of ``roots`` (resolved) or inside one."""
    real = real_path(path)
    return any(real.is_relative_to(real_path(root)) for root in roots)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@dataclass(frozen=True)
class WorkspaceScope:
    """The notebooks under one root folder; ``root`` is already resolved."""

    root: Path

    @classmethod
    def at(cls, folder: Path) -> WorkspaceScope:
        root = real_path(folder)
        if not root.is_dir():
            raise OutsideScopeError(f"{folder}: not a folder")
        return cls(root)

    def contains(self, path: Path) -> bool:
        return within(path, [self.root])

    def display(self, path: Path) -> str:
        """``path`` relative to the root when it is inside, else as it is."""
        if path.is_relative_to(self.root):
            return str(path.relative_to(self.root))
        return str(path)

    # -- what tools take --------------------------------------------------------

    def notebook(self, name: str) -> Path:
        """The real path of the existing notebook ``name`` names, or a refusal."""
        given, real = self._resolve(name)
        self._require_suffix(name, given, real)
        try:
            mode = os.stat(real).st_mode
        except FileNotFoundError:
            raise OutsideScopeError(
                f"{name}: no such file in {self.root}; `list_notebooks` shows the notebooks "
                "there, and `create_notebook` starts a new one"
            ) from None
        except OSError as exc:
            raise OutsideScopeError(f"{name}: cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(mode):
            raise OutsideScopeError(f"{name}: refused: it is {_kind(mode)}, not a notebook file")
        self._require_safe_sidecar(name, real)
        return real

    def new_notebook(self, name: str) -> Path:
        """The real path where a notebook ``name`` may be created, or a refusal."""
        given, real = self._resolve(name)
        self._require_suffix(name, given, real)
        # lexists: a dangling symbolic link is a name that exists too.
        if os.path.lexists(given) or os.path.lexists(real):
            raise OutsideScopeError(f"{name} already exists; use get_cells to read it")
        if not real.parent.is_dir():
            raise OutsideScopeError(
                f"{name}: the folder {self.display(real.parent)} does not exist in {self.root}"
            )
        return real

    def folder(self, name: str) -> Path:
        """The real path of an existing folder inside the root, or a refusal."""
        _, real = self._resolve(name, what="folder")
        if not real.is_dir():
            raise OutsideScopeError(f"{name}: not a folder under {self.root}")
        return real

    def notebooks(
        self, folder: Path, *, recursive: bool = True, limit: int = NOTEBOOK_LIMIT
    ) -> tuple[list[Path], list[tuple[Path, str]]]:
        """Notebooks under ``folder`` (as named there, sorted) and the files refused, with why.

        Folders are walked as :func:`sessions.format.discovery.find_notebooks` does
        (hidden and installed-code folders skipped, folder links not
        followed); a ``.py`` name is read only after it proved to be a
        regular file inside the root, and only up to the size limit, so a link
        to ``/dev/zero`` or a FIFO cannot make the listing read forever.
        """
        found: list[Path] = []
        refused: list[tuple[Path, str]] = []
        for directory, folders, files in os.walk(folder):
            folders[:] = sorted(
                name for name in folders if not name.startswith(".") and name not in SKIPPED_FOLDERS
            )
            if not recursive:
                folders.clear()
            for name in sorted(files):
                if not name.endswith(NOTEBOOK_SUFFIX):
                    continue
                path = Path(directory) / name
                why = self._refusal(path)
                if why is not None:
                    refused.append((path, why))
                elif _has_markers(real_path(path)):
                    found.append(path)
                    if len(found) >= limit:
                        return found, refused
        return found, refused

    # -- the rules ----------------------------------------------------------------

    def _resolve(self, name: str, what: str = "notebook") -> tuple[Path, Path]:
        """(the path as named, joined to the root; its real path), refused if outside."""
        if not isinstance(name, str) or not name.strip():
            raise OutsideScopeError(f"a {what} path is required (relative to {self.root})")
        if "\0" in name:
            raise OutsideScopeError(f"{name!r}: refused: a path cannot contain a NUL character")
        named = Path(name).expanduser()
        given = named if named.is_absolute() else self.root / named
        real = real_path(given)
        if real.is_relative_to(self.root):
            return given, real
        # Say which rule it broke: where the name points, or a link on the way.
        if Path(os.path.normpath(given)).is_relative_to(self.root):
            raise OutsideScopeError(
                f"{name}: refused: a symbolic link on the way leads outside the server's root "
                f"{self.root} (to {real}); tools reach only files inside it"
            )
        raise OutsideScopeError(
            f"{name}: refused: it is outside the server's root {self.root}; tools reach only "
            "files inside it (give a path relative to the root)"
        )

    def _require_suffix(self, name: str, given: Path, real: Path) -> None:
        if given.suffix != NOTEBOOK_SUFFIX:
            raise OutsideScopeError(
                f"{name}: refused: a notebook is a {NOTEBOOK_SUFFIX} file; use a name ending "
                f"in {NOTEBOOK_SUFFIX}"
            )
        if real.suffix != NOTEBOOK_SUFFIX:
            raise OutsideScopeError(
                f"{name}: refused: it is a symbolic link to {self.display(real)}, which is not "
                f"a {NOTEBOOK_SUFFIX} file"
            )

    def _require_safe_sidecar(self, name: str, notebook: Path) -> None:
        # The engine reads and writes NAME.sessions.toml beside the notebook:
        # a planted link there would read a file outside the root.
        cache = sidecar_path(notebook)
        if not os.path.lexists(cache):
            return
        if not self.contains(cache):
            raise OutsideScopeError(
                f"{name}: refused: its output cache {cache.name} is a symbolic link that leads "
                f"outside the server's root {self.root}; remove it or replace it with a file"
            )
        try:
            mode = os.stat(cache).st_mode
        except OSError:
            return  # a dangling link inside the root: the engine replaces it
        if not stat.S_ISREG(mode):
            raise OutsideScopeError(
                f"{name}: refused: its output cache {cache.name} is {_kind(mode)}, not a file"
            )

    def _refusal(self, path: Path) -> str | None:
        """Why ``path`` (found while listing) is no notebook this scope offers, or None."""
        if not self.contains(path):
            return "a symbolic link that leads outside the root"
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            return f"cannot be read: {exc.strerror}"
        if not stat.S_ISREG(mode):
            return _kind(mode)
        if real_path(path).suffix != NOTEBOOK_SUFFIX:
            return f"a symbolic link to a file that is not {NOTEBOOK_SUFFIX}"
        return None


def _has_markers(path: Path) -> bool:
    """Whether the regular file ``path`` has a ``# %%`` marker, reading a bounded prefix."""
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO since the check, open
        # does not wait for a writer; fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        limit = max_notebook_bytes()
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return False
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        return has_cell_marker(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False
