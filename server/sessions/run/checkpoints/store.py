"""Where checkpoints live, who may read them, and what is evicted when (docs/analysis.md).

The store is a folder in the user's cache directory — never the project
folder, so nothing is committed and a cloned repository cannot bring
checkpoints with it — made ``0700``, with one sub-folder per notebook and one
file per checkpoint, named by its key. Beside them, ``key``: 32 random bytes
(``0600``) with which the kernel signs each file and checks it before it
unpickles anything. A folder that is not the user's own, or that others may
write, is refused.

The store's total size is capped: when a new checkpoint makes it larger, the
least recently used files go first (a restore touches its file). The file
format is :mod:`sessions.run.checkpoints.in_kernel`'s; this module only reads
headers (for ``sessions checkpoints ls``) and never unpickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.run.checkpoints.in_kernel import DIGEST, LENGTH, MAGIC

SUFFIX = ".ckpt"
KEY_FILE = "key"
ROOT_ENV = "SESSIONS_CHECKPOINT_DIR"
"""Moves the store (tests, CI, a bigger disk)."""
DEFAULT_STORE_CAP = 10 * 1024**3
"""10 GiB for every notebook together."""
TEMPORARY_AGE = 3600.0
"""A temporary file this old is a write that died (a kernel killed mid-write)."""
FORMAT = "sessions-checkpoint-1"


class CheckpointStoreError(OSError):
    """The store cannot be used safely; the message says why and what to do."""


def default_root() -> Path:
    """``$SESSIONS_CHECKPOINT_DIR``, else ``checkpoints`` in the user cache dir."""
    configured = os.environ.get(ROOT_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sessions", appauthor=False)) / "checkpoints"


def checkpoint_key(provides: Mapping[str, str], python: str) -> str:
    """The key of a cell version's checkpoint: the version keys of what it
    provides (chain hashes of its code and its providers' keys) and the
    interpreter that made the values (the kernel checks its exact version too)."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(json.dumps([FORMAT, python, sorted(provides.items())]).encode())
    return hasher.hexdigest()


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint file, as its header describes it (unverified: for listing)."""

    path: Path
    size: int
    used: float
    """When it was last written or restored (its mtime)."""
    header: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.path.name.removesuffix(SUFFIX)


def read_header(path: Path) -> dict[str, Any] | None:
    """The JSON header of a checkpoint file; None when it has none."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC) + DIGEST + LENGTH)
            if len(head) < len(MAGIC) + DIGEST + LENGTH or not head.startswith(MAGIC):
                return None
            length = int.from_bytes(head[-LENGTH:], "big")
            if length > 16 * 1024 * 1024:
                return None
            value = json.loads(handle.read(length))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class CheckpointStore:
    """The checkpoint folder of this user."""

    def __init__(self, root: Path | None = None, *, cap_bytes: int = DEFAULT_STORE_CAP) -> None:
        self.root = root if root is not None else default_root()
        self.cap_bytes = cap_bytes

    @property
    def key_path(self) -> Path:
        return self.root / KEY_FILE

    def ensure(self) -> None:
        """Creates the folder (0700) and the signing key (0600) if needed, and
        refuses a folder someone else owns or may write."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            info = self.root.stat()
        except OSError as exc:
            raise CheckpointStoreError(
                f"cannot create the checkpoint folder {self.root}: {exc}"
            ) from exc
        if info.st_uid != os.getuid():
            raise CheckpointStoreError(
                f"the checkpoint folder {self.root} belongs to another user; "
                f"set {ROOT_ENV} to a folder of your own"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(self.root, 0o700)  # ours: make it private again
        if not self.key_path.exists():
            try:
                descriptor = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return  # another process made it first
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(32))
                handle.flush()
                os.fsync(handle.fileno())
        key_info = self.key_path.stat()
        if key_info.st_uid != os.getuid() or stat.S_IMODE(key_info.st_mode) & 0o077:
            raise CheckpointStoreError(
                f"the checkpoint key {self.key_path} is not private to you; delete it "
                "(every checkpoint is then refused and made again)"
            )

    def folder_of(self, notebook: Path) -> Path:
        """The notebook's folder: its name and a hash of its absolute path."""
        absolute = str(notebook.resolve())
        digest = hashlib.blake2b(
            absolute.encode("utf-8", "surrogatepass"), digest_size=6
        ).hexdigest()
        return self.root / f"{notebook.stem}-{digest}"

    def path_of(self, notebook: Path, key: str) -> Path:
        return self.folder_of(notebook) / f"{key}{SUFFIX}"

    def prepare(self, notebook: Path) -> Path:
        """The notebook's folder, made (0700) if needed, for a checkpoint write."""
        self.ensure()
        folder = self.folder_of(notebook)
        folder.mkdir(exist_ok=True, mode=0o700)
        return folder

    def entries(self, notebook: Path | None = None) -> list[CheckpointInfo]:
        """The checkpoints of one notebook (or of all), most recently used first."""
        found = self._scan(notebook, headers=True)
        found.sort(key=lambda entry: entry.used, reverse=True)
        return found

    def usage(self, notebook: Path | None = None) -> int:
        """Bytes the checkpoints of one notebook (or all) take."""
        return sum(entry.size for entry in self._scan(notebook, headers=False))

    def evict(self, *, notebook: Path | None = None, cap_bytes: int | None = None) -> list[Path]:
        """Deletes least recently used checkpoints until those of ``notebook``
        (or the whole store) fit ``cap_bytes`` (default: the store's cap);
        also removes temporary files of writes that died. Returns what went."""
        cap = self.cap_bytes if cap_bytes is None else cap_bytes
        removed = self._remove_dead_temporaries(notebook)
        entries = sorted(self._scan(notebook, headers=False), key=lambda entry: entry.used)
        total = sum(entry.size for entry in entries)
        for entry in entries:
            if total <= cap:
                break
            try:
                entry.path.unlink()
            except OSError:
                continue
            total -= entry.size
            removed.append(entry.path)
        return removed

    def clear(self, notebook: Path) -> list[Path]:
        """Deletes every checkpoint of one notebook (and its folder)."""
        folder = self.folder_of(notebook)
        removed: list[Path] = []
        if not folder.is_dir():
            return removed
        for path in folder.iterdir():
            if path.name.endswith(SUFFIX) or ".tmp-" in path.name:
                try:
                    path.unlink()
                except OSError:
                    continue
                removed.append(path)
        with contextlib.suppress(OSError):
            folder.rmdir()
        return removed

    # -- internals -----------------------------------------------------------

    def _folders(self) -> list[Path]:
        try:
            return [path for path in self.root.iterdir() if path.is_dir()]
        except OSError:
            return []

    @staticmethod
    def _files(folder: Path) -> Iterator[Path]:
        try:
            yield from (path for path in folder.iterdir() if path.name.endswith(SUFFIX))
        except OSError:
            return

    def _scan(self, notebook: Path | None, *, headers: bool) -> list[CheckpointInfo]:
        folders = [self.folder_of(notebook)] if notebook is not None else self._folders()
        found: list[CheckpointInfo] = []
        for folder in folders:
            for path in self._files(folder):
                try:
                    info = path.stat()
                except OSError:
                    continue
                header = (read_header(path) or {}) if headers else {}
                found.append(CheckpointInfo(path, info.st_size, info.st_mtime, header))
        return found

    def _remove_dead_temporaries(self, notebook: Path | None) -> list[Path]:
        folders = [self.folder_of(notebook)] if notebook is not None else self._folders()
        removed: list[Path] = []
        now = time.time()
        for folder in folders:
            try:
                candidates = [path for path in folder.iterdir() if ".tmp-" in path.name]
            except OSError:
                continue
            for path in candidates:
                pid = path.name.rpartition(".tmp-")[2]
                try:
                    old = now - path.stat().st_mtime > TEMPORARY_AGE
                except OSError:
                    continue
                if old or not _alive(pid):
                    try:
                        path.unlink()
                    except OSError:
                        continue
                    removed.append(path)
        return removed


def _alive(pid: str) -> bool:
    """Whether the process that writes a temporary file still runs."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
