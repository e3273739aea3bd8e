"""Sidecar budgets (DESIGN §9) for every kind of output: 500 cells × 10 KB save
(≤ 150 ms) / one-cell update (≤ 30 ms) / load (≤ 300 ms), plus one 1 MB output.

    .venv/bin/python bench/bench_sidecar.py [--repeat N]

Output kinds (``workloads.OUTPUT_KINDS``): plain text; every line
ANSI-coloured (tracebacks, coloured logs); other control characters (``\\r``
progress updates, ``\\x08``); base64 PNG images. Issue 12 measured ANSI at
713 ms to save and 1.13 s to load: the escapes each cost a TOML ``\\u``
escape, and the plain-text case alone hid it.

Floors, timed in the same rounds (``timing.interleaved``): the same records
as nbformat-style JSON (``workloads.as_json``), so the floors are what a
JSON sidecar like an ``.ipynb`` would cost: ``json.dumps`` + write + fsync
for a save or an update (a one-file store rewrites the file), and
``json.loads`` for a load — not the TOML parser we build on, which would
hide its own cost.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import Case, Row, interleaved, median, print_table
from workloads import (
    OUTPUT_KINDS,
    as_json,
    output_of,
    output_record,
    outputs_sidecar,
    write_durably,
)

from sessions.cache.records import SidecarData
from sessions.cache.sidecar import SidecarStore, load_sidecar, save_sidecar

CELLS = 500
OUTPUT_CHARS = 10_000
SAVE_FLOOR = "json.dumps + write + fsync of the same records as JSON"
LOAD_FLOOR = "json.loads of the same records as JSON"


def kind_rows(kind: str, folder: Path, repeat: int, rng: random.Random) -> list[Row]:
    data = outputs_sidecar(CELLS, kind, OUTPUT_CHARS, rng)
    path = folder / f"{kind}.sessions.toml"
    floor_path = folder / f"{kind}.floor.json"
    json_text = as_json(data)

    def json_save(current: SidecarData = data) -> None:
        write_durably(floor_path, as_json(current).encode())

    saves = interleaved(
        [Case("ours", lambda: save_sidecar(path, data)), Case("floor", json_save)], repeat
    )
    size = path.stat().st_size

    # Fresh records made up front: the update times the store, not the generator.
    updates = [
        output_record(i % CELLS, 0, output_of(kind, OUTPUT_CHARS, rng)) for i in range(repeat + 2)
    ]
    pending = iter(updates)
    store = SidecarStore(path, "bench.py")
    store.load()

    def one_cell_update() -> None:
        replacement = next(pending)

        def change(current: SidecarData) -> None:
            current.run_counter += 1
            replacement.run = replacement.execution_count = current.run_counter
            current.cells[replacement.index] = replacement

        store.update(change)

    update = interleaved([Case("ours", one_cell_update), Case("floor", json_save)], repeat)

    loads = interleaved(
        [
            Case("ours", lambda: load_sidecar(path, "bench.py")),
            Case("floor", lambda: json.loads(json_text)),
        ],
        repeat,
    )
    loaded = load_sidecar(path, "bench.py")
    assert not loaded.problems and len(loaded.data.cells) == CELLS, loaded.problems
    ratio = f"{size / len(json_text.encode()):.2f} × the JSON size"
    return [
        Row(
            f"{kind}: save {CELLS} × 10 KB ({size / 1e6:.1f} MB)",
            saves["ours"],
            "≤ 150 ms",
            median(saves["floor"]),
            SAVE_FLOOR,
            ratio,
        ),
        Row(
            f"{kind}: one-cell update (SidecarStore.update)",
            update["ours"],
            "≤ 30 ms",
            median(update["floor"]),
            SAVE_FLOOR,
        ),
        Row(
            f"{kind}: load {CELLS} × 10 KB",
            loads["ours"],
            "≤ 300 ms",
            median(loads["floor"]),
            LOAD_FLOOR,
        ),
    ]


def other_rows(folder: Path, repeat: int, rng: random.Random) -> list[Row]:
    path = folder / "plain.sessions.toml"
    store = SidecarStore(path, "bench.py")
    store.load()
    cached = interleaved([Case("cached", store.load)], repeat)
    big_path = folder / "big.sessions.toml"
    big = outputs_sidecar(1, "plain", 1_000_000, rng)
    floor_path = folder / "big.floor.json"
    big_save = interleaved(
        [
            Case("ours", lambda: save_sidecar(big_path, big)),
            Case("floor", lambda: write_durably(floor_path, as_json(big).encode())),
        ],
        repeat,
    )
    return [
        Row("SidecarStore.load, file unchanged", cached["cached"], "—"),
        Row(
            "save one 1 MB output",
            big_save["ours"],
            "≤ 100 ms",
            median(big_save["floor"]),
            SAVE_FLOOR,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in OUTPUT_KINDS:
            rows += kind_rows(kind, Path(folder), args.repeat, rng)
        rows += other_rows(Path(folder), args.repeat, rng)
    print_table(f"Sidecar ({args.repeat} samples each, interleaved with the floor)", rows)
    missed = [
        r.case
        for r in rows
        if r.budget.startswith("≤ ")
        and r.budget.endswith(" ms")
        and (m := r.median) is not None
        and m > float(r.budget[2:-3])
    ]
    print(f"\nmedians over budget: {', '.join(missed) if missed else 'none'}")


if __name__ == "__main__":
    main()
