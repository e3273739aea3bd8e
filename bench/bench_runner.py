"""Runner benchmarks (DESIGN §9; issue 12), each against raw jupyter_client in the same run:

- a trivial cell through ``NotebookRunner.run("cell", [0])`` — plan, run id,
  execute, sidecar commit — vs a minimal hand-written ``AsyncKernelClient``
  request loop on a kernel of its own (budget: ≤ 5 ms p50 overhead);
- chains of 50, 1,000 and 8,000 cells made stale by an edit of their first
  cell, then ``run("stale")``: scheduler overhead per cell = (runner wall
  time − wall time of raw jupyter_client executing the same cells back to
  back) / cells (budget: ≤ 2 ms per cell). The runner's time includes reading
  and analysing the notebook, planning, and every sidecar commit;
- the session registry's cost per cell: the 1,000-cell chain on a registered
  kernel (``kernel_factory_for``, as the CLI and the server get one) vs the same
  runner on an unregistered ``KernelSession``, interleaved; and the registry
  writes themselves (``append_executed`` on every cell's ``idle``, the entry
  rewrite, reading the ``executed`` log) with 50, 1,000 and 5,000 cells of history
  (issue 12 measured 0.2, 2.7 and 12 ms per write when the log was rewritten);
- stream-heavy cells (issue 9): 20,000 flushed ``print`` lines, and a 1.5 MB
  log then 3,000 flushed ``\r`` progress updates, through ``run("all")`` vs
  nbclient's ``async_execute_cell`` on the same cell (kernel start excluded;
  target: ≤ 2 × nbclient). Needs nbclient (the ``test`` extra).

Both kernels run the same interpreter, over IPC, in the same folder, with
the registry in a temporary folder. Samples are interleaved so that drift on
a shared machine hits both sides alike.

Run: ``.venv/bin/python bench/bench_runner.py [--repeat N] [--chain-repeat N]
[--long-chain-repeat N] [--skip-8000] [--stream-repeat N] [--stream-only]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_kernel import raw_execute, start_raw, stop_raw
from timing import Case, Row, interleaved, median, print_table
from workloads import STREAM_CELLS, chain_text

from sessions.format.hashing import code_hash
from sessions.format.notebook import parse
from sessions.kernel.registry import Registry, SessionEntry, now_iso
from sessions.kernel.session import KernelSession
from sessions.run.kernel_factory import kernel_factory_for
from sessions.run.runner import KernelLike, NotebookRunner

TRIVIAL = "x = 1"


def chain_codes(cells: int, version: int) -> list[str]:
    return [cell.code for cell in parse(chain_text(cells, version=version)).cells]


async def bench_trivial_cell(folder: Path, repeat: int) -> list[Row]:
    path = folder / "trivial.py"
    path.write_text(f"# %% trivial\n{TRIVIAL}\n")
    runner = NotebookRunner(path, kernel_factory_for(path, registry=Registry(folder / "registry")))
    manager, client = await start_raw(str(folder))
    ours: list[float] = []
    raw: list[float] = []
    try:
        for _ in range(20):  # warm-up both (kernel start, caches, first sidecar write)
            summary = await runner.run("cell", [0])
            assert summary.ok, summary
            await raw_execute(client, TRIVIAL)
        for _ in range(repeat):
            start = time.perf_counter()
            await runner.run("cell", [0])
            ours.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            await raw_execute(client, TRIVIAL)
            raw.append((time.perf_counter() - start) * 1000)
    finally:
        await runner.shutdown()
        await stop_raw(manager, client)
    floor = Row("raw AsyncKernelClient execute", raw, "floor")
    row = Row(
        "trivial cell via NotebookRunner.run (+sidecar)",
        ours,
        "≤ floor + 5 ms p50",
        floor_ms=floor.median,
        floor_name="raw jupyter_client AsyncKernelClient request/IOPub-idle/reply loop",
    )
    return [row, floor]


def unregistered_factory(folder: Path) -> Callable[[], Awaitable[KernelLike]]:
    """Kernels no registry knows about: the runner minus the registry's work."""

    async def start() -> KernelLike:
        session = KernelSession(sys.executable, folder)
        await session.start()
        return session

    return start


async def bench_chain(
    folder: Path, cells: int, repeat: int, *, compare_unregistered: bool = False
) -> list[Row]:
    """Rows for a ``cells``-cell chain: the stale run, the raw floor, the
    overhead per cell, and (``compare_unregistered``) the registry's cost per cell."""
    registry = Registry(folder / "registry")
    path = folder / f"chain{cells}.py"
    path.write_text(chain_text(cells))
    runners = {"registered": NotebookRunner(path, kernel_factory_for(path, registry=registry))}
    if compare_unregistered:
        bare = folder / f"chain{cells}_unregistered.py"
        bare.write_text(chain_text(cells))
        runners["unregistered"] = NotebookRunner(bare, unregistered_factory(folder))
    manager, client = await start_raw(str(folder))
    walls: dict[str, list[float]] = {name: [] for name in runners}
    raw: list[float] = []
    try:
        for runner in runners.values():
            summary = await runner.run("all")  # load the chain into the kernel
            assert summary.ok and len(summary.outcomes) == cells, summary
        for version in range(1, repeat + 1):
            codes = chain_codes(cells, version)
            # Alternate the order, so neither side always follows the other.
            names = list(runners) if version % 2 else list(reversed(runners))
            for name in names:
                runner = runners[name]
                runner.path.write_text(chain_text(cells, version=version))
                start = time.perf_counter()
                summary = await runner.run("stale")
                walls[name].append((time.perf_counter() - start) * 1000)
                assert summary.ok and len(summary.outcomes) == cells, summary
            start = time.perf_counter()
            for code in codes:
                await raw_execute(client, code)
            raw.append((time.perf_counter() - start) * 1000)
    finally:
        for runner in runners.values():
            await runner.shutdown()
        await stop_raw(manager, client)
    ours = walls["registered"]
    per_cell = [(wall - floor) / cells for wall, floor in zip(ours, raw, strict=True)]
    raw_name = f"raw jupyter_client executing the same {cells:,} cells back to back"
    rows = [
        Row(f"{cells:,}-cell chain, run stale (wall)", ours, "", median(raw), raw_name),
        Row(f"{cells:,}-cell chain, raw back to back (floor)", raw, "floor"),
        Row(f"{cells:,}-cell chain, scheduler overhead per cell", per_cell, "≤ 2 ms per cell"),
    ]
    if compare_unregistered:
        bare_walls = walls["unregistered"]
        registry_per_cell = [
            (with_registry - without) / cells
            for with_registry, without in zip(ours, bare_walls, strict=True)
        ]
        rows += [
            Row(
                f"{cells:,}-cell chain, run stale, unregistered kernel",
                bare_walls,
                "",
                median(raw),
                raw_name,
            ),
            Row(
                f"{cells:,}-cell chain, registry cost per cell",
                registry_per_cell,
                "≈ 0 (off the hot path)",
                note="registered − unregistered wall, / cells",
            ),
        ]
    return rows


def registry_write_rows(folder: Path, repeat: int) -> list[Row]:
    """The registry's own writes, with a kernel history of 50, 1,000 and 5,000 cells.

    ``append_executed`` runs in the IOPub handler of every cell's ``idle`` (on
    the hot path); the entry rewrite runs in the poller (off it); the log is
    read by every run's ``loaded_cells``. Each should cost the same whatever
    the history (issue 12: the rewrite grew to 12 ms at 5,000)."""
    registry = Registry(folder / "registry-writes")
    rows: list[Row] = []
    for history in (50, 1000, 5000):
        entry = SessionEntry(
            key=registry.new_key(),
            notebook=str(folder / "nb.py"),
            python=sys.executable,
            owner_pid=os.getpid(),
            kernel_pid=os.getpid(),
            pgid=os.getpid(),
            connection_file=str(folder / "kernel.json"),
            started=now_iso(),
            last_activity=now_iso(),
            state="idle",
            executed=[code_hash(f"v{i} = {i}") for i in range(history)],
        )
        registry.write(entry)  # the history goes to the KEY.executed log
        entry.executed = []  # as the owner's Registration holds it: the log is apart
        digests = iter(code_hash(f"w{i} = {i}") for i in range(10 * (repeat + 2)))
        samples = interleaved(
            [
                Case("append", lambda e=entry, d=digests: registry.append_executed(e.key, next(d))),
                Case("entry", lambda e=entry: registry.write(e, with_executed=False)),
                Case("read", lambda e=entry: registry.executed(e.key)),
            ],
            repeat,
        )
        rows += [
            Row(
                f"append_executed, {history:,} in history (per cell)", samples["append"], "constant"
            ),
            Row(f"entry rewrite, {history:,} in history (poller)", samples["entry"], "constant"),
            Row(f"read executed log, {history:,} in history (per run)", samples["read"], "—"),
        ]
        registry.remove(entry.key)
    return rows


async def bench_stream_heavy(folder: Path, repeat: int) -> list[Row]:
    """Each stream-heavy cell through the runner and through nbclient, interleaved."""
    import nbformat
    from nbclient import NotebookClient

    rows: list[Row] = []
    for name, code in STREAM_CELLS.items():
        path = folder / "stream.py"
        path.write_text(f"# %% stream\n{code}")
        factory = kernel_factory_for(path, fresh=True, registry=Registry(folder / "registry"))
        runner = NotebookRunner(path, factory)
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        reference = NotebookClient(notebook, timeout=600, kernel_name="python3")
        ours: list[float] = []
        theirs: list[float] = []
        try:
            await runner.ensure_kernel()
            async with reference.async_setup_kernel():
                for _ in range(repeat):
                    start = time.perf_counter()
                    summary = await runner.run("all")
                    ours.append((time.perf_counter() - start) * 1000)
                    assert summary.ok, summary
                    start = time.perf_counter()
                    await reference.async_execute_cell(notebook.cells[0], 0)
                    theirs.append((time.perf_counter() - start) * 1000)
        finally:
            await runner.shutdown()
        floor = Row(f"{name}: nbclient", theirs, "reference")
        rows += [Row(f"{name}: NotebookRunner.run", ours, "≤ 2 × nbclient", floor.median), floor]
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200, help="trivial-cell samples")
    parser.add_argument("--chain-repeat", type=int, default=20, help="50-cell chain samples")
    parser.add_argument(
        "--long-chain-repeat", type=int, default=3, help="1,000-cell chain samples (8,000: 1)"
    )
    parser.add_argument("--skip-8000", action="store_true", help="no 8,000-cell chain (~3 min)")
    parser.add_argument("--stream-repeat", type=int, default=5, help="stream-heavy samples")
    parser.add_argument("--stream-only", action="store_true", help="only the stream-heavy cells")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stream_rows = await bench_stream_heavy(folder, args.stream_repeat)
        if args.stream_only:
            print_table("Stream-heavy cells (issue 9), vs nbclient", stream_rows)
            return
        rows = await bench_trivial_cell(folder, args.repeat)
        chain_rows = await bench_chain(folder, 50, args.chain_repeat)
        chain_rows += await bench_chain(
            folder, 1000, args.long_chain_repeat, compare_unregistered=True
        )
        if not args.skip_8000:
            chain_rows += await bench_chain(folder, 8000, 1)
        registry_rows = registry_write_rows(folder, 50)
    print_table("Runner (DESIGN §9)", rows)
    print_table("Chains, run stale after an edit of the first cell", chain_rows)
    print_table("Session registry writes (ms)", registry_rows)
    print_table("Stream-heavy cells (issue 9), vs nbclient", stream_rows)
    ours, raw = rows[0].median, rows[1].median
    if ours is not None and raw is not None:
        print(
            f"\ntrivial-cell overhead over raw jupyter_client: {ours - raw:+.2f} ms p50 "
            "(budget ≤ 5 ms)"
        )
    for row in chain_rows:
        if row.case.endswith("per cell") and row.median is not None and row.p95 is not None:
            print(f"{row.case}: {row.median:.2f} ms p50, {row.p95:.2f} ms p95")


if __name__ == "__main__":
    asyncio.run(main())
