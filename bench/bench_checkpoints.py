"""Checkpoint budget (issue 16): ``sessions run --stale`` of one edited cell in a
**fresh process** (a new kernel), on a notebook whose upstream chain takes
≥ 30 s — a sleep, a 200 MB NumPy array and a pandas frame built from it.

Budget: ≤ 2 s plus the edited cell's own time, restoring the chain from its
checkpoints. The floor, measured in the same run and interleaved with it, is
the same command with ``--no-restore``: re-running the chain, which is what
every tool without checkpoints pays. Each sample is a whole CLI process
(interpreter start, kernel start, restore, the edited cell, sidecar write);
the edited cell's own time is reported beside it.

Run: ``.venv/bin/python bench/bench_checkpoints.py [--rounds N] [--sleep S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import Row, print_table

NOTEBOOK = """\
# %% Imports
import time

import numpy as np
import pandas as pd

# %% Slow load
time.sleep({sleep})
rng = np.random.default_rng(0)
arr = rng.random(25_000_000)  # 200 MB

# %% Frame
frame = pd.DataFrame({{"x": arr[:1_000_000], "y": arr[1_000_000:2_000_000]}})
summary = frame.describe()

# %% Report
print("{word}", round(float(arr.mean()), 4), round(float(frame.x.sum()), 1))
"""


def run_stale(path: Path, env: dict[str, str], *extra: str) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sessions.cli", "run", "--stale", "--json", *extra, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"sessions run failed:\n{done.stderr}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=30.0, help="seconds the slow cell sleeps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-checkpoints-") as folder:
        root = Path(folder)
        env = dict(os.environ, SESSIONS_CHECKPOINT_DIR=str(root / "store"), NO_COLOR="1")
        env.pop("VIRTUAL_ENV", None)
        path = root / "chain.py"
        path.write_text(NOTEBOOK.format(sleep=args.sleep, word="first"))
        setup, _ = run_stale(path, env)  # runs the chain once and saves its checkpoints
        print(
            f"first run of the chain (saves the checkpoints): {setup / 1000:.1f} s", file=sys.stderr
        )
        restored: list[float] = []
        rerun: list[float] = []
        own: list[float] = []
        restored_cells: set[int] = set()
        for round_number in range(args.rounds):
            order = ("restore", "rerun") if round_number % 2 == 0 else ("rerun", "restore")
            for case in order:
                path.write_text(NOTEBOOK.format(sleep=args.sleep, word=f"{case}{round_number}"))
                extra = ("--no-restore", "--no-checkpoints") if case == "rerun" else ()
                elapsed, summary = run_stale(path, env, *extra)
                if case == "restore":
                    restored.append(elapsed)
                    restored_cells.update(int(r["index"]) for r in summary["restored"])  # type: ignore[index,union-attr,attr-defined]
                    cells = summary["cells"]
                    own.extend(float(c["duration"]) * 1000 for c in cells if c["index"] == 3)  # type: ignore[union-attr,index,attr-defined]
                else:
                    rerun.append(elapsed)
                print(f"  round {round_number} {case}: {elapsed / 1000:.2f} s", file=sys.stderr)
        floor = sorted(rerun)[len(rerun) // 2]
        edited = sorted(own)[len(own) // 2] if own else 0.0
        rows = [
            Row(
                f"run --stale, fresh process, restores cells {sorted(restored_cells)}",
                restored,
                f"≤ 2000 ms + edited cell ({edited:.0f} ms) = {2000 + edited:.0f} ms",
                floor,
                "the same run with --no-restore (the chain runs again)",
            ),
            Row("run --stale --no-restore (re-runs the chain)", rerun, "(floor)"),
        ]
        print_table(f"Checkpoints: a {args.sleep:.0f} s chain, 200 MB array + frame", rows)


if __name__ == "__main__":
    main()
