"""Reading and writing the sidecar cache ``NAME.sessions.toml`` (DESIGN §3).

* Loading never raises for a bad file, and never renames or rewrites it:
  reading is what read-only commands do (``sessions status``). A sidecar that
  cannot be used as a whole is reported in ``LoadResult.problems`` and shows
  no outputs; the first *write* moves it to ``NAME.sessions.toml.bak``
  (``.bak.1``, ... if taken) before replacing it. A bad record is dropped
  alone and reported; an unreadable file is reported and left where it is.
  A file with git merge-conflict markers is read as both its sides
  (``sidecar_conflicts``); the first write keeps a ``.bak`` copy of it.
* Every write is atomic (``atomic.write_atomic``) and made under an advisory
  lock (``filelock``); ``update_sidecar`` re-reads the file under that lock,
  so concurrent writers never lose each other's records. A writer waits for
  the lock up to ``SESSIONS_LOCK_TIMEOUT`` seconds, saying after a moment
  which process holds it.
* A read-only sidecar is respected: nothing is written (or moved aside) and
  the write fails with a message saying how to make it writable.
* The sidecar of a symlinked notebook sits beside the file the link points
  to, so every link to one notebook shares its outputs.
* Run ids near TOML's integer limit are renumbered before a write
  (``sidecar_run_ids``).
* Outputs are capped on write (``sidecar_cap``) and the text is generated in
  linear time (``sidecar_toml``).

``SidecarStore`` keeps one sidecar's parsed data and each record's encoded
text between updates, so rewriting a large sidecar after one cell ran only
encodes that cell; it re-reads the file when its bytes changed on disk.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
import tomllib
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.cache.atomic import (
    check_writable,
    describe_write_error,
    fitting_name,
    fsync_directory,
    helper_path,
    write_atomic,
    write_target,
)
from sessions.cache.cap import cap_records
from sessions.cache.conflicts import conflict_sides
from sessions.cache.decode import SidecarFormatError, decode_sidecar
from sessions.cache.encode import encode_header, encode_record, encode_sidecar
from sessions.cache.filelock import LockTimeout, advisory_lock, lock_file_for
from sessions.cache.limits import DEFAULT_OUTPUT_CAP
from sessions.cache.records import CellRecord, SidecarData
from sessions.cache.run_ids import RENUMBER_ABOVE, RUN_ID_MAX, renumber_runs
from sessions.format.bounded_read import MAX_SIDECAR_BYTES, FileRefused, read_regular_file

SIDECAR_SUFFIX = ".sessions.toml"

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    data: SidecarData
    problems: list[str] = field(default_factory=list)
    """For a person: what was wrong and what was done or can be done about it."""
    conflicted: bool = False
    """The file holds git merge-conflict markers (both sides' records are in ``data``)."""


class SidecarWriteError(OSError):
    """The sidecar cannot be read back or written, so a run's outputs cannot be cached.

    An ``OSError`` (callers that catch those keep working) whose message says
    which file, why, and how to fix it, for a one-line report to the user.
    """


def _write_error(path: Path, error: OSError) -> SidecarWriteError:
    if isinstance(error, LockTimeout):
        message = f"cannot write the output cache {path}: {error}"
    else:
        reason = error.strerror or str(error)
        message = f"cannot write the output cache {path} ({reason}); {describe_write_error(path, error, cache=True)}"
    wrapped = SidecarWriteError(message)
    wrapped.errno = error.errno
    return wrapped


def sidecar_path(notebook_path: Path) -> Path:
    """``analysis.py`` -> ``analysis.sessions.toml`` beside the notebook's real file.

    A symlinked notebook's sidecar is beside the file the link points to and
    named after it: every link to one notebook shares its outputs, and they
    stay with the file when a link is moved or deleted. A name too long for
    the filesystem is shortened with a hash (``atomic.fitting_name``), the
    same for every process.
    """
    real = Path(os.path.realpath(notebook_path)) if notebook_path.is_symlink() else notebook_path
    return real.with_name(fitting_name(real.parent, "", real.stem, SIDECAR_SUFFIX))


def lock_path(path: Path) -> Path:
    return lock_file_for(path)


def load_sidecar(path: Path, notebook_name: str) -> LoadResult:
    """The sidecar's data; a missing file gives empty data and no problem."""
    return SidecarStore(path, notebook_name).load()


def save_sidecar(path: Path, data: SidecarData, *, output_cap: int = DEFAULT_OUTPUT_CAP) -> None:
    """Replace the sidecar with ``data`` (outputs capped; ``data`` itself is not changed)."""
    cells = cap_records(data.cells, output_cap)
    capped = dataclasses.replace(
        data, cells=cells, run_counter=_run_counter(data.run_counter, cells)
    )
    note = renumber_runs(capped, path.name)
    if note is not None:
        log.warning("%s", note)
    _check_run_ids(capped, path)
    raw = _to_bytes(encode_sidecar(capped))
    with advisory_lock(lock_path(path), what=path.name):
        write_atomic(path, raw, fixed_temp=True)


def update_sidecar(
    path: Path,
    notebook_name: str,
    change: Callable[[SidecarData], None],
    *,
    output_cap: int = DEFAULT_OUTPUT_CAP,
) -> SidecarData:
    """Read the current sidecar, apply ``change``, write it back, all under the lock.

    Returns the data written. Problems met while reading are logged. Raises
    ``OSError`` if the existing file cannot be read (writing would destroy it)
    or the new one cannot be written.
    """
    return SidecarStore(path, notebook_name, output_cap=output_cap).update(change)


def _run_counter(counter: int, cells: list[CellRecord]) -> int:
    """Never below a run id in use, so new run ids stay unique."""
    return max(counter, max((cell.run for cell in cells), default=0))


def _check_run_ids(data: SidecarData, path: Path) -> None:
    """Refuse to write run ids TOML cannot hold (only a change that reserved
    more than 2^62 ids at once can get here: ``renumber_runs`` ran before it)."""
    if data.run_counter > RUN_ID_MAX:
        raise SidecarWriteError(
            f"cannot write the output cache {path}: run id {data.run_counter} is larger than "
            "TOML integers allow (2^63 - 1); delete the file to start counting again"
        )


_SURROGATE = re.compile("[\ud800-\udfff]")


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (undecodable bytes some programs print) cannot be
        # stored in UTF-8; write U+FFFD, as a UTF-8 decoder would, rather than fail.
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def _parse(raw: bytes, notebook_name: str, file_name: str) -> LoadResult:
    """Raises ``SidecarFormatError`` when the file cannot be used as a whole."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SidecarFormatError(f"it is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        # An empty file (e.g. `: > x.sessions.toml` to clear outputs) is an empty
        # cache, not a corrupt one: nothing to move aside or report.
        return LoadResult(SidecarData(notebook=notebook_name), [])
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        sides = conflict_sides(text)
        if sides is None:
            raise SidecarFormatError(f"it is not valid TOML: {error}") from None
        return _parse_conflict(sides, notebook_name, file_name, error)
    except RecursionError:
        # A 100,000-deep array or inline table: tomllib recurses per level.
        raise SidecarFormatError("it nests arrays or tables too deeply to read") from None
    data, problems = decode_sidecar(document, notebook_name, file_name)
    return LoadResult(data, problems)


def _parse_conflict(
    sides: tuple[str, str], notebook_name: str, file_name: str, error: Exception
) -> LoadResult:
    """Both sides of a merge conflict, their records together (duplicates once)."""
    results: list[LoadResult] = []
    for side in sides:
        try:
            data, problems = decode_sidecar(tomllib.loads(side), notebook_name, file_name)
        except (tomllib.TOMLDecodeError, RecursionError, SidecarFormatError):
            continue
        results.append(LoadResult(data, problems))
    if not results:
        raise SidecarFormatError(f"it has merge-conflict markers and is not valid TOML: {error}")
    merged = results[0].data
    seen = {(r.hash, r.run, r.id) for r in merged.cells}
    for other in results[1:]:
        merged.run_counter = max(merged.run_counter, other.data.run_counter)
        for record in other.data.cells:
            if (record.hash, record.run, record.id) not in seen:
                seen.add((record.hash, record.run, record.id))
                merged.cells.append(record)
    problems = [p for result in results for p in result.problems]
    problems.append(
        f"{file_name} has git merge-conflict markers; the records of both sides are shown. "
        "The next run writes a clean file (keeping a .bak copy of this one); or resolve "
        "the conflict by hand, or delete the file."
    )
    return LoadResult(merged, problems, conflicted=True)


def _free_backup_name(path: Path) -> Path:
    candidate = helper_path(path, "", ".bak")
    number = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = helper_path(path, "", f".bak.{number}")
        number += 1
    return candidate


def _move_aside(path: Path, raw: bytes) -> Path | None:
    """Rename the unusable file to a free ``.bak`` name, if it still holds ``raw``.

    Must be called under the lock. None when the file changed meanwhile
    (another process replaced it), so the caller reads it again.
    """
    try:
        if path.read_bytes() != raw:
            return None
    except FileNotFoundError:
        return None
    backup = _free_backup_name(path)
    os.rename(path, backup)
    fsync_directory(path.parent)
    return backup


RUN_ID_BLOCK = 1024
"""Run ids a store reserves at once (see ``SidecarStore.reserve_run_ids``)."""


def _reservation_path(path: Path) -> Path:
    return lock_path(path).with_suffix(".runs")


def _read_counter(path: Path) -> int:
    try:
        return int(path.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        return 0


def _write_counter(path: Path, value: int) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(str(value), encoding="ascii")
    os.replace(temp, path)


SETTLED_SECONDS = 3.0
"""How long a sidecar must have been left alone before a read for ``stat`` to
be trusted to show its next change (a filesystem's clock tick is at most a
few milliseconds on Linux and macOS, 2 s on FAT)."""


def _stat_key(status: os.stat_result) -> tuple[int, int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _fingerprint(raw: bytes) -> tuple[int, int]:
    return len(raw), zlib.crc32(raw)


def _read_file(path: Path) -> bytes:
    """The sidecar's bytes: a regular file only, up to ``MAX_SIDECAR_BYTES``.

    A FIFO named ``NAME.sessions.toml`` must not block the reader (it froze
    the MCP server), nor a link to ``/dev/zero`` be read without end; those
    raise ``bounded_read.FileRefused``, an ``OSError`` whose ``strerror``
    says what the file is.
    """
    return read_regular_file(path, MAX_SIDECAR_BYTES, limit_hint=_SIDECAR_LIMIT_HINT)


_SIDECAR_LIMIT_HINT = "for output caches (it holds only cached outputs: delete it)"


def _freeze(value: Any) -> Hashable:
    """A hashable snapshot of a JSON-like value that shares its strings.

    Non-string leaves carry their type, so ``1``, ``1.0`` and ``True`` (equal
    and hash-equal in Python, written differently) never share a cache entry.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is dict:
        return (dict, tuple((key, _freeze(item)) for key, item in value.items()))
    if kind is list:
        return (list, tuple(_freeze(item) for item in value))
    return (kind, value)


def _record_key(record: CellRecord) -> Hashable | None:
    """Everything the encoded text of ``record`` depends on; None if unhashable."""
    key = (
        record.id,
        record.hash,
        _freeze(record.index),
        _freeze(record.run),
        record.status,
        _freeze(record.execution_count),
        record.started,
        _freeze(record.duration),
        _freeze(record.inputs),
        _freeze(record.provides),
        record.code,
        tuple(_freeze(output) for output in record.outputs),
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


class SidecarStore:
    """One sidecar file, with its parsed data and encoded records kept in memory.

    ``load`` and ``update`` return the store's own working data: change it only
    inside an ``update`` callback. Safe to share between threads.

    Before each use the file is read and its size and CRC-32 compared with
    those of the bytes the data came from; only a difference costs a parse.
    Comparing content rather than trusting mtime and size also catches a
    same-size rewrite within one filesystem clock tick (CRC-32 reads 5 MB in
    about 1 ms, blake2b takes 6). Reading is skipped only for a file that had
    not changed for ``SETTLED_SECONDS`` when it was last read, and whose
    ``stat`` (device, inode, size, mtime and ctime, which every write, rename
    and ``utime`` moves) is the same now: a later write cannot fall in that
    old clock tick. A keystroke in an open notebook asks for the data each
    time; reading and checking a 5 MB sidecar then cost 3–8 ms of it.
    """

    def __init__(
        self, path: Path, notebook_name: str, *, output_cap: int = DEFAULT_OUTPUT_CAP
    ) -> None:
        self.path = path
        self.notebook_name = notebook_name
        self.output_cap = output_cap
        self.last_written_hash: str | None = None
        """``bytes_hash`` of the bytes we last wrote, to recognise our own writes."""
        self.last_problems: list[str] = []
        """Problems met by the last read that found a change on disk."""
        self._data: SidecarData | None = None
        """Working data; None until read, or after it stopped matching the file."""
        self._fingerprint: tuple[int, int] | None = None
        """Size and CRC-32 of the file ``_data`` came from; None: there was no file."""
        self._chunks: dict[Hashable, bytes] = {}
        self._lock: Path | None = None
        self._block: tuple[int, int] = (1, 0)
        """Run ids reserved by this store and not used yet: (next, last)."""
        self._unusable: tuple[int, int] | None = None
        """Fingerprint of a file found unusable by a read (reported once, left as it is)."""
        self._mutex = threading.Lock()
        self._settled: os.stat_result | None = None
        """The file's ``stat`` when it was last read, if it had settled by then
        (``_data`` is its content): while ``stat`` says the same, it is not read."""

    def load(self) -> LoadResult:
        """The current data; problems are reported when the file is (re-)read."""
        with self._mutex:
            data, problems = self._refresh(strict=False)
            return LoadResult(data, problems)

    def _lock_file(self) -> Path:
        """The lock file of this sidecar, derived once (a real path and a
        folder check per write otherwise)."""
        if self._lock is None:
            self._lock = lock_path(self.path)
        return self._lock

    def take_reserved(self, count: int) -> int | None:
        """``count`` ids from the block already reserved (no I/O), or None."""
        with self._mutex:
            start, end = self._block
            if end - start + 1 < count:
                return None
            self._block = (start + count, end)
            return start

    def reserve_run_ids(self, count: int) -> int:
        """Reserve ``count`` run ids, unique among every process writing this
        sidecar; returns the first.

        Ids are taken from a block this store reserved earlier; a new block
        (``RUN_ID_BLOCK`` ids, or ``count`` if more) is reserved under the
        lock without rewriting the sidecar, in a small counter file beside
        the lock file: runtime state, not fsynced — after a reboot the
        sidecar's own ``run_counter``, written with every record, is the
        floor again, and ids reserved but never written may be reused
        harmlessly. So a run in a long-lived process (the editor, a watch)
        costs no extra disk work. Ids increase within a process; across
        processes they are unique but not in the order the runs started.

        Raises ``SidecarWriteError`` (when it goes to disk) if the sidecar
        could not be written later, so a run fails before its first cell."""
        taken = self.take_reserved(count)
        if taken is not None:
            return taken
        try:
            with self._mutex, advisory_lock(self._lock_file()):
                check_writable(write_target(self.path))
                data, _ = self._refresh(strict=True)
                counter_file = _reservation_path(self.path)
                data.run_counter = max(data.run_counter, _read_counter(counter_file))
                if data.run_counter + max(count, RUN_ID_BLOCK) > RENUMBER_ABOVE:
                    # Near TOML's integer limit: renumber now, in the file, so
                    # the ids handed out next (and the records) stay writable.
                    self._write_locked(data)
                first = data.run_counter + 1
                last = first + max(count, RUN_ID_BLOCK) - 1
                _write_counter(counter_file, last)
                self._block = (first + count, last)
                return first
        except SidecarWriteError:
            raise
        except OSError as error:
            raise _write_error(self.path, error) from error

    def update(self, change: Callable[[SidecarData], None]) -> SidecarData:
        """Apply ``change`` to the current data and write it, under the lock.

        Raises ``SidecarWriteError`` when the file cannot be read back or written.
        """
        try:
            return self._update(change)
        except SidecarWriteError:
            raise
        except OSError as error:
            raise _write_error(self.path, error) from error

    def _update(self, change: Callable[[SidecarData], None]) -> SidecarData:
        with self._mutex, advisory_lock(lock_path(self.path), what=self.path.name):
            # Before reading: a read-only file is not even moved aside.
            check_writable(write_target(self.path))
            data, problems = self._refresh(strict=True)
            for problem in problems:
                log.warning("%s", problem)
            try:
                note = renumber_runs(data, self.path.name)
                if note is not None:
                    log.warning("%s", note)
                change(data)
            except BaseException:
                self._data = None  # half changed: read the file next time
                raise
            self._write_locked(data)
            return data

    def _write_locked(self, data: SidecarData) -> None:
        """Write ``data`` (the working data) to the file; the caller holds the lock."""
        try:
            note = renumber_runs(data, self.path.name)
            if note is not None:
                log.warning("%s", note)
            data.cells = cap_records(data.cells, self.output_cap)
            data.run_counter = _run_counter(data.run_counter, data.cells)
            _check_run_ids(data, self.path)
            raw = self._encode(data)
            write_atomic(self.path, raw, fixed_temp=True)
        except BaseException:
            # The working data may be half changed: read the file next time.
            self._data = None
            raise
        size, crc = self._fingerprint = _fingerprint(raw)
        self._settled = None  # just written: read it again until it settles
        self.last_written_hash = f"{size}:{crc:08x}"  # bytes_hash(raw), computed once

    def _keep(self, data: SidecarData | None, fingerprint: tuple[int, int] | None) -> None:
        self._data, self._fingerprint, self._chunks = data, fingerprint, {}
        self._settled = None

    def _unchanged_since_read(self) -> bool:
        """Whether ``stat`` shows the settled file ``_data`` was read from."""
        if self._settled is None or self._data is None:
            return False
        try:
            now = os.stat(self.path)
        except OSError:
            return False
        return _stat_key(now) == _stat_key(self._settled)

    def _note_settled(self, before_read: os.stat_result | None) -> None:
        """After ``_data`` was read (or found unchanged): trust ``stat`` from now
        on if the file had not changed for a while before the read began."""
        if before_read is not None and time.time() - before_read.st_ctime > SETTLED_SECONDS:
            self._settled = before_read

    def _refresh(self, *, strict: bool) -> tuple[SidecarData, list[str]]:
        """Make the working data match the file; also returns the problems met.

        ``strict`` is for a write, under the lock: a file that cannot be read
        raises, and an unusable one is moved aside. Otherwise nothing on disk
        changes, and a file already found unusable is not parsed again.
        """
        name = self.path.name
        if not strict and self._unchanged_since_read():
            assert self._data is not None  # checked by _unchanged_since_read
            return self._data, []
        for _attempt in range(5):
            try:
                before_read: os.stat_result | None = os.stat(self.path)
            except OSError:
                before_read = None
            try:
                raw = _read_file(self.path)
            except FileNotFoundError:
                if self._data is None or self._fingerprint is not None:
                    self._keep(SidecarData(notebook=self.notebook_name), None)
                assert self._data is not None  # set just above when it was not
                return self._data, []
            except OSError as error:
                if strict:
                    raise
                self._keep(None, None)
                fix = (
                    f"It is a directory: rename or remove {self.path}."
                    if self.path.is_dir()
                    else "It holds only cached outputs: delete it, or put a regular file there."
                    if isinstance(error, FileRefused)
                    else f"Fix its permissions (e.g. chmod u+rw {self.path}) or delete it."
                )
                problem = f"{name} cannot be read ({error.strerror}), so cached outputs are not shown. {fix}"
                return SidecarData(notebook=self.notebook_name), [problem]
            fingerprint = _fingerprint(raw)
            if self._data is not None and fingerprint == self._fingerprint:
                self._note_settled(before_read)
                return self._data, []
            if not strict and fingerprint == self._unusable:
                return SidecarData(notebook=self.notebook_name), []
            try:
                result = _parse(raw, self.notebook_name, name)
            except SidecarFormatError as error:
                if not strict:
                    # Reading must not rename or rewrite the user's file: say
                    # what is wrong and leave the move aside to the next write.
                    self._keep(None, None)
                    self._unusable = fingerprint
                    problem = (
                        f"{name} could not be used ({error}), so no cached outputs are shown. "
                        f"The next run moves it to {name}.bak and starts a new cache; or fix "
                        "or delete the file."
                    )
                    return SidecarData(notebook=self.notebook_name), [problem]
                # Under the lock; an error here propagates: writing now would
                # destroy the file we could not back up.
                backup = _move_aside(self.path, raw)
                if backup is None:
                    continue  # replaced meanwhile: read the new file
                empty = SidecarData(notebook=self.notebook_name)
                self._keep(empty, None)
                problem = (
                    f"{name} could not be used ({error}). It was moved to {backup.name} and "
                    "the output cache starts empty; run cells to cache their outputs again. "
                    f"Delete {backup.name} when you no longer need it."
                )
                self.last_problems = [problem]
                return empty, [problem]
            if result.conflicted:
                if not strict:
                    # Not kept: a write must see the conflict and back the file up first.
                    self._keep(None, None)
                    return result.data, result.problems
                backup = _free_backup_name(self.path)
                write_atomic(backup, raw, fixed_temp=True)
                result.problems.append(
                    f"{name}: a copy of the conflicted file is in {backup.name}."
                )
            self._keep(result.data, fingerprint)
            self._note_settled(before_read)
            self.last_problems = result.problems
            return result.data, result.problems
        self._keep(None, None)
        problem = f"{name} kept changing while it was read; no cached outputs are shown for now."
        return SidecarData(notebook=self.notebook_name), [problem]

    def _encode(self, data: SidecarData) -> bytes:
        """The file's bytes, re-encoding only records not written before."""
        chunks: dict[Hashable, bytes] = {}
        parts = [_to_bytes(encode_header(data))]
        for record in data.cells:
            key = _record_key(record)
            chunk = self._chunks.get(key) if key is not None else None
            if chunk is None:
                chunk = _to_bytes(encode_record(record))
            if key is not None:
                chunks[key] = chunk
            parts.append(chunk)
        self._chunks = chunks
        return b"".join(parts)
