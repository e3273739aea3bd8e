"""Staleness accuracy: the engine's predictions against re-execution on real notebooks.

    .venv/bin/python bench/bench_accuracy.py [--notebook NAME] [--edit KIND] [--jobs N] [--json]

For each notebook of ``bench/corpus`` and each of its edits (``bench/accuracy/catalogue.py``):

1. ground truth: the original is run twice and the edited notebook once by an
   independent runner (jupytext + nbclient, ``accuracy/truth.py``); a cell is
   *really affected* when its outputs or the values of the names it binds
   differ from the original run (``accuracy/score.py``); cells whose outputs
   differ between the two identical runs are nondeterministic and not counted;
2. prediction: in a scratch folder, ``sessions run NB``, then the edit, then
   ``sessions status NB --json``; a cell is *predicted stale* when its status is
   ``edited`` or ``upstream`` (or ``never-run`` for a cell that had run);
3. convergence: ``sessions run --stale NB`` once, then ``sessions status``:
   every cell must be fresh (or failing, when the edited notebook really fails
   there).

It prints a row per edit and totals with precision and recall, counted over
every cell and over "downstream only" (the cells the user did not touch), and
names the cause of every false-stale and missed cell. Targets: precision ≥ 90 %,
recall ≥ 95 % (DESIGN §4). See docs/performance.md, "Staleness accuracy".

``--held-out DIR`` judges notebooks the engine was not tuned on instead: the
``# %%`` scripts under DIR (scikit-learn's sdist has 180+ in ``examples/``,
matplotlib's 370+ in ``galleries/``) and its ``.ipynb`` notebooks, converted
with jupytext as the corpus's were (statsmodels' sdist has 80 in
``examples/notebooks/``), that run offline within ``--max-seconds``, a fixed
sample of ``--limit`` of them, each with edits derived by rule
(``accuracy/generated.py``). Files the corpus was taken from are left out.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import engine, truth
from accuracy.catalogue import CASES
from accuracy.cells import Chunk, first_code_line, identified, start_lines
from accuracy.edits import Case, Edit, EditError
from accuracy.generated import edits_for
from accuracy.score import (
    Verdict,
    classify,
    differing,
    functions,
    noise,
    nondeterministic,
    reachable,
    same_meaning,
)

CORPUS = Path(__file__).resolve().parent / "corpus"
STALE = {"edited", "upstream", "never-run"}
TARGET_PRECISION = 0.90
TARGET_RECALL = 0.95


@dataclass
class EditResult:
    notebook: str
    kind: str
    label: str
    cells: list[Verdict] = field(default_factory=list)
    excluded: int = 0
    converged: bool = False
    unconverged: list[str] = field(default_factory=list)
    rerun: int = 0
    needed: int = 0
    error: str = ""
    seconds: float = 0.0

    def count(self, outcome: str, downstream: bool = False) -> int:
        return sum(1 for c in self.cells if c.outcome == outcome and not (downstream and c.touched))

    def beyond(self, downstream: bool = False) -> int:
        return sum(
            1
            for c in self.cells
            if c.outcome == "false-stale" and c.beyond_static and not (downstream and c.touched)
        )


def _code(chunk: Chunk) -> str:
    return "\n".join(truth.code_cells(chunk))


def _engine_index(
    chunks: list[Chunk], statuses: list[engine.CellStatus]
) -> dict[int, engine.CellStatus]:
    """Engine cells by the position of our chunk that starts on the same line."""
    by_line: dict[int, int] = {}
    for position, (chunk, start) in enumerate(zip(chunks, start_lines(chunks), strict=True)):
        by_line.setdefault(start, position)
        by_line.setdefault(first_code_line(chunk, start), position)
    found = {}
    for status in statuses:
        position = by_line.get(status.line)
        if position is not None:
            found[position] = status
    return found


def _title(code: str) -> str:
    for line in code.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line[:40]
    return code.strip()[:40]


def evaluate_edit(
    case: Case,
    edit: Edit,
    text: str,
    data: list[Path],
    template: Path,
    first: truth.Run,
    second: truth.Run,
    folder: Path,
) -> EditResult:
    result = EditResult(case.name, edit.kind, edit.label)
    started = time.perf_counter()
    try:
        edited = edit.apply(text)
    except EditError as error:
        result.error = f"edit does not apply: {error}"
        return result
    original = {c.ident: c for c in identified(text)}
    after_run = truth.execute(edited.chunks, data)
    notebook = f"{case.name}.py"
    shutil.copytree(template, folder, symlinks=True)
    (folder / notebook).write_text(edited.text, encoding="utf-8")
    try:
        predicted = _engine_index(edited.chunks, engine.status(folder, notebook))
        report = engine.run(folder, notebook, stale=True)
        settled = _engine_index(edited.chunks, engine.status(folder, notebook))
    except (engine.EngineError, OSError) as error:
        result.error = str(error)
        return result
    codes = {c.ident: _code(c) for c in edited.chunks if c.ident is not None}
    bodies = functions(codes)
    changed_code = {
        i for i in edited.touched if not same_meaning(_code(original[i]), codes.get(i, ""))
    }
    codes_before = {i: _code(c) for i, c in original.items() if i is not None}
    # Cells are named by the engine's index where it has one, so that the
    # causes printed here and the engine's reasons speak of the same cells.
    shown = {p: (predicted[p].index if p in predicted else p) for p in range(len(edited.chunks))}
    positions = {c.ident: shown[i] for i, c in enumerate(edited.chunks) if c.ident is not None}
    why = reachable(first, after_run, codes_before, changed_code, bodies, positions)
    for position, chunk in enumerate(edited.chunks):
        code_after = _code(chunk)
        if not code_after:
            continue
        status = predicted.get(position)
        if chunk.ident is None:
            result.needed += 1
            continue
        ident = chunk.ident
        code_before = _code(original[ident])
        if ident not in first.order or ident not in after_run.states:
            continue
        if nondeterministic(first, second, ident):
            result.excluded += 1
            continue
        names = differing(first, after_run, ident, noise(first, second, ident))
        outputs_differ = first.outputs.get(ident) != after_run.outputs.get(ident)
        affected = outputs_differ or bool(names)
        touched = ident in edited.touched
        verdict = Verdict(
            ident=ident,
            index=shown[position],
            title=_title(code_after),
            status=status.status if status else "unmapped",
            reason=status.reason if status else "",
            predicted=status is not None and status.status in STALE,
            affected=affected,
            touched=touched,
        )
        classify(verdict, code_before, code_after, why)
        if affected:
            verdict.differs = (["outputs"] if outputs_differ else []) + sorted(names)
        result.cells.append(verdict)
        if affected or (touched and not same_meaning(code_before, code_after)):
            result.needed += 1
    result.rerun = len(report.ran)
    failing_for_real = {c.ident for c in edited.chunks if c.ident in after_run.errors}
    for position, chunk in enumerate(edited.chunks):
        status = settled.get(position)
        if status is None or not _code(chunk):
            continue
        if status.status == "fresh" or (
            status.status == "error" and chunk.ident in failing_for_real
        ):
            continue
        result.unconverged.append(f"{status.index}:{status.status}")
    result.converged = not result.unconverged
    result.seconds = time.perf_counter() - started
    return result


def _chosen(edit: Edit, filters: list[str] | None) -> bool:
    return filters is None or any(f == edit.kind or f in edit.label for f in filters)


def evaluate_case(case: Case, filters: list[str] | None) -> list[EditResult]:
    source = Path(case.source) if case.source else CORPUS / f"{case.name}.py.txt"
    text = source.read_text(encoding="utf-8")
    data = [CORPUS / "data" / name for name in case.data]
    edits = [e for e in case.edits if _chosen(e, filters)]
    if not edits:
        return []
    chunks = identified(text)
    first = truth.execute(chunks, data)
    second = truth.execute(chunks, data)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as folder:
        scratch = Path(folder)
        template = scratch / "template"
        try:
            engine.prepare(text, f"{case.name}.py", data, template)
        except engine.EngineError as error:
            return [EditResult(case.name, e.kind, e.label, error=str(error)) for e in edits]
        for number, edit in enumerate(edits):
            folder = scratch / f"edit-{number}"
            results.append(evaluate_edit(case, edit, text, data, template, first, second, folder))
    return results


def _ratio(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    —  "


def print_report(results: list[EditResult], seconds: float) -> None:
    print("\nStaleness accuracy: engine predictions vs re-execution (cells, all / downstream only)")
    header = (
        f"{'notebook':<36} {'edit':<9} {'pred':>4} {'real':>4} {'tp':>4} "
        f"{'false':>5} {'miss':>4} {'excl':>4} {'conv':>4} {'rerun':>9} {'s':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.error:
            print(f"{r.notebook:<36} {r.kind:<9} error: {r.error}")
            continue
        pred = r.count("tp") + r.count("false-stale")
        real = r.count("tp") + r.count("missed")
        false = f"{r.count('false-stale')}"
        print(
            f"{r.notebook:<36} {r.kind:<9} {pred:>4} {real:>4} {r.count('tp'):>4} "
            f"{false:>5} {r.count('missed'):>4} {r.excluded:>4} {'yes' if r.converged else 'NO':>4} "
            f"{f'{r.rerun}/{r.needed}':>9} {r.seconds:5.0f}"
        )
    print("\nper edit: what each edit was, false-stale (F) and missed (M) cells with their cause")
    for r in results:
        if r.error:
            continue
        print(f"  {r.notebook} [{r.kind}] {r.label}")
        for c in r.cells:
            if c.outcome in ("false-stale", "missed"):
                mark = "F" if c.outcome == "false-stale" else "M"
                scope = (
                    "beyond static" if c.beyond_static else ("" if mark == "M" else "imprecision")
                )
                detail = (
                    f"engine: {c.reason[:90]}"
                    if mark == "F"
                    else f"differs: {', '.join(c.differs[:5])}"
                )
                print(
                    f"      {mark} cell {c.index:>3} {c.title!r:<42} {c.status:<9} {c.cause}"
                    + (f" [{scope}]" if scope else "")
                )
                print(f"{'':<16}{detail}")
        if r.unconverged:
            print(f"      not fresh after run --stale: {', '.join(r.unconverged)}")
    totals(results, seconds, echo=True)


def totals(results: list[EditResult], seconds: float, echo: bool = False) -> dict[str, Any]:
    done = [r for r in results if not r.error]
    figures: dict[str, Any] = {
        "edits": len(results),
        "failed": len(results) - len(done),
        "notebooks": len({r.notebook for r in results}),
        "excluded_nondeterministic": sum(r.excluded for r in done),
        "converged": sum(r.converged for r in done),
        "rerun": sum(r.rerun for r in done),
        "needed": sum(r.needed for r in done),
        "seconds": round(seconds, 1),
    }
    for scope, downstream in (("all", False), ("downstream", True)):
        tp = sum(r.count("tp", downstream) for r in done)
        fs = sum(r.count("false-stale", downstream) for r in done)
        missed = sum(r.count("missed", downstream) for r in done)
        beyond = sum(r.beyond(downstream) for r in done)
        figures[scope] = {
            "cells": sum(len([c for c in r.cells if not (downstream and c.touched)]) for r in done),
            "predicted": tp + fs,
            "affected": tp + missed,
            "tp": tp,
            "false_stale": fs,
            "false_stale_beyond_static": beyond,
            "missed": missed,
            "precision": tp / (tp + fs) if tp + fs else None,
            "recall": tp / (tp + missed) if tp + missed else None,
            "precision_ceiling": tp / (tp + beyond) if tp + beyond else None,
        }
    if echo:
        print(
            f"\n{figures['edits']} edits on {figures['notebooks']} notebooks"
            f" ({figures['failed']} failed), {figures['excluded_nondeterministic']} nondeterministic"
            f" cell(s) excluded, {seconds:.0f} s"
        )
        for scope, title in (("all", "every cell"), ("downstream", "downstream only")):
            f = figures[scope]
            tp, fs, missed = f["tp"], f["false_stale"], f["missed"]
            print(
                f"  {title:<16} predicted {f['predicted']:>4}, really affected {f['affected']:>4}:"
                f" tp {tp}, false stale {fs} ({f['false_stale_beyond_static']} beyond static), missed {missed}"
            )
            print(
                f"  {'':<16} precision {_ratio(tp, tp + fs)} (target ≥ {TARGET_PRECISION:.0%};"
                f" ceiling {_ratio(tp, tp + f['false_stale_beyond_static']).strip()}),"
                f" recall {_ratio(tp, tp + missed)} (target ≥ {TARGET_RECALL:.0%})"
            )
        print(
            f"  converged after one run --stale: {figures['converged']} of {len(done)} edits;"
            f" cells re-run {figures['rerun']} (needed with a warm kernel: {figures['needed']})"
        )
    return figures


def _worker(args: tuple[Case, list[str] | None]) -> list[EditResult]:
    case, filters = args
    return evaluate_case(case, filters)


# What a held-out script must not do to be judged here: this machine is offline.
_NEEDS_NETWORK = re.compile(
    r"\bfetch_\w+\(|fetch_openml|urlopen|urlretrieve|\brequests\.|\bpooch\b|https?://\S+\.(?:csv|zip|gz)"
)


def _corpus_sources() -> set[str]:
    """The files the corpus was taken from, as ``folder/name.py`` or
    ``folder/name.ipynb`` (its README's sources), left out of a held-out run."""
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    found = re.finditer(r"`([\w./-]*/[\w.-]+\.(?:py|ipynb))`", readme)
    return {"/".join(m.group(1).rsplit("/", 2)[-2:]) for m in found}


def _percent_text(path: Path) -> str:
    """A held-out file's ``# %%`` text: a script as it is, a ``.ipynb`` converted
    the way the corpus's notebooks were (``jupytext --to py:percent``)."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8", errors="replace")
    import jupytext  # the bench extra's, as the independent runner's

    try:
        return str(jupytext.writes(jupytext.read(path), fmt="py:percent"))
    except Exception as error:  # an invalid notebook is left out, not fatal
        print(f"  screening {path}: not a readable notebook ({error})", file=sys.stderr)
        return ""


def _runs_offline(script: Path, seconds: float) -> bool:
    """Whether ``python script`` ends well within ``seconds`` in an empty folder."""
    with tempfile.TemporaryDirectory(prefix="bench-held-out-") as folder:
        try:
            done = subprocess.run(
                [sys.executable, str(script)],
                cwd=folder,
                env=dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore"),
                capture_output=True,
                timeout=seconds,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def held_out_cases(folder: Path, limit: int, seconds: float, jobs: int, keep: Path) -> list[Case]:
    """A fixed sample of the ``# %%`` scripts and ``.ipynb`` notebooks under
    ``folder`` that run offline in ``seconds``, outside the corpus, each with its
    rule-derived edits. Notebooks are converted to ``# %%`` text in ``keep``."""
    # Absolute: each screening run starts in an empty folder of its own, where
    # a relative path (the documented ``scikit_learn-1.9.1/examples``) is not found.
    folder = folder.resolve()
    taken = _corpus_sources()
    candidates: list[tuple[Path, Path]] = []  # (as found, its # %% text)
    paths = sorted([*folder.rglob("*.py"), *folder.rglob("*.ipynb")])
    for path in paths:
        if ".ipynb_checkpoints" in path.parts or f"{path.parent.name}/{path.name}" in taken:
            continue
        text = _percent_text(path)
        if "# %%" not in text or _NEEDS_NETWORK.search(text) or not edits_for(text):
            continue
        script = path
        if path.suffix == ".ipynb":
            script = keep / f"{len(candidates)}-{path.stem}.py"
            script.write_text(text, encoding="utf-8")
        candidates.append((path, script))
    # Shuffled with a fixed seed: the sample spans the folders, the same every run.
    random.Random(0).shuffle(candidates)
    chosen: list[Case] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for start in range(0, len(candidates), max(1, jobs)):
            batch = candidates[start : start + max(1, jobs)]
            runs = pool.map(lambda pair: _runs_offline(pair[1], seconds), batch)
            for (path, script), ok in zip(batch, runs, strict=True):
                if ok and len(chosen) < limit:
                    text = script.read_text(encoding="utf-8")
                    name = re.sub(r"\W", "_", f"{path.parent.name}_{path.stem}")
                    chosen.append(Case(name, "held-out", edits_for(text), source=str(script)))
                print(
                    f"  screening {path.relative_to(folder)}: {'taken' if ok else 'left out'}",
                    file=sys.stderr,
                )
            if len(chosen) >= limit:
                break
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--notebook", action="append", help="only notebooks whose name contains this"
    )
    parser.add_argument(
        "--edit", action="append", help="only edits of this kind (or label substring)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="notebooks evaluated in parallel")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--save", type=Path, help="also write the JSON results to this file")
    parser.add_argument(
        "--list", action="store_true", help="list the notebooks and edits, run nothing"
    )
    parser.add_argument(
        "--held-out",
        type=Path,
        metavar="DIR",
        help="judge the # %% scripts and .ipynb notebooks under DIR with rule-derived edits"
        " instead of the corpus",
    )
    parser.add_argument("--limit", type=int, default=12, help="held-out notebooks judged")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=15.0,
        help="a held-out script is judged only if it runs offline within this",
    )
    args = parser.parse_args()
    available: list[Case] = list(CASES)
    converted = Path(tempfile.mkdtemp(prefix="bench-held-out-notebooks-"))
    atexit.register(shutil.rmtree, converted, ignore_errors=True)
    if args.held_out:
        if not args.held_out.is_dir():
            sys.exit(f"--held-out {args.held_out}: no such folder")
        available = held_out_cases(
            args.held_out, args.limit, args.max_seconds, args.jobs, converted
        )
        if not available:
            sys.exit(
                f"no `# %%` script or notebook under {args.held_out} ran offline within "
                f"{args.max_seconds:g} s (each is screened with `python FILE` in an empty "
                "folder): check that their imports are installed, or raise --max-seconds"
            )
    cases = [c for c in available if not args.notebook or any(n in c.name for n in args.notebook)]
    if args.list:
        for case in cases:
            print(f"{case.name} ({case.kind})")
            for edit in case.edits:
                print(f"    {edit.kind:<9} {edit.label}")
        return
    filters = args.edit or None
    cases = [c for c in cases if any(_chosen(e, filters) for e in c.edits)]
    started = time.perf_counter()
    jobs = [(c, filters) for c in cases]
    results: list[EditResult] = []
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for part in pool.map(_worker, jobs):
                results.extend(part)
    else:
        for job in jobs:
            part = _worker(job)
            results.extend(part)
            if not args.json:
                print(f"  {job[0].name}: {len(part)} edit(s) done", file=sys.stderr)
    seconds = time.perf_counter() - started
    document = json.dumps(
        {"results": [asdict(r) for r in results], "totals": totals(results, seconds)}, indent=2
    )
    if args.save:
        args.save.write_text(document + "\n", encoding="utf-8")
    if args.json:
        print(document)
    else:
        print_report(results, seconds)


if __name__ == "__main__":
    main()
