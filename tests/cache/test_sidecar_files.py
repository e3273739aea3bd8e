"""The sidecar and the files around it, on a real filesystem with real processes
(issue 11, item 7): read-only files, names at the 255-byte limit, symlinked
notebooks, a lock holder that is stopped, run ids at TOML's integer limit."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sessions.cache.atomic import write_atomic
from sessions.cache.filelock import LockTimeout, advisory_lock, lock_holder
from sessions.cache.records import CellRecord, SidecarData
from sessions.cache.sidecar import (
    SidecarStore,
    SidecarWriteError,
    load_sidecar,
    lock_path,
    save_sidecar,
    sidecar_path,
    update_sidecar,
)

INT64_MAX = 2**63 - 1


def add_record(name: str) -> Callable[[SidecarData], None]:
    """What a run does: reserve a run id, then store a record with it."""

    def change(data: SidecarData) -> None:
        data.run_counter += 1
        output = {"output_type": "stream", "name": "stdout", "text": f"{name}\n"}
        data.cells.append(
            CellRecord(
                hash=name, index=len(data.cells), run=data.run_counter, id=name, outputs=[output]
            )
        )

    return change


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- a read-only sidecar ------------------------------------------------------------


def test_a_read_only_sidecar_is_neither_replaced_nor_moved(tmp_path: Path) -> None:
    """A rename needs only the folder's permission: without a check, `chmod 444`
    would be ignored. (Root passes os.access; the mode bits still count.)"""
    path = tmp_path / "r.sessions.toml"
    update_sidecar(path, "r.py", add_record("a"))
    path.chmod(0o444)
    before, inode = path.read_bytes(), path.stat().st_ino

    with pytest.raises(SidecarWriteError) as caught:
        update_sidecar(path, "r.py", add_record("b"))
    message = str(caught.value)
    assert caught.value.errno == errno.EACCES
    assert "r.sessions.toml is read-only" in message
    assert f"chmod u+w {path}" in message
    with pytest.raises(OSError, match="Permission denied"):
        save_sidecar(path, SidecarData(notebook="r.py"))  # `import --force` writes this way

    assert path.read_bytes() == before and path.stat().st_ino == inode
    assert path.stat().st_mode & 0o777 == 0o444
    assert names_in(tmp_path) == ["r.sessions.toml"]  # no temp file, no .bak


def test_a_read_only_corrupt_sidecar_is_not_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "c.sessions.toml"
    path.write_text("not [[ toml\n")
    path.chmod(0o444)
    with pytest.raises(SidecarWriteError, match="read-only"):
        update_sidecar(path, "c.py", add_record("a"))
    assert names_in(tmp_path) == ["c.sessions.toml"]
    assert path.read_text() == "not [[ toml\n"


def test_a_writable_sidecar_in_a_read_only_folder_names_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "f.sessions.toml"
    update_sidecar(path, "f.py", add_record("a"))
    # Root writes in any folder whatever its mode; an immutable folder stops it too.
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        with pytest.raises(SidecarWriteError, match="folder cannot be written"):
            update_sidecar(path, "f.py", add_record("b"))
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)
    assert names_in(folder) == ["f.sessions.toml"]


# --- names at the limit ---------------------------------------------------------------


def test_a_243_byte_notebook_name_gets_a_working_sidecar(tmp_path: Path) -> None:
    """The sidecar's name (254 bytes) fits; its temporary `.NAME.tmp` (259) did
    not, and the failure said to fix permissions."""
    notebook = tmp_path / ("n" * 240 + ".py")
    path = sidecar_path(notebook)
    assert path.name == "n" * 240 + ".sessions.toml"
    store = SidecarStore(path, notebook.name)
    store.update(add_record("a"))
    store.update(add_record("b"))
    assert [r.id for r in load_sidecar(path, notebook.name).data.cells] == ["a", "b"]
    assert names_in(tmp_path) == [path.name]

    # A corrupt one is moved to a backup whose name fits too.
    path.write_text("not [[ toml\n")
    update_sidecar(path, notebook.name, add_record("c"))
    (backup,) = (p for p in tmp_path.iterdir() if p != path)
    assert len(os.fsencode(backup.name)) <= 255
    assert backup.name.endswith(".sessions.toml.bak") and backup.read_text() == "not [[ toml\n"


def test_a_notebook_name_too_long_for_its_sidecar_gets_a_shortened_one(tmp_path: Path) -> None:
    notebook = tmp_path / ("é" * 125 + ".py")  # 253 bytes in UTF-8
    path = sidecar_path(notebook)
    assert len(os.fsencode(path.name)) <= 255
    assert path.name.startswith("é" * 100) and path.name.endswith(".sessions.toml")
    assert sidecar_path(notebook) == path  # every process finds the same file
    assert sidecar_path(tmp_path / ("é" * 126 + ".py")) != path
    update_sidecar(path, notebook.name, add_record("a"))
    assert [r.id for r in load_sidecar(path, notebook.name).data.cells] == ["a"]


def test_a_name_too_long_says_so_and_does_not_suggest_permissions(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 250 + ".sessions.toml")  # 264 bytes: no such file can exist
    with pytest.raises(SidecarWriteError) as caught:
        update_sidecar(path, "x.py", add_record("a"))
    message = str(caught.value)
    assert "too long" in message and "264 bytes" in message and "limit is 255" in message
    assert "chmod" not in message and "writable" not in message


def test_write_atomic_fits_its_unique_temporary_name_under_the_limit(tmp_path: Path) -> None:
    """`sessions fmt` and the API write notebooks with a unique temporary name."""
    path = tmp_path / ("y" * 252 + ".py")  # 255 bytes, the most a name may have
    path.write_text("old\n")
    write_atomic(path, b"new\n")
    assert path.read_text() == "new\n"
    assert names_in(tmp_path) == [path.name]


# --- symlinked notebooks ---------------------------------------------------------------


def test_the_sidecar_of_a_symlinked_notebook_is_beside_the_real_file(tmp_path: Path) -> None:
    real_folder, links = tmp_path / "real", tmp_path / "links"
    real_folder.mkdir()
    links.mkdir()
    notebook = real_folder / "analysis.py"
    notebook.write_text("# %%\nx = 1\n")
    (links / "alias.py").symlink_to(notebook)
    (links / "chain.py").symlink_to(links / "alias.py")

    expected = real_folder / "analysis.sessions.toml"
    assert sidecar_path(notebook) == expected
    assert sidecar_path(links / "alias.py") == expected
    assert sidecar_path(links / "chain.py") == expected  # two links, one cache
    # Both names of the file take one lock, so their writers exclude each other.
    assert lock_path(sidecar_path(links / "alias.py")) == lock_path(expected)


def test_writing_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "target.py"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.py"
    link.symlink_to(target.name)
    write_atomic(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == "target.py"
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert names_in(tmp_path) == ["link.py", "target.py"]


def test_a_symlink_to_something_not_a_file_is_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "nb.sessions.toml"
    link.symlink_to(fifo)
    with pytest.raises(OSError) as caught:
        write_atomic(link, b"x")
    assert caught.value.errno == errno.EINVAL
    assert link.is_symlink() and fifo.exists()


# --- a lock holder that does not let go --------------------------------------------------

HOLDER = """\
import os, signal, sys
from pathlib import Path
from sessions.cache.filelock import advisory_lock
from sessions.cache.sidecar import lock_path

with advisory_lock(lock_path(Path(sys.argv[1]))):
    print("locked", flush=True)
    if sys.argv[2] == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)  # as Ctrl-Z does in a terminal
    else:
        sys.stdin.readline()  # until the test says
"""


class Holder:
    """A second process holding the sidecar's lock."""

    def __init__(self, tmp_path: Path, sidecar: Path, how: str) -> None:
        script = tmp_path / "lock_holder.py"
        script.write_text(HOLDER)
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(sidecar), how],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "locked\n"
        if how == "stop":
            deadline = time.monotonic() + 10
            while _state(self.process.pid) != "T":
                assert time.monotonic() < deadline, "the holder did not stop"
                time.sleep(0.01)

    def release(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.write("\n")
            self.process.stdin.flush()
        self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def holders() -> Iterator[Callable[..., Holder]]:
    started: list[Holder] = []

    def start(tmp_path: Path, sidecar: Path, how: str) -> Holder:
        holder = Holder(tmp_path, sidecar, how)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        holder.kill()


def test_a_stopped_lock_holder_is_named_and_the_wait_times_out(
    tmp_path: Path,
    holders: Callable[..., Holder],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11: a writer suspended with Ctrl-Z made every other writer wait
    forever, saying nothing."""
    path = tmp_path / "h.sessions.toml"
    update_sidecar(path, "h.py", add_record("a"))
    before = path.read_bytes()
    holder = holders(tmp_path, path, "stop")
    monkeypatch.setenv("SESSIONS_LOCK_TIMEOUT", "4")

    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(SidecarWriteError) as caught:
        update_sidecar(path, "h.py", add_record("b"))
    waited = time.monotonic() - started

    assert 3.9 < waited < 8
    (notice,) = [r.getMessage() for r in caplog.records if "is locked by" in r.getMessage()]
    for text in (notice, str(caught.value)):
        assert f"process {holder.process.pid} (" in text
        assert "lock_holder.py" in text  # its command line
        assert "stopped" in text and f"kill -CONT {holder.process.pid}" in text
    assert "h.sessions.toml is locked by another writer" in notice
    assert "waiting up to 4 s" in notice and "SESSIONS_LOCK_TIMEOUT" in notice
    assert "gave up after 4 s" in str(caught.value)
    assert "chmod" not in str(caught.value)
    assert isinstance(caught.value.__cause__, LockTimeout)
    assert path.read_bytes() == before

    # Resumed, the holder finishes; the thread left waiting lets the lock go at once.
    holder.release()
    update_sidecar(path, "h.py", add_record("b"))
    assert [r.id for r in load_sidecar(path, "h.py").data.cells] == ["a", "b"]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(lock_path(path))], timeout=30, check=False
    )
    assert probe.returncode == 0, "the lock stayed taken after the wait gave up"


PROBE = """\
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
deadline = time.monotonic() + 5
while True:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        sys.exit(0)
    except BlockingIOError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.05)
"""


def test_a_waiter_gets_the_lock_as_soon_as_the_holder_lets_go(
    tmp_path: Path, holders: Callable[..., Holder], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "w.sessions.toml"
    holder = holders(tmp_path, path, "hold")
    got_at: list[float] = []

    def write() -> None:
        update_sidecar(path, "w.py", add_record("a"))
        got_at.append(time.monotonic())

    writer = threading.Thread(target=write)
    with caplog.at_level(logging.WARNING):
        writer.start()
        time.sleep(2.5)  # past the notice
        assert not got_at
        released = time.monotonic()
        holder.release()
        writer.join(timeout=10)
    assert got_at and got_at[0] - released < 1.0
    assert any(f"process {holder.process.pid}" in r.getMessage() for r in caplog.records)
    assert not any("stopped" in r.getMessage() for r in caplog.records)


def test_the_holder_record_names_this_process(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with advisory_lock(lock):
        holder = lock_holder(lock)
        assert holder is not None and holder.pid == os.getpid() and not holder.stopped
        assert holder.command is not None and "pytest" in holder.command


def test_a_lock_timeout_of_zero_fails_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "z.lock"
    with advisory_lock(lock), pytest.raises(LockTimeout, match="this process"):
        started = time.monotonic()
        with advisory_lock(lock, what="z", timeout=0):
            pass
    assert time.monotonic() - started < 1
    with advisory_lock(lock, timeout=0):
        pass  # free again: the abandoned wait did not keep it


# --- run ids at TOML's limit --------------------------------------------------------------


def huge_ints(value: Any) -> list[int]:
    """Integers in a parsed document that TOML's 64-bit integers cannot hold."""
    if isinstance(value, dict):
        return [n for item in value.values() for n in huge_ints(item)]
    if isinstance(value, list):
        return [n for item in value for n in huge_ints(item)]
    if type(value) is int and not -(2**63) <= value <= INT64_MAX:
        return [value]
    return []


AT_THE_LIMIT = f"""\
format = 1
notebook = "c.py"
run_counter = {INT64_MAX}

[[cells]]
id = "old"
hash = "h-old"
index = 0
run = 7
inputs = {{}}

[[cells]]
id = "failed"
hash = "h-failed"
index = 1
run = {INT64_MAX - 1}
status = "error"
inputs = {{}}
provides = {{ x = "failed:{INT64_MAX - 1}" }}

[[cells]]
id = "consumer"
hash = "h-consumer"
index = 2
run = {INT64_MAX}
inputs = {{ x = "failed:{INT64_MAX - 1}", y = "failed:3" }}
"""


def test_run_ids_at_the_toml_limit_are_renumbered_keeping_every_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: `run_counter = 2^63-1` made the next run write 2^63, which is
    not a TOML integer."""
    path = tmp_path / "c.sessions.toml"
    path.write_text(AT_THE_LIMIT)
    with caplog.at_level(logging.WARNING):
        written = update_sidecar(path, "c.py", add_record("new"))

    document = tomllib.loads(path.read_text())
    assert huge_ints(document) == []
    assert [(c["id"], c["run"]) for c in document["cells"]] == [
        ("old", 1),
        ("failed", 2),
        ("consumer", 3),
        ("new", 4),
    ]
    assert document["run_counter"] == 4
    # The failed run's key follows it; a key of a run no record holds still matches nothing.
    assert document["cells"][1]["provides"] == {"x": "failed:2"}
    assert document["cells"][2]["inputs"] == {"x": "failed:2", "y": "failed:gone-3"}
    assert written.cells[0].outputs == [] and written.cells[3].outputs[0]["text"] == "new\n"
    (note,) = [r.getMessage() for r in caplog.records if "renumbered" in r.getMessage()]
    assert f"run ids had reached {INT64_MAX}" in note and "c.sessions.toml" in note


def test_numbers_toml_cannot_hold_in_other_fields_drop_only_their_record(tmp_path: Path) -> None:
    path = tmp_path / "e.sessions.toml"
    path.write_text(
        "format = 1\nrun_counter = 2\n\n"
        '[[cells]]\nhash = "a"\nindex = 0\nrun = 1\n\n'
        f'[[cells]]\nhash = "b"\nindex = 1\nrun = 2\nexecution_count = {2**64}\n'
    )
    result = load_sidecar(path, "e.py")
    assert [r.hash for r in result.data.cells] == ["a"]
    (problem,) = result.problems
    assert "execution_count" in problem and "larger than TOML integers allow" in problem
    update_sidecar(path, "e.py", add_record("c"))
    assert huge_ints(tomllib.loads(path.read_text())) == []


def test_save_sidecar_renumbers_without_changing_the_callers_records(tmp_path: Path) -> None:
    record = CellRecord(hash="h", index=0, run=INT64_MAX)
    data = SidecarData(notebook="s.py", run_counter=INT64_MAX, cells=[record])
    path = tmp_path / "s.sessions.toml"
    save_sidecar(path, data)
    assert record.run == INT64_MAX and data.run_counter == INT64_MAX
    assert tomllib.loads(path.read_text())["run_counter"] == 1
