"""Notebooks, sidecars and edits the benchmarks share, and the product paths they time.

Everything here is deterministic, so every run and every benchmark measures
the same work. The product paths (:class:`TextPath`) mirror what the
language server and the CLI do, step by step, so a benchmark cannot take a
shortcut a user never gets.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_notebook import reference_notebook

from sessions.analysis import content_cache
from sessions.analysis.cell import clear_cache
from sessions.analysis.graph import build_graph
from sessions.analysis.snapshot import Snapshot, analyse
from sessions.analysis.staleness import record_versions
from sessions.cache.records import CellRecord, KernelInfo, SidecarData
from sessions.cache.sidecar import SidecarStore, save_sidecar, sidecar_path
from sessions.format.notebook import ParsedNotebook, parse
from sessions.format.reparse import parse_edit

LINES_PER_CELL = 20
"""The reference notebook's density (5,000 lines in 250 cells), kept at every size."""


def sized_reference(lines: int, tag: str = "") -> str:
    """The reference notebook generator at ``lines`` lines (``lines / 20`` cells)."""
    return reference_notebook(cells=lines // LINES_PER_CELL, target_lines=lines, tag=tag)


def clear_analysis_caches() -> None:
    """Forget every cached cell analysis, meaning and flow: the next analysis is cold."""
    clear_cache()
    for cache in list(content_cache._caches):  # the bench may reach in: it is not the product
        cache.clear()


def cell_codes(notebook: ParsedNotebook) -> list[str]:
    """The Python of every code cell (magics already turned into calls)."""
    return [cell.code for cell in notebook.cells if cell.kind == "code"]


def parse_each_cell(codes: Sequence[str]) -> None:
    """The analysis floor: the least work an analysis of these cells can do
    (the benchmarks' cells all parse)."""
    for code in codes:
        ast.parse(code)


# -- chains ---------------------------------------------------------------------


def chain_text(cells: int, *, downward: bool = False, version: int = 0) -> str:
    """``cells`` one-line cells in a dependency chain.

    Upward (the usual notebook): cell i reads what cell i-1 defines.
    Downward: cell i reads what cell i+1 defines (a notebook written bottom
    up, or cells moved around), which once made every graph walk recurse
    once per cell. ``version`` changes the chain's root cell so all others go stale.
    """
    parts: list[str] = []
    for i in range(cells):
        if downward:
            code = f"d{i} = d{i + 1} + 1" if i < cells - 1 else f"d{i} = {version}"
        else:
            code = f"v{i} = v{i - 1} + 1" if i else f"v0 = {version}"
        parts.append(f"# %% step {i}\n{code}\n\n")
    return "".join(parts)


# -- sidecar records --------------------------------------------------------------


def ran_sidecar(notebook: ParsedNotebook, name: str = "bench.py") -> SidecarData:
    """The sidecar a run of every code cell would leave, in dependency order
    (the inputs and provides the runner would record), without outputs."""
    graph = build_graph(notebook)
    records: list[CellRecord | None] = [None] * len(notebook.cells)
    run = 0
    for index in graph.topological_order:
        cell = notebook.cells[index]
        if cell.kind != "code" or graph.analyses[index] is None:
            continue
        run += 1
        record = CellRecord(hash=cell.hash, index=index, run=run, code=cell.code)
        record.inputs, record.provides = record_versions(notebook, graph, records, index)
        records[index] = record
    cells = sorted((r for r in records if r is not None), key=lambda r: r.index)
    return SidecarData(notebook=name, run_counter=run, cells=cells)


# -- edits ------------------------------------------------------------------------


def cell_index(notebook: ParsedNotebook, title: str) -> int:
    """The index of the cell whose marker line is ``# %% {title}``."""
    wanted = f"# %% {title}"
    return next(
        i for i, cell in enumerate(notebook.cells) if cell.raw.split("\n", 1)[0].rstrip() == wanted
    )


def edit_cell(text: str, notebook: ParsedNotebook, index: int, name: str, k: int) -> str:
    """``text`` with a statement appended to cell ``index`` that redefines
    ``name`` (which the cell defines) with the same value, in code distinct
    for every ``k``: a change in meaning (the engine ignores comments and
    layout), so the cell turns ``edited`` and the readers of ``name``
    ``upstream``, as a real edit does."""
    cell = notebook.cells[index]
    lines = text.splitlines(keepends=True)
    last = max(line for line in range(cell.start_line, cell.end_line) if lines[line].strip())
    statement = f"{name} = ({name}, {k})[0]\n"
    return "".join([*lines[: last + 1], statement, *lines[last + 1 :]])


class TextPath:
    """One open notebook, analysed the way the language server analyses it
    (``NotebookState._notebook_for`` and ``_analyse``): the cells the edit
    touched are parsed again and the others kept (``reparse.parse_edit``),
    the sidecar store is asked for its data (a stat when the file did not
    change), and ``snapshot.analyse`` updates the graph and the statuses from
    the last snapshot. The CLI does the same from scratch
    (``snapshot.load_snapshot``)."""

    def __init__(self, path: Path, text: str) -> None:
        self.store = SidecarStore(sidecar_path(path), path.name)
        self.path = path
        self.notebook = parse(text)
        self.text = text
        self.snapshot: Snapshot | None = None
        self.analyse(text)  # held, as the server holds it

    def analyse(self, text: str) -> Snapshot:
        notebook = parse_edit(self.text, self.notebook, text)
        self.notebook, self.text = notebook, text
        loaded = self.store.load()
        self.snapshot = analyse(self.path, notebook, loaded.data, loaded.problems, self.snapshot)
        return self.snapshot


def write_ran_sidecar(path: Path, text: str) -> None:
    """Save next to ``path`` the sidecar of a full run of ``text`` (no outputs)."""
    data = ran_sidecar(parse(text), path.name)
    save_sidecar(sidecar_path(path), data)


# -- stream-heavy cells (issue 9) -------------------------------------------------

STREAM_CELLS = {
    "20,000 flushed lines": "for i in range(20000):\n    print(i, flush=True)\n",
    "1.5 MB log, 3,000 \\r": (
        "import sys\nfor i in range(33000):\n    print('log line', i, 'x' * 30)\n"
        "sys.stdout.flush()\nfor i in range(3000):\n"
        "    print(f'\\rprogress {i}', end='', flush=True)\nprint()\n"
    ),
}
"""Two cells from real notebooks: one IOPub message per line, and a log then a
progress bar redrawn in place."""


# -- outputs of every kind ----------------------------------------------------------

WORDS = [
    *("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"),
    *("42", "3.14", "données", "naïve", "résumé"),
]

OUTPUT_KINDS = ("plain", "ansi", "control", "image")
"""Plain text; every line ANSI-coloured (tracebacks, coloured logs); other
control characters (``\\r`` progress updates, ``\\x08`` backspaces); a base64 PNG."""


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))


def output_of(kind: str, size: int, rng: random.Random) -> dict[str, Any]:
    """One nbformat output of about ``size`` characters of the given kind."""
    if kind == "image":
        # ~3/4 of the characters as random bytes: base64 of an incompressible PNG body.
        data = base64.b64encode(rng.randbytes(size * 3 // 4)).decode("ascii")
        return {
            "output_type": "display_data",
            "data": {"image/png": data, "text/plain": "<Figure size 640x480 with 1 Axes>"},
            "metadata": {},
        }
    lines: list[str] = []
    total = 0
    step = 0
    while total < size:
        line = _line(rng)
        if kind == "ansi":
            line = f"\x1b[1;31m{line[:10]}\x1b[0m{line[10:]}"
        elif kind == "control":
            # A progress bar redrawn in place, and a spinner backspacing over itself.
            step += 1
            line = f"\rprogress {step % 100:3d}% |{'#' * (step % 20):<20}|\x08\x08{line}"
        lines.append(line)
        total += len(line) + 1
    text = "\n".join(lines)[:size] + "\n"
    return {"output_type": "stream", "name": "stdout", "text": text}


def output_record(index: int, run: int, output: dict[str, Any]) -> CellRecord:
    return CellRecord(
        hash=f"blake2b-128:{index:032x}",
        index=index,
        run=run,
        execution_count=run,
        started=datetime(2026, 11, 21, 10, 0, index % 60, tzinfo=UTC),
        duration=0.001 * index,
        inputs={"df": f"{max(run - 1, 0):016x}", "np": "0000000000000001"},
        provides={"model": f"{run:016x}"},
        outputs=[output],
        code=f"x{index} = {index}\nprint(x{index})",
    )


def outputs_sidecar(cells: int, kind: str, size: int, rng: random.Random) -> SidecarData:
    """``cells`` records with one output each of ``size`` characters of ``kind``."""
    records = [output_record(i, i + 1, output_of(kind, size, rng)) for i in range(cells)]
    kernel = KernelInfo(python=sys.executable, language="python 3.11")
    return SidecarData(notebook="bench.py", run_counter=cells, kernel=kernel, cells=records)


def as_json(data: SidecarData) -> str:
    """The same records as nbformat-style JSON: the floor a JSON sidecar would cost."""
    return json.dumps(asdict(data), default=str, ensure_ascii=False)


def write_durably(path: Path, raw: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
