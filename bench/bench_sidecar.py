"""Sidecar budgets (DESIGN §9): 500 cells × 10 KB save / one-cell update / load,
and one 1 MB output save. Run: ``python bench/bench_sidecar.py``.

Each case is compared with a floor measured in the same run: for writes,
writing the same number of bytes with a plain ``open().write()`` + fsync;
for loads, ``tomllib.loads`` of the same text (the parser we build on).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import Row, measure, print_table

from sessions.records import CellRecord, KernelInfo, SidecarData
from sessions.sidecar import SidecarStore, load_sidecar, save_sidecar

CELLS = 500
OUTPUT_CHARS = 10_000
REPEAT = 20
WORDS = [
    *("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"),
    *("42", "3.14", "données", "naïve", "résumé"),
]


def text_of(size: int, rng: random.Random, *, ansi: bool = False) -> str:
    """Printable output like a cell prints: lines of words and numbers."""
    lines: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        if ansi:
            line = f"\x1b[1;31m{line[:10]}\x1b[0m{line[10:]}"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size] + "\n"


def record(index: int, run: int, text: str) -> CellRecord:
    return CellRecord(
        hash=f"blake2b-128:{index:032x}",
        index=index,
        run=run,
        execution_count=run,
        started=datetime(2026, 11, 21, 10, 0, index % 60, tzinfo=UTC),
        duration=0.001 * index,
        inputs={"df": f"{max(run - 1, 0):016x}", "np": "0000000000000001"},
        provides={"model": f"{run:016x}"},
        outputs=[{"output_type": "stream", "name": "stdout", "text": text}],
        code=f"x{index} = {index}\nprint(x{index})",
    )


def notebook(rng: random.Random, *, ansi: bool = False) -> SidecarData:
    cells = [record(i, i + 1, text_of(OUTPUT_CHARS, rng, ansi=ansi)) for i in range(CELLS)]
    kernel = KernelInfo(python=sys.executable, language="python 3.11")
    return SidecarData(notebook="bench.py", run_counter=CELLS, kernel=kernel, cells=cells)


def plain_write(path: Path, raw: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())


def main() -> None:
    rng = random.Random(7)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        path = base / "bench.sessions.toml"
        floor_path = base / "floor.bin"
        data = notebook(rng)

        save = measure(lambda: save_sidecar(path, data), REPEAT)
        raw = path.read_bytes()
        floor = measure(lambda: plain_write(floor_path, raw), REPEAT)
        rows.append(
            Row(
                f"save {CELLS} cells × 10 KB ({len(raw) / 1e6:.1f} MB)",
                save,
                "≤ 150 ms",
                statistics_median(floor),
                "write+fsync of the same bytes",
            )
        )

        store = SidecarStore(path, "bench.py")
        store.load()
        counter = iter(range(10**9))

        def one_cell_update() -> None:
            step = next(counter)
            index = step % CELLS

            def change(current: SidecarData) -> None:
                current.run_counter += 1
                text = text_of(OUTPUT_CHARS, rng)
                current.cells[index] = record(index, current.run_counter, text)

            store.update(change)

        update = measure(one_cell_update, REPEAT)
        updated_raw = path.read_bytes()
        rows.append(
            Row(
                "one-cell update (SidecarStore.update)",
                update,
                "≤ 30 ms",
                statistics_median(measure(lambda: plain_write(floor_path, updated_raw), REPEAT)),
                "write+fsync of the same bytes",
            )
        )

        text = path.read_text(encoding="utf-8")
        load = measure(lambda: load_sidecar(path, "bench.py"), REPEAT)
        rows.append(
            Row(
                f"load {CELLS} cells × 10 KB",
                load,
                "≤ 300 ms",
                statistics_median(measure(lambda: tomllib.loads(text), REPEAT)),
                "tomllib.loads of the same text",
            )
        )
        cached = measure(store.load, REPEAT)
        rows.append(Row("SidecarStore.load, file unchanged", cached, "(none)"))

        ansi_path = base / "ansi.sessions.toml"
        save_sidecar(ansi_path, notebook(rng, ansi=True))
        ansi_text = ansi_path.read_text(encoding="utf-8")
        ansi_load = measure(lambda: load_sidecar(ansi_path, "bench.py"), REPEAT)
        rows.append(
            Row(
                "load, every line ANSI-coloured",
                ansi_load,
                "(none)",
                statistics_median(measure(lambda: tomllib.loads(ansi_text), REPEAT)),
                "tomllib.loads of the same text",
            )
        )

        big_path = base / "big.sessions.toml"
        big = SidecarData(
            notebook="bench.py", run_counter=1, cells=[record(0, 1, text_of(1_000_000, rng))]
        )
        big_save = measure(lambda: save_sidecar(big_path, big), REPEAT)
        big_raw = big_path.read_bytes()
        rows.append(
            Row(
                "save one 1 MB output",
                big_save,
                "≤ 100 ms",
                statistics_median(measure(lambda: plain_write(floor_path, big_raw), REPEAT)),
                "write+fsync of the same bytes",
            )
        )

    print_table(f"sidecar ({REPEAT} runs each)", rows)


def statistics_median(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


if __name__ == "__main__":
    main()
