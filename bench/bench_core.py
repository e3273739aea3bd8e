"""Benchmarks for the pure core (DESIGN §9; issue 12), each against a floor timed
in the same rounds (``timing.interleaved``).

    .venv/bin/python bench/bench_core.py [--repeat N] [--quick]

On the 5,000-line, 250-cell reference notebook:

* full analysis from a cold cache (parse + ``build_graph``) against the least
  work an analysis can do, ``ast.parse`` of each cell's code (budget: ≤ 1.5 ×),
  and against ``ast.parse`` of the whole file (reported too);
* a one-cell edit through the text path the language server takes (new text →
  ``parse`` → ``reuse_unchanged_cells`` → sidecar store → ``snapshot.analyse``:
  graph, statuses, diagnostics; see ``workloads.TextPath``), budget ≤ 5 ms;
  the floor is splitting the text into lines plus ``ast.parse`` of the edited cell;
* statuses of every cell after that edit, against one hash comparison per cell.

Cliffs of issue 12, each a case that would have caught it:

* downward-pointing chains (each cell reads a name from the cell below) of
  400, 8,000 and 100,000 cells: analysis must not crash (it raised
  ``RecursionError`` from ~400 cells); upward chains of the same sizes beside them;
* ``run --stale`` planning on chains of 250, 2,000 and 8,000 cells whose root
  was edited (was 44 s at 8,000; target ≤ 50 ms);
* serializing cells created in an editor (no ``raw``) with
  ``notebook_json.serialize_payload`` at 5,000 and 50,000 lines, against
  ``jupytext.writes`` of the same notebook (was quadratic: 25 × at 50,000).
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import Case, Row, interleaved, median, print_table
from workloads import (
    TextPath,
    cell_codes,
    cell_index,
    chain_text,
    clear_analysis_caches,
    edit_cell,
    parse_each_cell,
    ran_sidecar,
    sized_reference,
    write_ran_sidecar,
)

from sessions.analysis.graph import build_graph
from sessions.analysis.snapshot import analyse
from sessions.analysis.staleness import compute_statuses
from sessions.cache.records import SidecarData
from sessions.format.notebook import parse, serialize
from sessions.lsp.notebook_json import parse_payload, serialize_payload
from sessions.run.plan import blocked_by_syntax_errors, plan_run

PER_CELL_FLOOR = "ast.parse of each cell's code (the least an analysis can do)"
EDIT_FLOOR = "split the text into lines + ast.parse of the edited cell"
STATUS_FLOOR = "one record-hash comparison per cell"
PLAN_FLOOR = "sorted indexes of the stale cells"
JUPYTEXT_FLOOR = "jupytext.writes(py:percent) of the same cells"


# -- the reference notebook ---------------------------------------------------------


def parse_and_visit_each_cell(codes: list[str]) -> int:
    """Parse each cell and visit every node once, doing nothing: the least a
    Python-level analysis of the trees costs (an ``ast.NodeVisitor`` costs more)."""
    nodes = 0
    for code in codes:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for _node in ast.walk(tree):
            nodes += 1
    return nodes


def full_analysis_rows(text: str, repeat: int) -> list[Row]:
    notebook = parse(text)
    codes = cell_codes(notebook)
    data = ran_sidecar(notebook)
    path = Path("reference.py")
    samples = interleaved(
        [
            Case("per-cell", lambda: parse_each_cell(codes)),
            Case("per-cell + walk", lambda: parse_and_visit_each_cell(codes)),
            Case("whole-file", lambda: ast.parse(text)),
            Case("graph", lambda: build_graph(parse(text)), before=clear_analysis_caches),
            Case(
                "analyze",
                lambda: analyse(path, parse(text), data),
                before=clear_analysis_caches,
            ),
        ],
        repeat,
    )
    floor = median(samples["per-cell"])
    whole = median(samples["whole-file"])
    assert floor is not None and whole is not None

    walk = median(samples["per-cell + walk"])
    assert walk is not None

    def vs_whole(name: str) -> str:
        value = median(samples[name])
        if value is None:
            return ""
        return f"{value / whole:.2f} × whole-file parse, {value / walk:.2f} × parse + visit"

    return [
        Row("floor: ast.parse of each cell's code", samples["per-cell"], "floor"),
        Row("ast.parse of the whole file", samples["whole-file"], "—", floor, PER_CELL_FLOOR),
        Row(
            "ast.parse + ast.walk of each cell (no work)",
            samples["per-cell + walk"],
            "—",
            floor,
            PER_CELL_FLOOR,
        ),
        Row(
            "full analysis, cold (parse + build_graph)",
            samples["graph"],
            "≤ 1.5 × floor",
            floor,
            PER_CELL_FLOOR,
            vs_whole("graph"),
        ),
        Row(
            "snapshot.analyse, cold (+ statuses, diagnostics)",
            samples["analyze"],
            "—",
            floor,
            PER_CELL_FLOOR,
            vs_whole("analyze"),
        ),
    ]


def one_cell_edit_rows(text: str, repeat: int, folder: Path) -> list[Row]:
    """Re-analysis after a one-cell edit, the way the language server does it."""
    path = folder / "reference.py"
    path.write_text(text)
    write_ran_sidecar(path, text)  # every cell fresh, so the edit turns readers upstream
    base = parse(text)
    index = cell_index(base, "Step 125")
    name = "frame_125"
    edits = [edit_cell(text, base, index, name, k) for k in range(2 * (repeat + 2) + 2)]
    pending = iter(edits)
    state = TextPath(path, text)
    edited_code = parse(edits[0]).cells[index].code
    floor_texts = iter(edits)

    def floor() -> None:
        next(floor_texts).split("\n")
        ast.parse(edited_code)

    samples = interleaved(
        [Case("edit", lambda: state.analyse(next(pending))), Case("floor", floor)], repeat
    )
    states = state.snapshot.states
    stale = sum(1 for s in states if s.is_stale)
    assert states[index].status == "edited", states[index]
    floor_ms = median(samples["floor"])

    # Statuses alone, for the notebook as edited.
    snapshot = state.snapshot
    records = snapshot.records
    cells = snapshot.notebook.cells
    status_samples = interleaved(
        [
            Case("statuses", lambda: compute_statuses(snapshot.notebook, snapshot.graph, records)),
            Case(
                "floor",
                lambda: [
                    r is not None and r.hash == c.hash for r, c in zip(records, cells, strict=True)
                ],
            ),
        ],
        repeat,
    )
    return [
        Row(
            "one-cell edit, text path (→ snapshot.analyse)",
            samples["edit"],
            "≤ 5 ms",
            floor_ms,
            EDIT_FLOOR,
            f"{stale} cells stale after it",
        ),
        Row(
            "statuses of every cell (compute_statuses)",
            status_samples["statuses"],
            "—",
            median(status_samples["floor"]),
            STATUS_FLOOR,
        ),
        Row("parse + serialize (round trip)", measure_once(lambda: serialize(parse(text))), "—"),
    ]


def measure_once(fn: Callable[[], object], repeat: int = 20) -> list[float]:
    samples = interleaved([Case("x", fn)], repeat)
    return samples["x"]


# -- cliffs -------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def chain_rows(sizes: list[int], repeat_for: Callable[[int], int]) -> list[Row]:
    """Cold ``snapshot.analyse`` (what ``sessions status`` does) of chains both ways."""
    rows: list[Row] = []
    empty = SidecarData(notebook="chain.py")
    path = Path("chain.py")
    for cells in sizes:
        for downward in (True, False):
            text = chain_text(cells, downward=downward)
            codes = cell_codes(parse(text))
            samples: list[float] = []
            floors: list[float] = []
            note = ""
            for _ in range(repeat_for(cells)):
                clear_analysis_caches()
                try:
                    samples.append(timed(lambda t=text: analyse(path, parse(t), empty)))
                except RecursionError as exc:  # the cliff itself: report it, keep going
                    note = f"CRASHED: RecursionError ({exc})"[:80]
                    samples.clear()
                    break
                floors.append(timed(lambda c=codes: parse_each_cell(c)))
            direction = "downward" if downward else "upward"
            rows.append(
                Row(
                    f"{direction} chain, {cells:,} cells: analyze, cold",
                    samples,
                    "no crash",
                    median(floors),
                    PER_CELL_FLOOR,
                    note,
                )
            )
    return rows


def plan_rows(sizes: list[int], repeat: int) -> list[Row]:
    """``run --stale`` planning after the chain's root cell was edited: every
    cell stale. Mirrors ``NotebookRunner._run_locked`` for a new kernel: a
    first plan to see whether a kernel is needed (everything counted loaded),
    the plan with nothing loaded, and the syntax-error check."""
    rows: list[Row] = []
    for cells in sizes:
        data = ran_sidecar(parse(chain_text(cells)), "chain.py")
        notebook = parse(chain_text(cells, version=1))
        snapshot = analyse(Path("chain.py"), notebook, data)
        states, graph = snapshot.states, snapshot.graph
        everything = range(len(notebook.cells))

        def plan(
            nb: Any = notebook,
            g: Any = graph,
            st: Any = states,
            all_: Any = everything,
            records: Any = snapshot.records,
        ) -> None:
            if plan_run(nb, g, st, "stale", loaded=all_):
                planned = plan_run(nb, g, st, "stale", loaded=())
                blocked_by_syntax_errors(g, planned, records)

        def floor(st: Any = states) -> None:
            sorted(i for i, s in enumerate(st) if s.is_stale)

        planned = plan_run(notebook, graph, states, "stale", loaded=())
        assert len(planned) == cells, (len(planned), cells)
        samples = interleaved([Case("plan", plan), Case("floor", floor)], repeat, warmup=1)
        budget = "≤ 50 ms" if cells >= 8000 else "linear"
        rows.append(
            Row(
                f"run --stale plan, {cells:,}-cell chain",
                samples["plan"],
                budget,
                median(samples["floor"]),
                PLAN_FLOOR,
            )
        )
    return rows


def editor_payload(text: str) -> dict[str, Any]:
    """``sessions.parse`` of ``text`` as a front end holds it after every cell
    was created in the editor: no cell has its file text (``raw``)."""
    payload = parse_payload(text)
    for cell in payload["cells"]:
        cell.pop("raw", None)
    return payload


def jupytext_notebook(payload: dict[str, Any]) -> Any:
    import nbformat

    make = {
        "code": nbformat.v4.new_code_cell,
        "markdown": nbformat.v4.new_markdown_cell,
        "raw": nbformat.v4.new_raw_cell,
    }
    cells = [make[cell["kind"]](cell["source"]) for cell in payload["cells"]]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["jupytext"] = {"formats": "py:percent"}
    return notebook


def serialize_rows(sizes: list[int], repeat_for: Callable[[int], int]) -> list[Row]:
    import jupytext

    rows: list[Row] = []
    for lines in sizes:
        payload = editor_payload(sized_reference(lines))
        notebook = jupytext_notebook(payload)
        written = serialize_payload(payload)
        assert len(parse(written).cells) == len(payload["cells"])
        samples = interleaved(
            [
                Case("ours", lambda p=payload: serialize_payload(p)),
                Case("jupytext", lambda n=notebook: jupytext.writes(n, fmt="py:percent")),
            ],
            repeat_for(lines),
            warmup=1,
        )
        rows.append(
            Row(
                f"serialize editor cells (no raw), {lines:,} lines",
                samples["ours"],
                "linear, ≈ floor",
                median(samples["jupytext"]),
                JUPYTEXT_FLOOR,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="samples per reference case")
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-cell chains")
    args = parser.parse_args()

    text = sized_reference(5000)
    notebook = parse(text)
    print(
        f"reference notebook: {text.count(chr(10))} lines, {len(notebook.cells)} cells, "
        f"{len(text)} characters"
    )
    with tempfile.TemporaryDirectory() as folder:
        rows = full_analysis_rows(text, args.repeat)
        rows += one_cell_edit_rows(text, max(args.repeat, 40), Path(folder))
    print_table("Core, 5,000-line reference notebook (ms)", rows)

    chain_sizes = [400, 8000] if args.quick else [400, 8000, 100_000]
    print_table(
        "Chains: cold analysis must not crash (ms)",
        chain_rows(chain_sizes, lambda n: 5 if n <= 400 else 3 if n <= 10_000 else 1),
    )
    print_table("run --stale planning (ms)", plan_rows([250, 2000, 8000], 10))
    print_table(
        "Serializing cells created in an editor (ms)",
        serialize_rows([5000, 50_000], lambda n: 10 if n <= 5000 else 3),
    )


if __name__ == "__main__":
    main()
