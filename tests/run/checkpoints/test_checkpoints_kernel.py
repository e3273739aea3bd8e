"""Checkpoints on real kernels: a new kernel restores expensive upstream values
instead of re-running them, and refuses every checkpoint it should not trust."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sessions.run.checkpoints.policy import CheckpointSettings
from sessions.run.checkpoints.store import CheckpointStore
from sessions.run.kernel_factory import kernel_factory_for
from sessions.run.runner import NotebookRunner, RunListener, RunSettings, RunSummary

pytestmark = pytest.mark.kernel

Make = Callable[..., NotebookRunner]

VALUES = """\
# %% Imports
import numpy as np
import pandas as pd

# %% Values checkpoint=true
arr = np.arange(200_000, dtype=np.float64).reshape(400, 500)
df = pd.DataFrame({"a": np.arange(50), "b": [f"row {i}" for i in range(50)]})


class Outer:
    class Inner:
        def __init__(self, value):
            self.value = value

    def __init__(self, value):
        self.inner = Outer.Inner(value)


outer = Outer(41)


def make_adder(n):
    def add(x):
        return x + n

    return add


add = make_adder(3)

# %% Report
print("report", float(arr.sum()), arr.shape, arr.flags.writeable, df.to_json(), outer.inner.value + 1, add(4), type(outer).__name__)
"""


def write(folder: Path, text: str, name: str = "nb.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


class Notes(RunListener):
    def __init__(self) -> None:
        self.saved: list[tuple[int, tuple[str, ...], str]] = []
        self.refused: list[tuple[int, str]] = []

    def checkpoint_saved(self, index: int, result: object) -> None:
        self.saved.append((index, result.saved, result.reason))  # type: ignore[attr-defined]

    def checkpoint_refused(self, index: int, reason: str) -> None:
        self.refused.append((index, reason))


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    return CheckpointStore(tmp_path / "store")


@pytest.fixture
async def make(store: CheckpointStore) -> AsyncIterator[Make]:
    runners: list[NotebookRunner] = []

    def make_runner(
        path: Path, *, python: str | None = None, **checkpoints: object
    ) -> NotebookRunner:
        # Only cells marked checkpoint=true, whatever this machine's speed.
        checkpoints.setdefault("min_seconds", 1000.0)
        settings = RunSettings(checkpoints=CheckpointSettings(**checkpoints))  # type: ignore[arg-type]
        runner = NotebookRunner(path, kernel_factory_for(path, python=python), settings=settings)
        runner.checkpoints.store = store
        runner.listener = Notes()
        runners.append(runner)
        return runner

    yield make_runner
    for runner in runners:
        await runner.shutdown()


def printed(summary: RunSummary, index: int) -> str:
    outcome = next(o for o in summary.outcomes if o.index == index)
    return "".join(
        str(o.get("text", "")) for o in outcome.record.outputs if o.get("output_type") == "stream"
    )


def restored(summary: RunSummary) -> list[int]:
    return [cell.index for cell in summary.restored]


async def test_a_new_kernel_restores_values_equal_to_a_rerun(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(tmp_path, VALUES)
    first = make(path)
    ran = await first.run("all")
    assert ran.ok, ran
    assert first.listener.saved == [(1, ("Outer", "add", "arr", "df", "make_adder", "outer"), "")]  # type: ignore[attr-defined]
    original = printed(ran, 2)
    assert "report 19999900000.0 (400, 500) True" in original
    await first.shutdown()

    edit(path, 'print("report"', 'print("again"')
    second = make(path)
    summary = await second.run("stale")
    assert summary.ok, summary
    # The report needs only the restored names: the imports cell is not even run.
    assert restored(summary) == [1]
    assert [o.index for o in summary.outcomes] == [2]
    assert printed(summary, 2) == original.replace("report", "again", 1)
    assert summary.restored[0].result.restored == (
        "Outer",
        "add",
        "arr",
        "df",
        "make_adder",
        "outer",
    )
    assert second.restored_cells(second.snapshot()) == {1: summary.restored[0].result}

    # The same run without restoring gives the same values.
    edit(path, 'print("again"', 'print("rerun"')
    third = make(path, restore=False)
    rerun = await third.run("stale")
    assert restored(rerun) == [] and [o.index for o in rerun.outcomes] == [0, 1, 2]
    assert printed(rerun, 2) == original.replace("report", "rerun", 1)


async def test_an_upstream_change_invalidates(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% n
        n = 5

        # %% Data checkpoint=true
        data = list(range(n))

        # %% Report
        print("sum", sum(data))
        """,
    )
    first = make(path)
    assert (await first.run("all")).ok
    await first.shutdown()
    assert len(store.entries(path)) == 1

    edit(path, "n = 5", "n = 7")
    second = make(path)
    summary = await second.run("stale")
    assert summary.ok and restored(summary) == []
    assert [o.index for o in summary.outcomes] == [0, 1, 2]
    assert printed(summary, 2) == "sum 21\n"
    assert len(store.entries(path)) == 2  # the new version has its own checkpoint


async def test_a_package_version_change_invalidates(
    tmp_path: Path, make: Make, store: CheckpointStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages = tmp_path / "packages"
    (packages / "tinypkg").mkdir(parents=True)
    (packages / "tinypkg" / "__init__.py").write_text(
        "class Thing:\n    def __init__(self, n):\n        self.n = n\n"
    )

    def install(version: str) -> None:
        for old in packages.glob("tinypkg-*.dist-info"):
            for file in old.iterdir():
                file.unlink()
            old.rmdir()
        info = packages / f"tinypkg-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: tinypkg\nVersion: {version}\n"
        )
        (info / "top_level.txt").write_text("tinypkg\n")

    install("1.0")
    monkeypatch.setenv("PYTHONPATH", str(packages))  # installed, as far as the kernels know
    path = write(
        tmp_path,
        """\
        # %% Thing checkpoint=true
        import tinypkg

        thing = tinypkg.Thing(3)

        # %% Report
        print("n", thing.n)
        """,
    )
    first = make(path)
    assert (await first.run("all")).ok
    await first.shutdown()

    install("2.0")
    edit(path, 'print("n"', 'print("n is"')
    second = make(path)
    summary = await second.run("stale")
    assert summary.ok, summary
    assert restored(summary) == [] and [o.index for o in summary.outcomes] == [0, 1]
    assert second.listener.refused == [(0, "package versions changed: tinypkg 1.0 → 2.0")]  # type: ignore[attr-defined]
    assert any("tinypkg 1.0 → 2.0" in note for note in summary.notes)
    assert printed(summary, 1) == "n is 3\n"


async def test_another_interpreter_does_not_restore(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    # Another environment with the same packages (a .pth to ours): another sys.prefix.
    other = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    site = next(other.glob("lib/python*/site-packages"))
    ours = [p for p in sys.path if p.endswith("site-packages")]
    (site / "ours.pth").write_text("\n".join(ours) + "\n")
    path = write(tmp_path, VALUES)
    first = make(path)
    assert (await first.run("all")).ok
    await first.shutdown()

    edit(path, 'print("report"', 'print("again"')
    second = make(path, python=str(other / "bin" / "python"))
    summary = await second.run("stale")
    assert summary.ok, summary
    assert restored(summary) == [] and [o.index for o in summary.outcomes] == [0, 1, 2]


@pytest.mark.parametrize("damage", ["tamper", "truncate"])
async def test_a_damaged_checkpoint_is_refused_and_the_cell_runs(
    tmp_path: Path, make: Make, store: CheckpointStore, damage: str
) -> None:
    path = write(tmp_path, VALUES)
    first = make(path)
    assert (await first.run("all")).ok
    await first.shutdown()
    (entry,) = store.entries(path)
    content = bytearray(entry.path.read_bytes())
    if damage == "tamper":
        content[-100] ^= 0xFF  # one bit of the array's data
    else:
        content = content[: len(content) // 2]
    entry.path.write_bytes(bytes(content))

    edit(path, 'print("report"', 'print("again"')
    second = make(path)
    summary = await second.run("stale")
    assert summary.ok, summary
    assert restored(summary) == []
    assert [o.index for o in summary.outcomes] == [0, 1, 2]
    ((cell, reason),) = second.listener.refused  # type: ignore[attr-defined]
    assert cell == 1 and "signature does not match" in reason
    assert "report" not in printed(summary, 2) and "again 19999900000.0" in printed(summary, 2)


async def test_unpicklable_values_are_not_checkpointed(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% Handles checkpoint=true
        import threading

        handle = open(__file__ if "__file__" in dir() else "nb.py")
        lock = threading.Lock()
        numbers = (i for i in range(3))

        # %% Report
        print("closed", handle.closed)
        """,
    )
    first = make(path)
    assert (await first.run("all")).ok
    ((index, saved, reason),) = first.listener.saved  # type: ignore[attr-defined]
    assert index == 0 and saved == () and "cannot be pickled" in reason
    assert store.entries(path) == []
    await first.shutdown()

    edit(path, 'print("closed"', 'print("still closed"')
    second = make(path)
    summary = await second.run("stale")
    assert summary.ok and restored(summary) == [] and [o.index for o in summary.outcomes] == [0, 1]
    assert printed(summary, 1) == "still closed False\n"


async def test_a_mutated_upstream_object_is_saved_with_the_mutating_cell(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% Items
        items = []

        # %% Grow checkpoint=true
        items.append(42)
        count = len(items)

        # %% Report
        print("items", items, count)
        """,
    )
    first = make(path)
    assert (await first.run("all")).ok
    assert first.listener.saved == [(1, ("count", "items"), "")]  # type: ignore[attr-defined]
    await first.shutdown()

    edit(path, 'print("items"', 'print("now"')
    second = make(path)
    summary = await second.run("stale")
    assert summary.ok and restored(summary) == [1]
    # The list comes back as the mutating cell left it; the cell that made it need not run.
    assert [o.index for o in summary.outcomes] == [2]
    assert printed(summary, 2) == "now [42] 1\n"


async def test_the_notebook_cap_evicts_least_recently_used(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% One checkpoint=true
        one = bytes(600_000)

        # %% Two checkpoint=true
        two = bytes(600_000)

        # %% Three checkpoint=true
        three = bytes(600_000)
        """,
    )
    runner = make(path, notebook_cap_bytes=1_400_000)
    assert (await runner.run("all")).ok
    names = sorted(tuple(entry.header["names"]) for entry in store.entries(path))
    assert names == [("three",), ("two",)]
    too_big = make(path, notebook_cap_bytes=100_000)
    edit(path, "one = bytes(600_000)", "one = bytes(600_001)")
    await too_big.run("cell", [0])
    assert any("over the cap" in reason for _, _, reason in too_big.listener.saved)  # type: ignore[attr-defined]


async def test_kill_during_a_checkpoint_write_leaves_nothing_that_loads(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% Big checkpoint=true
        import numpy as np

        big = np.ones(50_000_000)

        # %% Report
        print("sum", big.sum())
        """,
    )
    runner = make(path)
    run = asyncio.ensure_future(runner.run("all"))
    folder = store.folder_of(path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if folder.is_dir() and any(".tmp-" in p.name for p in folder.iterdir()):
            break
        await asyncio.sleep(0.001)
    else:
        pytest.fail("the checkpoint write never started")
    assert runner.kernel is not None and runner.kernel.pid is not None
    os.kill(runner.kernel.pid, signal.SIGKILL)
    await run
    assert not any(p.name.endswith(".ckpt") for p in folder.iterdir())
    assert store.evict(notebook=path)  # the dead write's temporary file goes
    assert list(folder.iterdir()) == []

    edit(path, 'print("sum"', 'print("total"')
    second = make(path, enabled=False)
    summary = await second.run("stale")
    assert restored(summary) == []


async def test_new_parameters_run_the_cells_instead_of_restoring_them(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% tags=["parameters"]
        n = 1

        # %% Load checkpoint=true
        x = n * 2

        # %% Report
        print("x", x)
        """,
    )
    first = make(path)
    assert (await first.run("all")).ok
    await first.shutdown()

    second = make(path)
    summary = await second.run("stale", parameters={"n": "5"})
    assert summary.ok and restored(summary) == []
    assert [o.index for o in summary.outcomes] == [0, 1, 2]
    assert printed(summary, 2) == "x 10\n"
    await second.shutdown()

    # The parameters in effect: a new kernel restores the checkpoint made with them.
    edit(path, 'print("x"', 'print("x is"')
    third = make(path)
    again = await third.run("stale")
    assert restored(again) == [1] and printed(again, 2) == "x is 10\n"


async def test_a_cell_that_only_imports_is_not_checkpointed(
    tmp_path: Path, make: Make, store: CheckpointStore
) -> None:
    path = write(
        tmp_path,
        """\
        # %% Imports checkpoint=true
        import json
        from collections import OrderedDict
        from os.path import join
        """,
    )
    runner = make(path)
    assert (await runner.run("all")).ok
    ((index, saved, reason),) = runner.listener.saved  # type: ignore[attr-defined]
    assert index == 0 and saved == () and "only imports" in reason
    assert store.entries(path) == []
