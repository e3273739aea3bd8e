"""The session registry's files: atomic entries in a private folder, clean-up
of dead owners and kernels on read, resolution by key, name or notebook,
name rules, requests, heartbeat of a missing kernel."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sessions.kernel.registry import (
    NAME_RULE,
    NoSuchSession,
    Registry,
    RegistryError,
    SessionEntry,
    heartbeat,
    now_iso,
    validate_name,
)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


def make_entry(
    registry: Registry,
    notebook: Path,
    *,
    owner: int | None = None,
    kernel: int | None = None,
    **extra: object,
) -> SessionEntry:
    alive = os.getpid()
    entry = SessionEntry(
        key=registry.new_key(),
        notebook=str(notebook),
        python=sys.executable,
        owner_pid=owner if owner is not None else alive,
        kernel_pid=kernel if kernel is not None else alive,
        pgid=alive,
        connection_file=str(notebook.parent / "missing-kernel.json"),
        started=now_iso(),
        last_activity=now_iso(),
        state="idle",
        **extra,  # type: ignore[arg-type]
    )
    registry.write(entry)
    return entry


def test_folder_is_private_and_entries_round_trip(registry: Registry, tmp_path: Path) -> None:
    assert stat.S_IMODE(registry.folder.stat().st_mode) == 0o700
    entry = make_entry(registry, tmp_path / "nb.py", name="main", executed=["blake2b-128:00"])
    assert len(entry.key) == 8 and int(entry.key, 16) >= 0
    assert registry.read(entry.key) == entry
    assert registry.entries() == [entry]
    # Atomic writes leave no temporary files behind; the executed log is its own file.
    assert sorted(p.name for p in registry.folder.iterdir()) == [
        f"{entry.key}.executed",
        f"{entry.key}.json",
    ]
    assert "executed" not in (registry.folder / f"{entry.key}.json").read_text()
    assert stat.S_IMODE((registry.folder / f"{entry.key}.json").stat().st_mode) == 0o600


def test_entries_of_dead_owners_or_kernels_are_removed_on_read(
    registry: Registry, tmp_path: Path
) -> None:
    live = make_entry(registry, tmp_path / "a.py")
    orphan = make_entry(registry, tmp_path / "b.py", owner=dead_pid())
    dead_kernel = make_entry(registry, tmp_path / "c.py", kernel=dead_pid())
    registry.request(dead_kernel.key, "restart")
    (registry.folder / "junk.json").write_text("{not json")
    assert registry.entries() == [live]
    assert sorted(p.name for p in registry.folder.iterdir()) == [f"{live.key}.json"]
    assert registry.read(orphan.key) is None


def test_resolve_by_key_then_name_then_notebook(registry: Registry, tmp_path: Path) -> None:
    first = make_entry(registry, tmp_path / "nb.py")
    named = make_entry(registry, tmp_path / "other.py", name="exp-1")
    assert registry.resolve(first.key) == first
    assert registry.resolve("exp-1") == named
    assert registry.resolve(str(tmp_path / "other.py")) == named
    assert registry.resolve(str(tmp_path / "nb.py")) == first
    with pytest.raises(NoSuchSession) as error:
        registry.resolve("nothing")
    message = str(error.value)
    assert message.startswith("no such session: 'nothing'")
    assert f"{named.key} (exp-1)" in message and first.key in message


def test_unknown_session_with_none_live(registry: Registry) -> None:
    with pytest.raises(NoSuchSession, match="there are no live sessions"):
        registry.resolve("abcd1234")


@pytest.mark.parametrize("name", ["a", "exp_2", "A-b-C", "données", "数据", "x" * 256])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "a b", "a.b", "a/b", "tab\t", "x" * 257, "é" * 129, "ünï-" * 52]
)
def test_invalid_names_state_the_rule(name: str) -> None:
    with pytest.raises(RegistryError) as error:
        validate_name(name)
    assert NAME_RULE in str(error.value)


def test_names_must_be_unique_among_live_sessions(registry: Registry, tmp_path: Path) -> None:
    entry = make_entry(registry, tmp_path / "nb.py", name="taken")
    with pytest.raises(RegistryError, match=f"already used by session {entry.key}"):
        registry.check_name_free("taken")
    registry.check_name_free("free")


def test_requests_are_taken_once(registry: Registry, tmp_path: Path) -> None:
    entry = make_entry(registry, tmp_path / "nb.py")
    assert not registry.take_request(entry.key, "restart")
    registry.request(entry.key, "restart")
    assert registry.take_request(entry.key, "restart")
    assert not registry.take_request(entry.key, "restart")


def test_idle_seconds_counts_from_last_activity_and_is_zero_when_busy(
    registry: Registry, tmp_path: Path
) -> None:
    entry = make_entry(registry, tmp_path / "nb.py")
    entry.last_activity = "2000-01-01T00:00:00.000+00:00"
    assert entry.idle_seconds() > 365 * 24 * 3600
    entry.state = "busy"
    assert entry.idle_seconds() == 0.0


def test_heartbeat_of_a_missing_kernel_is_false(tmp_path: Path) -> None:
    assert heartbeat(tmp_path / "nothing.json", timeout=0.2) is False
    connection = tmp_path / "kernel.json"
    connection.write_text(
        '{"transport": "tcp", "ip": "127.0.0.1", "hb_port": 9, "key": "", "signature_scheme": "hmac-sha256"}'
    )
    assert heartbeat(connection, timeout=0.3) is False
