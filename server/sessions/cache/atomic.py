"""Replacing a file atomically: readers see the old bytes or the new, never a mix.

The bytes go to a temporary file in the same folder (so the rename stays on
one filesystem), are flushed and fsynced, then renamed over the target, and
the folder is fsynced so the rename itself survives a power cut.

A plain ``open(path, "w")`` has properties a rename does not, and we keep them:

* **A symbolic link stays a link**: the file it points to is replaced (the
  temporary file goes beside that file), as an editor saving through a link
  does. A link to something that is not a regular file is refused; a dangling
  link is replaced by the file.
* **A read-only file stays untouched**: a rename needs only the folder's
  permission, so without a check a ``chmod 444`` file would be silently
  replaced. A file without any write permission bit counts as read-only even
  for root, who may write anything: the bits say what the user meant.
* **Long names work**: a helper file's name is shortened with a hash of the
  full name when the plain name would exceed the filesystem's limit
  (``NAME_MAX``, 255 bytes on Linux), and a target whose own name is too long
  fails with that reason, not a misleading one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from pathlib import Path

_DEFAULT_NAME_MAX = 255
_HASH_CHARS = 16
"""Hex digits of the hash that stands for the part of a name cut off."""


def name_limit(folder: Path) -> int:
    """The longest file name (in bytes) the filesystem of ``folder`` accepts."""
    try:
        return os.pathconf(folder if folder.is_dir() else folder.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        return _DEFAULT_NAME_MAX


def _byte_length(text: str) -> int:
    return len(os.fsencode(text))


def _valid_prefix(encoded: bytes) -> str:
    """``encoded`` as text, less a UTF-8 sequence cut in the middle at its end."""
    for end in range(len(encoded), max(len(encoded) - 4, -1), -1):
        try:
            return encoded[:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return os.fsdecode(encoded)


def fitting_name(folder: Path, prefix: str, name: str, suffix: str, *, keep_tail: str = "") -> str:
    """``prefix + name + suffix``, shortened to fit the filesystem's name limit.

    When too long, the end of ``name`` is replaced by ``~`` and a hash of the
    whole of it, keeping ``keep_tail`` (e.g. ``.sessions.toml``) if ``name``
    ends with it, so a shortened name still matches patterns such as
    ``*.sessions.toml.lock``. The same inputs always give the same name, so
    every process finds the same file.
    """
    full = prefix + name + suffix
    limit = name_limit(folder)
    if _byte_length(full) <= limit:
        return full
    tail = keep_tail if keep_tail and name.endswith(keep_tail) else ""
    core = name[: len(name) - len(tail)] if tail else name
    digest = hashlib.blake2b(os.fsencode(name), digest_size=_HASH_CHARS // 2).hexdigest()
    fixed = _byte_length(prefix + "~" + digest + tail + suffix)
    return (
        prefix
        + _valid_prefix(os.fsencode(core)[: max(limit - fixed, 0)])
        + "~"
        + digest
        + tail
        + suffix
    )


def write_target(path: Path) -> Path:
    """The file a write to ``path`` must replace: the target of a symbolic link.

    Raises ``IsADirectoryError`` for a folder and ``OSError`` for something
    that is not a regular file (a FIFO, a device), which a rename would destroy.
    """
    target = path
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return path  # a dangling link: replaced by the file, as before
        except RuntimeError:  # a loop of links
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file", str(target))
    return target


def is_read_only(path: Path) -> bool:
    """Whether ``path`` is an existing file its user marked read-only (or may not write)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return mode & 0o222 == 0 or not os.access(path, os.W_OK)


def check_writable(path: Path) -> None:
    """Raise ``PermissionError`` when ``path`` exists and is read-only (see the module doc)."""
    if is_read_only(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def check_name_fits(path: Path) -> None:
    """Raise ``OSError(ENAMETOOLONG)`` saying so when ``path``'s name is too long."""
    limit = name_limit(path.parent)
    length = _byte_length(path.name)
    if length > limit:
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))


def helper_path(path: Path, prefix: str, suffix: str) -> Path:
    """``prefix + NAME + suffix`` beside ``path`` (a temporary file, a lock, a backup),
    shortened with a hash of ``NAME`` when too long, keeping ``NAME``'s last suffixes."""
    tail = "".join(path.suffixes[-2:])[:32]
    return path.with_name(fitting_name(path.parent, prefix, path.name, suffix, keep_tail=tail))


def temp_name_for(path: Path, *, unique: bool) -> Path:
    """The temporary file beside ``path``: ``.NAME.tmp``, or a unique one."""
    suffix = f".{os.getpid()}.{os.urandom(4).hex()}.tmp" if unique else ".tmp"
    return helper_path(path, ".", suffix)


def write_atomic(path: Path, data: bytes, *, fixed_temp: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (through a symlink; refusing a read-only file).

    ``fixed_temp``: the temporary file is always ``.NAME.tmp``. A caller that
    holds a lock serialising all writers of ``path`` asks for it, so a writer
    killed mid-write leaves one stale file that the next write reuses instead
    of a new stray file per crash. Otherwise a unique name is used.
    """
    target = write_target(path)
    check_name_fits(target)
    check_writable(target)
    temp_path = temp_name_for(target, unique=not fixed_temp)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp_path, flags, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            # Keep the permissions a user gave the file, not the umask's.
            os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))
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
        os.replace(temp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
    fsync_directory(target.parent)


def describe_write_error(path: Path, error: OSError, *, cache: bool = False) -> str:
    """Why ``path`` could not be written and what to do, for a one-line message.

    Says the true cause: a name too long is not a permission problem.
    ``cache``: the file is a cache, so deleting it is a fix worth offering.
    """
    code = error.errno
    or_delete = " or delete it" if cache else ""
    if code == errno.ENAMETOOLONG:
        name = Path(error.filename).name if isinstance(error.filename, str) else path.name
        return (
            f"the file name is too long for this filesystem ({_byte_length(name)} bytes, the "
            f"limit is {name_limit(path.parent)}); give the notebook a shorter name"
        )
    if code == errno.EISDIR or path.is_dir():
        return f"it is a directory: rename or remove {path}"
    if code == errno.EINVAL and path.exists() and not path.is_file():
        return f"it is not a regular file (a FIFO, a device or a socket): remove {path}"
    if code in (errno.EACCES, errno.EPERM):
        if is_read_only(path):
            return (
                f"{path.name} is read-only, and Sessions does not replace a read-only file; "
                f"make it writable (chmod u+w {path}){or_delete}"
            )
        return f"its folder cannot be written; make it writable (e.g. chmod u+w {path.parent})"
    if code == errno.EROFS:
        return "the filesystem is mounted read-only"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "the disk (or your quota) is full; free some space"
    if code == errno.ENOENT:
        return f"its folder {path.parent} does not exist"
    return (
        f"make {path.name} and its folder writable (e.g. chmod u+w {path} {path.parent}){or_delete}"
    )


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
