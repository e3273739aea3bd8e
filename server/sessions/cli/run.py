"""``sessions run NB``: run cells headless, write the sidecar, report progress.

Exit codes: 0 every cell ran ok (or there was nothing to run), 1 a cell failed
(error, interrupt, timeout, kernel death), 2 usage or setup error (bad file,
bad cell index, missing ipykernel, an output cache that cannot be written).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from sessions.analysis.snapshot import Snapshot
from sessions.cache.sidecar import SidecarWriteError
from sessions.cli.common import add_remote_arguments, fail, print_json, remote_server_of
from sessions.cli.progress import TerminalProgress
from sessions.format.files import NotebookReadError
from sessions.kernel.errors import KernelError
from sessions.kernel.interpreter import resolve_python
from sessions.run.checkpoints.settings import checkpoint_settings
from sessions.run.kernel_factory import kernel_factory_for
from sessions.run.parameters import ParameterError, parse_pairs, read_params_file
from sessions.run.plan import PlanError
from sessions.run.runner import NotebookRunner, RunSettings, RunSummary


def register(verbs: Any) -> None:
    parser = verbs.add_parser("run", help="run cells on a Jupyter kernel and cache their outputs")
    parser.add_argument("notebook", help="the notebook .py file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--stale",
        action="store_true",
        help="run only cells that are not fresh (and what they need)",
    )
    which.add_argument(
        "--all", action="store_true", help="run every cell in file order (the default)"
    )
    which.add_argument(
        "--cell",
        type=int,
        action="append",
        metavar="N",
        help="run cell N (0-based; repeatable), after its stale or not-loaded upstream cells",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="always start a new kernel for this run"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="interrupt a cell that runs longer than S seconds",
    )
    parser.add_argument(
        "--allow-errors",
        action="store_true",
        help="keep going after a cell raises; exit 0 unless a timeout, interrupt or kernel death stops the run",
    )
    parser.add_argument(
        "--no-upstream", action="store_true", help="with --cell: do not run upstream cells first"
    )
    parameters = parser.add_mutually_exclusive_group()
    parameters.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="inject NAME = VALUE (a Python literal: 10, 0.5, True, '\"text\"') after the cell tagged parameters; repeatable",
    )
    parameters.add_argument(
        "--params-file",
        metavar="FILE",
        help="parameters from a YAML (or JSON) mapping of name: value",
    )
    parameters.add_argument(
        "--clear-params",
        action="store_true",
        help="run with the parameters cell's own defaults again",
    )
    parser.add_argument(
        "--no-restore",
        action="store_true",
        help="run fresh upstream cells the kernel lacks instead of restoring their checkpoints",
    )
    parser.add_argument(
        "--no-checkpoints",
        action="store_true",
        help="save no checkpoints in this run (docs/analysis.md, Checkpoints)",
    )
    parser.add_argument(
        "--python", metavar="PATH", help="interpreter for the kernel (overrides project settings)"
    )
    add_remote_arguments(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="do not echo cell outputs")
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary on stdout (docs/cli.md)"
    )
    parser.set_defaults(run=run)


def summary_json(
    summary: RunSummary, notebook: str, snapshot: Snapshot | None = None
) -> dict[str, Any]:
    """The ``--json`` summary; its shape is documented in docs/cli.md."""
    cells = snapshot.notebook.cells if snapshot is not None else None
    return {
        "notebook": notebook,
        "planned": summary.planned,
        "cells": [
            {
                "index": o.index,
                "name": cells[o.index].display_name() if cells is not None else "",
                "run": o.record.run,
                "status": o.record.status,
                "kernel_status": o.kernel_status,
                "timed_out": o.timed_out,
                "execution_count": o.record.execution_count,
                "duration": o.record.duration,
                "outputs": o.record.outputs,
            }
            for o in summary.outcomes
        ],
        "restored": [
            {
                "index": r.index,
                "name": cells[r.index].display_name() if cells is not None else "",
                "run": r.run,
                "names": list(r.result.restored),
                "seconds": r.result.seconds,
                "duration": r.result.duration,
            }
            for r in summary.restored
        ],
        "notes": summary.notes,
        "parameters": summary.parameters,
        "skipped": summary.skipped,
        "blocked": {str(cell): broken for cell, broken in summary.blocked.items()},
        "stopped_because": summary.stopped_because,
        "ok": summary.ok,
    }


def summary_line(summary: RunSummary, sidecar_name: str) -> str:
    """``ran 3 cell(s), 1 failed, 1 skipped; outputs cached in nb.sessions.toml``."""
    failed = sum(1 for o in summary.outcomes if o.record.status != "ok")
    note = f", {failed} failed" if failed else ""
    if summary.restored:
        note += f", {len(summary.restored)} restored from checkpoints"
    count = len(summary.skipped) + len(summary.blocked)
    skipped = f", {count} skipped" if count else ""
    return f"ran {len(summary.outcomes)} cell(s){note}{skipped}; outputs cached in {sidecar_name}"


def exit_code(summary: RunSummary, *, allow_errors: bool) -> int:
    """0 all ok; 1 a cell failed. With ``allow_errors`` errors raised by cells
    are accepted, but a timeout, an interrupt or a kernel death (which stop the
    run) still exit 1."""
    if summary.ok:
        return 0
    if allow_errors and summary.stopped_because is None:
        return 0
    return 1


def run(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    mode, cells = ("stale", []) if args.stale else ("cell", args.cell) if args.cell else ("all", [])
    settings = RunSettings(
        run_upstream=not args.no_upstream,
        stop_on_error=not args.allow_errors,
        cell_timeout=args.timeout,
        checkpoints=checkpoint_settings(
            path, restore=not args.no_restore, save=not args.no_checkpoints
        ),
    )
    try:
        parameters = _parameters(args)
    except ParameterError as exc:
        return fail(str(exc))
    try:
        return asyncio.run(_run(path, mode, cells, settings, args, parameters))
    except NotebookReadError as exc:
        return fail(str(exc))
    except PlanError as exc:
        return fail(str(exc))
    except KernelError as exc:
        return fail(str(exc))
    except SidecarWriteError as exc:
        return fail(str(exc))


def _parameters(args: argparse.Namespace) -> dict[str, str] | None:
    """What ``-p``/``--params-file``/``--clear-params`` ask for; None: those in effect."""
    if args.clear_params:
        return {}
    if args.params_file:
        return read_params_file(Path(args.params_file))
    if args.parameter:
        return parse_pairs(args.parameter)
    return None


async def _run(
    path: Path,
    mode: str,
    cells: list[int],
    settings: RunSettings,
    args: argparse.Namespace,
    parameters: dict[str, str] | None = None,
) -> int:
    server = remote_server_of(args, path)
    runner = NotebookRunner(
        path,
        kernel_factory_for(path, python=args.python, fresh=args.fresh, server=server),
        settings=settings,
    )
    snapshot = runner.snapshot()  # raises NotebookReadError for a bad file before any kernel starts
    for problem in snapshot.problems:
        print(f"sessions: {problem}", file=sys.stderr)
    ignored = resolve_python(path, setting=args.python).warning
    if ignored:
        print(f"sessions: {ignored}", file=sys.stderr)
    out = sys.stderr if args.json else sys.stdout
    progress = TerminalProgress(snapshot.notebook, out=out, quiet=args.quiet)
    runner.listener = progress
    try:
        summary = await runner.run(mode, cells, parameters=parameters)
    finally:
        progress.close()
        await runner.shutdown()
    for note in summary.notes:
        print(f"sessions: {note}", file=sys.stderr)
    if args.json:
        print_json(summary_json(summary, args.notebook, snapshot))
    elif not summary.planned:
        print(f"nothing to run: {_why_nothing(mode, cells)}", file=out)
    else:
        restored = {cell.index for cell in summary.restored}
        reloaded = [
            i for i in summary.planned if not snapshot.states[i].is_stale and i not in restored
        ]
        if mode == "stale" and reloaded:
            if len(reloaded) == 1:
                note = f"cell {reloaded[0]} was fresh but ran again: the kernel did not have its"
            else:
                listed = ", ".join(map(str, reloaded))
                note = f"cells {listed} were fresh but ran again: the kernel did not have their"
            print(f"({note} values yet)", file=out)
        print(summary_line(summary, runner.store.path.name), file=out)
    return exit_code(summary, allow_errors=args.allow_errors)


def _why_nothing(mode: str, cells: list[int]) -> str:
    if mode == "stale":
        return "every cell is fresh"
    if mode == "cell":
        listed = ", ".join(map(str, cells))
        return f"cell {listed} has no code" if len(cells) == 1 else f"cells {listed} have no code"
    return "the notebook has no code cells"
