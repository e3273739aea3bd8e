"""Benchmarks for the pure core (DESIGN §9) on the 5,000-line reference notebook.

    .venv/bin/python bench/bench_core.py

* full analysis (parse cells + analyse every cell from a cold cache + build the
  graph) against ``ast.parse`` of the same text, measured in the same run;
* re-analysis after a one-cell edit (warm cache for the other cells);
* parse + serialize of the notebook format, and statuses for all cells.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_notebook import reference_notebook
from timing import Row, measure, print_table

from sessions.analysis import clear_cache
from sessions.graph import build_graph
from sessions.notebook import parse, serialize, set_source
from sessions.staleness import compute_statuses


def main() -> None:
    text = reference_notebook()
    notebook = parse(text)
    print(
        f"reference notebook: {text.count(chr(10))} lines, {len(notebook.cells)} cells, {len(text)} characters"
    )

    floor = measure(lambda: ast.parse(text), repeat=30)

    def full_analysis() -> None:
        clear_cache()
        build_graph(parse(text))

    full = measure(full_analysis, repeat=30)

    build_graph(notebook)  # warm the cache
    middle = len(notebook.cells) // 2
    edits = [
        set_source(notebook, middle, notebook.cells[middle].source + f"\nextra_{k} = {k}")
        for k in range(40)
    ]
    pending = iter(edits)
    reanalysis = measure(lambda: build_graph(next(pending)), repeat=30, warmup=0)

    roundtrip = measure(lambda: serialize(parse(text)), repeat=30)
    graph = build_graph(notebook)
    records = [None] * len(notebook.cells)
    statuses = measure(lambda: compute_statuses(notebook, graph, records), repeat=30)

    floor_row_ms = sorted(floor)[len(floor) // 2]
    print_table(
        "Core (ms)",
        [
            Row("ast.parse of the whole text (floor)", floor, "—"),
            Row(
                "full analysis, cold cache",
                full,
                "≤ 1.5 × floor",
                floor_row_ms,
                "ast.parse of the same text",
            ),
            Row("re-analysis after a one-cell edit", reanalysis, "≤ 5 ms"),
            Row("parse + serialize (round trip)", roundtrip, "—"),
            Row("statuses for all cells", statuses, "—"),
        ],
    )


if __name__ == "__main__":
    main()
