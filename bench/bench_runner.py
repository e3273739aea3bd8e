"""Runner benchmarks (DESIGN §9), each against raw jupyter_client in the same run:

- a trivial cell through ``NotebookRunner.run("cell", [0])`` — plan, run id,
  execute, sidecar commit — vs a minimal hand-written ``AsyncKernelClient``
  request loop on a kernel of its own (budget: ≤ 5 ms p50 overhead);
- a 50-cell chain made stale by an edit of its first cell, then
  ``run("stale")``: scheduler overhead per cell = (runner wall time − the sum
  of raw execute times of the same 50 cells) / 50 (budget: ≤ 2 ms per cell);
- stream-heavy cells (issue 9): 20,000 flushed ``print`` lines, and a 1.5 MB
  log then 3,000 flushed ``\r`` progress updates, through ``run("all")`` vs
  nbclient's ``async_execute_cell`` on the same cell (kernel start excluded;
  target: ≤ 2 × nbclient). Needs nbclient (the ``test`` extra).

Both kernels run the same interpreter, over IPC, in the same folder. Samples
are interleaved so that drift on a shared machine hits both sides alike.

Run: ``.venv/bin/python bench/bench_runner.py [--repeat N] [--chain-repeat N]
[--stream-repeat N] [--stream-only]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_kernel import raw_execute, start_raw, stop_raw
from timing import Row, print_table

from sessions.kernel_factory import kernel_factory_for
from sessions.notebook import parse
from sessions.runner import NotebookRunner

TRIVIAL = "x = 1"
CHAIN_LENGTH = 50
STREAM_CELLS = {
    "20,000 flushed lines": "for i in range(20000):\n    print(i, flush=True)\n",
    "1.5 MB log, 3,000 \\r": (
        "import sys\nfor i in range(33000):\n    print('log line', i, 'x' * 30)\n"
        "sys.stdout.flush()\nfor i in range(3000):\n"
        "    print(f'\\rprogress {i}', end='', flush=True)\nprint()\n"
    ),
}


def chain_cells(version: int) -> list[str]:
    """Code of a 50-cell chain; ``version`` changes the first cell so all go stale."""
    cells = [f"v0 = {version}"]
    cells += [f"v{i} = v{i - 1} + 1" for i in range(1, CHAIN_LENGTH)]
    return cells


def chain_text(version: int) -> str:
    return "".join(f"# %% step {i}\n{code}\n\n" for i, code in enumerate(chain_cells(version)))


async def bench_trivial_cell(folder: Path, repeat: int) -> list[Row]:
    path = folder / "trivial.py"
    path.write_text(f"# %% trivial\n{TRIVIAL}\n")
    runner = NotebookRunner(path, kernel_factory_for(path))
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


async def bench_chain(folder: Path, repeat: int) -> tuple[list[Row], list[float]]:
    """Rows for the stale run and the raw floor, and the per-cell overheads."""
    path = folder / "chain.py"
    path.write_text(chain_text(0))
    runner = NotebookRunner(path, kernel_factory_for(path))
    manager, client = await start_raw(str(folder))
    ours: list[float] = []
    raw: list[float] = []
    per_cell: list[float] = []
    try:
        summary = await runner.run("all")  # load the chain into the kernel
        assert summary.ok and len(summary.outcomes) == CHAIN_LENGTH, summary
        for version in range(1, repeat + 1):
            path.write_text(chain_text(version))
            start = time.perf_counter()
            summary = await runner.run("stale")
            wall = (time.perf_counter() - start) * 1000
            assert summary.ok and len(summary.outcomes) == CHAIN_LENGTH, summary
            executed = 0.0
            for code in chain_cells(version):
                start = time.perf_counter()
                await raw_execute(client, code)
                executed += (time.perf_counter() - start) * 1000
            ours.append(wall)
            raw.append(executed)
            per_cell.append((wall - executed) / CHAIN_LENGTH)
    finally:
        await runner.shutdown()
        await stop_raw(manager, client)
    assert [c.code for c in parse(path.read_text()).cells] == chain_cells(repeat)
    floor = Row("raw execute of the same 50 cells (sum)", raw, "floor")
    row = Row(
        "50-cell chain, run stale (wall)",
        ours,
        "≤ floor + 50 × 2 ms",
        floor_ms=floor.median,
        floor_name="sum of raw jupyter_client executes of the same 50 cells",
    )
    return [row, floor], per_cell


async def bench_stream_heavy(folder: Path, repeat: int) -> list[Row]:
    """Each stream-heavy cell through the runner and through nbclient, interleaved."""
    import nbformat
    from nbclient import NotebookClient

    rows: list[Row] = []
    for name, code in STREAM_CELLS.items():
        path = folder / "stream.py"
        path.write_text(f"# %% stream\n{code}")
        runner = NotebookRunner(path, kernel_factory_for(path, fresh=True))
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="trivial-cell samples")
    parser.add_argument("--chain-repeat", type=int, default=20, help="50-cell chain samples")
    parser.add_argument("--stream-repeat", type=int, default=5, help="stream-heavy samples")
    parser.add_argument("--stream-only", action="store_true", help="only the stream-heavy cells")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stream_rows = await bench_stream_heavy(Path(folder), args.stream_repeat)
        if args.stream_only:
            print_table("Stream-heavy cells (issue 9), vs nbclient", stream_rows)
            return
        rows = await bench_trivial_cell(Path(folder), args.repeat)
        chain_rows, per_cell = await bench_chain(Path(folder), args.chain_repeat)
    overhead = Row("scheduler overhead per cell (chain)", per_cell, "≤ 2 ms per cell")
    print_table("Runner (DESIGN §9)", [*rows, *chain_rows, overhead])
    print_table("Stream-heavy cells (issue 9), vs nbclient", stream_rows)
    trivial = rows[0].median - rows[1].median
    print(f"\ntrivial-cell overhead over raw jupyter_client: {trivial:+.2f} ms p50 (budget ≤ 5 ms)")
    print(
        f"50-cell chain scheduler overhead: {overhead.median:.2f} ms per cell p50, "
        f"{overhead.p95:.2f} ms p95 (budget ≤ 2 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
