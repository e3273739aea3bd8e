"""The checkpoint store (privacy, LRU eviction, dead writes) and the policy, without kernels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sessions.run.checkpoints.policy import CheckpointSettings, decide
from sessions.run.checkpoints.store import CheckpointStore, CheckpointStoreError, checkpoint_key


def fake_checkpoint(
    store: CheckpointStore, notebook: Path, key: str, size: int, used: float
) -> Path:
    path = store.path_of(notebook, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (used, used))
    return path


def test_the_store_is_private_and_its_key_stable(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "store")
    store.ensure()
    assert (store.root.stat().st_mode & 0o777) == 0o700
    assert (store.key_path.stat().st_mode & 0o777) == 0o600
    key = store.key_path.read_bytes()
    assert len(key) == 32
    store.root.chmod(0o755)
    store.ensure()  # ours: made private again, the key kept
    assert (store.root.stat().st_mode & 0o777) == 0o700
    assert store.key_path.read_bytes() == key
    store.key_path.chmod(0o644)
    with pytest.raises(CheckpointStoreError, match="not private"):
        store.ensure()


def test_eviction_takes_the_least_recently_used_first(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "store", cap_bytes=250)
    notebook = tmp_path / "nb.py"
    other = tmp_path / "other.py"
    old = fake_checkpoint(store, notebook, "old", 100, 1_000)
    used = fake_checkpoint(store, other, "used", 100, 3_000)
    middle = fake_checkpoint(store, notebook, "middle", 100, 2_000)
    assert store.usage() == 300
    assert store.evict() == [old]
    assert middle.exists() and used.exists()
    assert store.evict(notebook=notebook, cap_bytes=0) == [middle]
    assert used.exists()


def test_a_dead_write_is_cleaned_up_and_never_listed(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "store")
    notebook = tmp_path / "nb.py"
    kept = fake_checkpoint(store, notebook, "kept", 10, 1_000)
    dead = kept.parent / "next.ckpt.tmp-999999999"  # no such process
    dead.write_bytes(b"half")
    alive = kept.parent / f"other.ckpt.tmp-{os.getpid()}"
    alive.write_bytes(b"being written")
    assert [entry.path for entry in store.entries(notebook)] == [kept]
    assert store.evict(notebook=notebook) == [dead]
    assert alive.exists()


def test_keys_follow_the_versions_and_the_interpreter() -> None:
    key = checkpoint_key({"df": "abc", "n": "def"}, "/venv/bin/python")
    assert key == checkpoint_key({"n": "def", "df": "abc"}, "/venv/bin/python")
    assert key != checkpoint_key({"df": "abd", "n": "def"}, "/venv/bin/python")
    assert key != checkpoint_key({"df": "abc", "n": "def"}, "/other/bin/python")


@pytest.mark.parametrize(
    ("provides", "metadata", "duration", "names", "reason"),
    [
        ({"df": "k"}, {}, 3.0, ("df",), ""),
        ({"df": "k"}, {}, 0.5, (), ""),
        ({"df": "k"}, {"checkpoint": True}, 0.5, ("df",), ""),
        ({"df": "k"}, {"checkpoint": False}, 30.0, (), ""),
        ({"df": "k", "rng:numpy": "s"}, {}, 3.0, (), "NumPy's global random state"),
        ({"df": "k", "rng:numpy": "s"}, {"checkpoint": True}, 3.0, ("df",), ""),
        ({"df": "k", "display:pandas.max_rows": "s"}, {}, 3.0, ("df",), ""),
        ({"file:out.csv": "s"}, {"checkpoint": True}, 3.0, (), "no names"),
    ],
)
def test_the_policy(
    provides: dict[str, str],
    metadata: dict[str, object],
    duration: float,
    names: tuple[str, ...],
    reason: str,
) -> None:
    decision = decide(provides, metadata, duration, CheckpointSettings())
    assert decision.names == names
    assert reason in decision.reason if reason else decision.reason == ""


def test_switched_off_nothing_is_asked() -> None:
    assert (
        decide({"df": "k"}, {"checkpoint": True}, 9.0, CheckpointSettings(enabled=False)).names
        == ()
    )
