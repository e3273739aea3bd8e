"""``sessions watch NB``: report cells going stale as the file changes; optionally run them.

The folder is watched (not the file) so every way an editor or an agent saves
is seen: in-place writes, write-to-temp-then-rename, delete-then-recreate.
Changes to the sidecar (a run from another terminal) are reported too. With
``--autorun`` (or ``sessions.onRun = "autorun"``) stale cells run as soon as
they go stale. Ctrl-C stops cleanly and shuts the kernel down.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from watchfiles import awatch

from sessions.analysis.snapshot import Snapshot, analyse
from sessions.cache.sidecar import SidecarWriteError
from sessions.cli.common import fail
from sessions.cli.progress import TerminalProgress
from sessions.cli.render import STATUS_MARK
from sessions.cli.run import summary_line
from sessions.format.files import NotebookReadError
from sessions.kernel.attached import AttachedKernel
from sessions.kernel.errors import KernelError
from sessions.run.kernel_factory import kernel_factory_for
from sessions.run.runner import NotebookRunner, RunSettings


def register(verbs: Any) -> None:
    parser = verbs.add_parser(
        "watch", help="watch a notebook: report stale cells as it changes, optionally run them"
    )
    parser.add_argument("notebook", help="the notebook .py file")
    parser.add_argument(
        "--autorun", action="store_true", help="run stale cells whenever the file changes"
    )
    parser.add_argument(
        "--python", metavar="PATH", help="interpreter for the kernel (overrides project settings)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="do not echo cell outputs")
    parser.add_argument(
        "--debounce",
        type=int,
        default=50,
        metavar="MS",
        help="wait this long for a burst of writes to settle (default 50)",
    )
    parser.set_defaults(run=run)


def changed_cells(before: Snapshot | None, after: Snapshot) -> list[int]:
    """Cells of ``after`` whose status differs from that of the same code in ``before``.

    Cells are matched by code hash, so an edited cell counts as changed. With
    no ``before`` (the first look), every cell that is not fresh counts.
    """
    if before is None:
        return [i for i, state in enumerate(after.states) if state.status != "fresh"]
    old = {
        cell.hash: state.status
        for cell, state in zip(before.notebook.cells, before.states, strict=True)
    }
    return [
        index
        for index, (cell, state) in enumerate(zip(after.notebook.cells, after.states, strict=True))
        if old.get(cell.hash) != state.status
    ]


def transitions(before: Snapshot | None, after: Snapshot) -> list[str]:
    """Human lines for cells whose status changed (see ``changed_cells``)."""
    lines: list[str] = []
    for index in changed_cells(before, after):
        cell, state = after.notebook.cells[index], after.states[index]
        reason = f" — {state.reason}" if state.reason else ""
        lines.append(
            f"{STATUS_MARK[state.status]} cell {index} {cell.display_name(40)}: {state.status}{reason}"
        )
    return lines


def newly_stale(before: Snapshot | None, after: Snapshot) -> list[int]:
    """Cells that went stale with this change: what autorun runs for.

    Edge-triggered on purpose: a cell that stays stale after a run (it raised,
    or was skipped after one that did) must not run again on every later
    event — our own sidecar writes included — or autorun would loop forever.
    """
    return [i for i in changed_cells(before, after) if after.states[i].is_stale]


def run(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    settings = RunSettings(on_run="autorun" if args.autorun else "lazy")
    try:
        return asyncio.run(_watch(path, settings, args, sys.stdout))
    except NotebookReadError as exc:
        return fail(str(exc))
    except KernelError as exc:
        return fail(str(exc))


async def _watch(path: Path, settings: RunSettings, args: argparse.Namespace, out: TextIO) -> int:
    runner = NotebookRunner(path, kernel_factory_for(path, python=args.python), settings=settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    pending: set[asyncio.Task[None]] = set()

    def on_signal() -> None:
        stop.set()
        if runner.busy:
            task = loop.create_task(runner.interrupt())
            pending.add(task)
            task.add_done_callback(pending.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    previous: Snapshot | None = None
    # A bad file fails here, with exit code 2, before anything starts. Sidecar
    # problems (a corrupt cache moved aside) are reported once, when met.
    _report_problems(runner.snapshot(), out)
    names = {path.name, runner.store.path.name}
    autorun = settings.on_run == "autorun"
    try:
        # The watcher is live once it first yields (a change, or an empty set
        # after ``rust_timeout``): only then do we read the file, so a save
        # made while the watcher was starting cannot be missed.
        async for changes in awatch(
            path.parent.resolve(),
            watch_filter=lambda _change, changed: Path(changed).name in names,
            debounce=args.debounce,
            step=10,
            rust_timeout=200,
            yield_on_timeout=True,
            stop_event=stop,
            recursive=False,
        ):
            if previous is not None and not changes:
                continue
            try:
                current = runner.snapshot()
            except NotebookReadError as exc:
                # Mid-save states (deleted, half written) are normal: wait for the next save.
                if not path.exists():
                    print(f"{path} was deleted; waiting for it to come back", file=out, flush=True)
                else:
                    print(f"sessions: {exc}; waiting for the next save", file=out, flush=True)
                continue
            _report_problems(current, out)
            if previous is None:
                stale = sum(1 for s in current.states if s.is_stale)
                print(
                    f"watching {path} ({len(current.states)} cells, {stale} stale); Ctrl-C to stop",
                    file=out,
                    flush=True,
                )
            for line in transitions(previous, current):
                print(line, file=out, flush=True)
            went_stale = newly_stale(previous, current)
            previous = current
            if autorun and went_stale and not stop.is_set():
                previous = await _autorun(runner, args, out)
    finally:
        kernel = runner.kernel
        await runner.shutdown()
    print(f"stopped; {_what_happened_to(kernel)}", file=out, flush=True)
    return 0


def _what_happened_to(kernel: object) -> str:
    if kernel is None:
        return "no kernel was running"
    if isinstance(kernel, AttachedKernel):
        return "detached from the shared kernel, which keeps running for its owner"
    return "kernel shut down"


async def _autorun(runner: NotebookRunner, args: argparse.Namespace, out: TextIO) -> Snapshot:
    snapshot = runner.snapshot()
    progress = TerminalProgress(snapshot.notebook, out=out, quiet=args.quiet)
    runner.listener = progress
    try:
        summary = await runner.run("stale")
    except SidecarWriteError as exc:
        # Keep watching: the user can fix the permissions and save again.
        print(f"sessions: {exc}; outputs not cached", file=out, flush=True)
        return _baseline_after_run(runner, snapshot, out)
    finally:
        progress.close()
    if summary.planned:
        print(summary_line(summary, runner.store.path.name), file=out, flush=True)
    return _baseline_after_run(runner, snapshot, out)


def _baseline_after_run(runner: NotebookRunner, before: Snapshot, out: TextIO) -> Snapshot:
    """What the next change is compared with: the cells the run saw, with its records.

    Not the file as it is now: a save made while the run went on (an agent
    editing the cell that runs) is still to be reported and run when its
    file event arrives, instead of being taken as already seen.
    """
    after = runner.snapshot()
    _report_problems(after, out)
    return analyse(after.path, before.notebook, after.sidecar)


def _report_problems(snapshot: Snapshot, out: TextIO) -> None:
    for problem in snapshot.problems:
        print(f"sessions: {problem}", file=out, flush=True)
