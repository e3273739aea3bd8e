"""The sidecar survives writers killed at random moments and concurrent writers
(DESIGN §3: atomic writes under an advisory lock)."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sessions.cache.records import SidecarData
from sessions.cache.sidecar import load_sidecar

# Shared by the parent and the writer subprocesses: both build the same two
# versions, so the parent can tell a whole version from a torn one.
VERSIONS = r"""
from datetime import UTC, datetime
from sessions.cache.records import CellRecord, KernelInfo, SidecarData

def version(tag: str) -> SidecarData:
    count = 40 if tag == "A" else 60
    cells = [
        CellRecord(
            hash=f"blake2b-128:{tag}{i}",
            index=i,
            run=i + 1,
            execution_count=i + 1,
            started=datetime(2026, 1, 1, 0, 0, i % 60, tzinfo=UTC),
            duration=0.5,
            inputs={"x": f"{i:016x}"},
            outputs=[{"output_type": "stream", "name": "stdout",
                      "text": f"{tag} cell {i} line\n" * 800}],
        )
        for i in range(count)
    ]
    return SidecarData(notebook="crash.py", run_counter=count, kernel=KernelInfo(tag, tag), cells=cells)
"""

WRITER = (
    VERSIONS
    + r"""
import sys
from pathlib import Path
from sessions.cache.sidecar import save_sidecar

path = Path(sys.argv[1])
versions = [version("A"), version("B")]
save_sidecar(path, versions[0])
print("ready", flush=True)
i = 1
while True:
    save_sidecar(path, versions[i % 2])
    i += 1
"""
)

UPDATER = r"""
import sys, time
from pathlib import Path
from sessions.cache.records import CellRecord
from sessions.cache.sidecar import SidecarStore, update_sidecar

path, tag, count, go, use_store = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "store"
store = SidecarStore(path, "race.py")
while not go.exists():
    time.sleep(0.001)
for i in range(count):
    def change(data, i=i):
        data.run_counter += 1
        output = {"output_type": "stream", "name": "stdout", "text": f"{tag} {i}\n" * 50}
        data.cells.append(CellRecord(hash=tag, index=i, run=data.run_counter, id=f"{tag}-{i}", outputs=[output]))
    data = store.update(change) if use_store else update_sidecar(path, "race.py", change)
    mine = {cell.id for cell in data.cells if cell.id and cell.id.startswith(tag + "-")}
    if mine != {f"{tag}-{k}" for k in range(i + 1)}:
        print(f"lost records: {sorted(mine)}", flush=True)
        sys.exit(3)
"""


def _versions() -> tuple[SidecarData, SidecarData]:
    namespace: dict[str, Any] = {}
    exec(VERSIONS, namespace)
    return namespace["version"]("A"), namespace["version"]("B")


def test_writer_killed_at_random_moments_leaves_a_whole_version(tmp_path: Path) -> None:
    path = tmp_path / "crash.sessions.toml"
    temp = tmp_path / ".crash.sessions.toml.tmp"
    version_a, version_b = _versions()
    rng = random.Random(20261121)
    kills = mid_write = 0
    seen = set()
    deadline = time.monotonic() + 90
    # At least 200 kills, and as many more as it takes for 20 of them to land
    # mid-write: how many do depends on the machine's speed and load, and the
    # test is only meaningful if many kills interrupted a write.
    while kills < 200 or mid_write < 20:
        assert time.monotonic() < deadline, (
            f"only {kills} kills ({mid_write} mid-write) in the time allowed"
        )
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0, 0.03))
        writer.kill()  # SIGKILL: no cleanup of any kind runs
        writer.wait()
        writer.stdout.close()
        kills += 1
        if temp.exists():
            mid_write += 1  # the kill landed between creating the temp file and the rename
        result = load_sidecar(path, "crash.py")
        assert result.problems == [], result.problems
        assert result.data in (version_a, version_b)
        seen.add(result.data.kernel.python)
    assert not list(tmp_path.glob("*.bak*"))
    assert seen == {"A", "B"}
    assert mid_write >= 20, mid_write


def test_concurrent_updates_lose_no_records(tmp_path: Path) -> None:
    path = tmp_path / "race.sessions.toml"
    go = tmp_path / "go"
    count = 100
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", UPDATER, str(path), tag, str(count), str(go), mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag, mode in (("p", "function"), ("q", "store"))
    ]
    go.touch()
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    result = load_sidecar(path, "race.py")
    assert result.problems == []
    ids = [cell.id for cell in result.data.cells]
    expected = {f"{tag}-{i}" for tag in "pq" for i in range(count)}
    assert len(ids) == 2 * count and set(ids) == expected
    runs = [cell.run for cell in result.data.cells]
    assert sorted(runs) == list(range(1, 2 * count + 1))  # unique, none lost
    assert result.data.run_counter == 2 * count
    # Both really ran at the same time: their records interleave in the file.
    tags = [cell.hash for cell in result.data.cells]
    switches = sum(1 for a, b in itertools.pairwise(tags) if a != b)
    assert switches > 10, switches
