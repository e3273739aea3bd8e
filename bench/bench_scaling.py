"""How each core operation grows with the notebook: 1k, 5k, 20k and 50k lines.

    .venv/bin/python bench/bench_scaling.py [--sizes 1000,5000,20000,50000]

The notebooks are the reference generator at each size (20 lines per cell,
so 50 to 2,500 cells). Each operation is timed in the same rounds as its
floor (``timing.interleaved``), and the table gives the median and the ratio
median / floor at every size. A floor grows linearly with the notebook, so a
ratio that grows with the size is a cost that grows faster than linearly:
the cliffs of issue 12 (quadratic serialization, O(n^2.5) planning) would
show as a ratio multiplied by ten or more across the table.

Operations and floors:

* full analysis, cold, as the CLI and the language server do it (parse +
  ``snapshot.analyse`` with no previous snapshot, an empty sidecar) /
  ``ast.parse`` of each cell;
* one-cell edit through the language server's text path
  (``workloads.TextPath``) / splitting the text into lines plus
  ``ast.parse`` of the edited cell — the least any text-path edit costs;
* statuses of every cell after the edit / one record-hash comparison per cell;
* ``run --stale`` planning after the edit, for a new kernel (as the runner
  plans) / sorting the stale cells' indexes;
* sidecar save, one-cell update and load, one 2 KB plain output per code
  cell plus the inputs and provides of a real run / ``json.dumps`` + write +
  fsync, and ``json.loads``, of the same records as JSON;
* serializing cells created in an editor (``serialize_payload``, no ``raw``)
  / ``jupytext.writes`` of the same cells.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import editor_payload, jupytext_notebook
from timing import Case, fmt, interleaved, median, p95
from workloads import (
    TextPath,
    as_json,
    cell_codes,
    cell_index,
    clear_analysis_caches,
    edit_cell,
    output_of,
    parse_each_cell,
    ran_sidecar,
    sized_reference,
    write_durably,
)

from sessions.analysis.snapshot import analyse
from sessions.analysis.staleness import compute_statuses
from sessions.cache.records import SidecarData
from sessions.cache.sidecar import SidecarStore, load_sidecar, save_sidecar, sidecar_path
from sessions.format.notebook import parse
from sessions.lsp.notebook_json import serialize_payload
from sessions.run.plan import blocked_by_syntax_errors, plan_run

OPERATIONS = [
    "full analysis, cold",
    "one-cell edit, text path",
    "statuses",
    "run --stale plan",
    "sidecar save",
    "sidecar one-cell update",
    "sidecar load",
    "serialize editor cells",
]


@dataclass
class Measured:
    median: float | None
    p95: float | None
    floor: float | None

    @property
    def ratio(self) -> float | None:
        if self.median is None or not self.floor:
            return None
        return self.median / self.floor


def pair(
    ours: Callable[[], object],
    floor: Callable[[], object],
    repeat: int,
    before: Callable[[], object] | None = None,
) -> Measured:
    samples = interleaved([Case("ours", ours, before), Case("floor", floor)], repeat, warmup=1)
    return Measured(median(samples["ours"]), p95(samples["ours"]), median(samples["floor"]))


def measure_size(lines: int, repeat: int, folder: Path) -> dict[str, Measured]:
    import jupytext

    text = sized_reference(lines)
    notebook = parse(text)
    codes = cell_codes(notebook)
    results: dict[str, Measured] = {}

    cold_path = Path(f"scaling{lines}.py")
    empty = SidecarData(cold_path.name)
    results["full analysis, cold"] = pair(
        lambda: analyse(cold_path, parse(text), empty),
        lambda: parse_each_cell(codes),
        repeat,
        before=clear_analysis_caches,
    )

    # The language server's path, with a sidecar of a full run on disk.
    path = folder / f"scaling{lines}.py"
    path.write_text(text)
    data = ran_sidecar(notebook, path.name)
    rng = random.Random(lines)
    for record in data.cells:
        record.outputs = [output_of("plain", 2000, rng)]
    save_sidecar(sidecar_path(path), data)
    middle = lines // 20 // 2
    index = cell_index(notebook, f"Step {middle}")
    edits = iter(
        [edit_cell(text, notebook, index, f"frame_{middle}", k) for k in range(3 * repeat)]
    )
    floor_texts = iter(
        [edit_cell(text, notebook, index, f"frame_{middle}", k) for k in range(3 * repeat)]
    )
    edited_code = parse(edit_cell(text, notebook, index, f"frame_{middle}", 0)).cells[index].code
    state = TextPath(path, text)

    def edit_floor() -> None:
        next(floor_texts).split("\n")
        ast.parse(edited_code)

    results["one-cell edit, text path"] = pair(
        lambda: state.analyse(next(edits)), edit_floor, repeat
    )

    snapshot = state.snapshot
    records = snapshot.records
    results["statuses"] = pair(
        lambda: compute_statuses(snapshot.notebook, snapshot.graph, records),
        lambda: [
            r is not None and r.hash == c.hash
            for r, c in zip(records, snapshot.notebook.cells, strict=True)
        ],
        repeat,
    )

    everything = range(len(snapshot.notebook.cells))

    def plan() -> None:
        nb, graph, states = snapshot.notebook, snapshot.graph, snapshot.states
        if plan_run(nb, graph, states, "stale", loaded=everything):
            planned = plan_run(nb, graph, states, "stale", loaded=())
            blocked_by_syntax_errors(graph, planned, records)

    results["run --stale plan"] = pair(
        plan,
        lambda: sorted(i for i, s in enumerate(snapshot.states) if s.is_stale),
        repeat,
    )

    sidecar = folder / f"scaling{lines}.sessions.toml"
    floor_path = folder / f"scaling{lines}.floor.json"
    json_text = as_json(data)

    def json_save(current: SidecarData = data) -> None:
        write_durably(floor_path, as_json(current).encode())

    results["sidecar save"] = pair(lambda: save_sidecar(sidecar, data), json_save, repeat)
    store = SidecarStore(sidecar, path.name)
    store.load()
    positions = iter(range(10**9))
    # Made up front: the update times the store, not the text generator.
    fresh_outputs = iter([output_of("plain", 2000, rng) for _ in range(repeat + 2)])

    def update() -> None:
        position = next(positions) % len(data.cells)
        output = next(fresh_outputs)

        def change(current: SidecarData) -> None:
            current.run_counter += 1
            record = current.cells[position]
            record.run = current.run_counter
            record.outputs = [output]

        store.update(change)

    results["sidecar one-cell update"] = pair(update, json_save, repeat)
    results["sidecar load"] = pair(
        lambda: load_sidecar(sidecar, path.name), lambda: json.loads(json_text), repeat
    )

    payload = editor_payload(text)
    reference = jupytext_notebook(payload)
    results["serialize editor cells"] = pair(
        lambda: serialize_payload(payload),
        lambda: jupytext.writes(reference, fmt="py:percent"),
        repeat,
    )
    return results


def print_scaling(sizes: list[int], table: dict[int, dict[str, Measured]]) -> None:
    width = 20
    head = f"{'operation':<26}" + "".join(f"{f'{n:,} lines':>{width}}" for n in sizes)
    head += f"{'ratio growth':>14}"
    print("\nmedian ms (× its floor); ratio growth = ratio at the largest size / at the smallest")
    print(head)
    print("-" * len(head))
    for operation in OPERATIONS:
        cells = []
        for n in sizes:
            m = table[n][operation]
            ratio = f"{m.ratio:.2f}" if m.ratio is not None else "—"
            cells.append(f"{fmt(m.median, 8)} ({ratio:>6})".rjust(width))
        first, last = table[sizes[0]][operation].ratio, table[sizes[-1]][operation].ratio
        growth = f"{last / first:.2f}" if first and last else "—"
        print(f"{operation:<26}" + "".join(cells) + f"{growth:>14}")
    print("\np95 ms")
    print(f"{'operation':<26}" + "".join(f"{f'{n:,} lines':>{width}}" for n in sizes))
    for operation in OPERATIONS:
        print(f"{operation:<26}" + "".join(fmt(table[n][operation].p95, width) for n in sizes))
    print("\nfloor medians, ms")
    for operation in OPERATIONS:
        print(f"{operation:<26}" + "".join(fmt(table[n][operation].floor, width, 3) for n in sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000,50000")
    parser.add_argument("--repeat", type=int, default=0, help="samples (default: by size)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    table: dict[int, dict[str, Measured]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for lines in sizes:
            repeat = args.repeat or (20 if lines <= 1000 else 10 if lines <= 5000 else 5)
            print(f"measuring {lines:,} lines ({lines // 20:,} cells), {repeat} samples each…")
            table[lines] = measure_size(lines, repeat, Path(folder))
    print_scaling(sizes, table)


if __name__ == "__main__":
    main()
