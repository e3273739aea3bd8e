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

from ..engine import NotebookReadError, Snapshot
from ..kernel.errors import KernelError
from ..kernel_factory import kernel_factory_for
from ..runner import NotebookRunner, RunSettings
from .common import fail
from .progress import TerminalProgress
from .render import STATUS_MARK


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


def transitions(before: Snapshot | None, after: Snapshot) -> list[str]:
    """Human lines for cells whose status changed (matched by position and hash)."""
    lines: list[str] = []
    old = {}
    if before is not None:
        old = {
            cell.hash: state.status
            for cell, state in zip(before.notebook.cells, before.states, strict=True)
        }
    for index, (cell, state) in enumerate(zip(after.notebook.cells, after.states, strict=True)):
        previous = old.get(cell.hash)
        if before is not None and previous == state.status:
            continue
        if before is None and state.status == "fresh":
            continue
        reason = f" — {state.reason}" if state.reason else ""
        lines.append(
            f"{STATUS_MARK[state.status]} cell {index} {cell.display_name(40)}: {state.status}{reason}"
        )
    return lines


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
    previous: Snapshot = runner.snapshot()
    stale = sum(1 for s in previous.states if s.is_stale)
    print(
        f"watching {path} ({len(previous.states)} cells, {stale} stale); Ctrl-C to stop",
        file=out,
        flush=True,
    )
    for line in transitions(None, previous):
        print(line, file=out, flush=True)
    names = {path.name, runner.store.path.name}
    try:
        if settings.on_run == "autorun" and stale:
            previous = await _autorun(runner, args, out)
        async for _changes in awatch(
            path.parent.resolve(),
            watch_filter=lambda _change, changed: Path(changed).name in names,
            debounce=args.debounce,
            step=10,
            stop_event=stop,
            recursive=False,
        ):
            try:
                current = runner.snapshot()
            except NotebookReadError:
                if not path.exists():
                    print(f"{path} was deleted; waiting for it to come back", file=out, flush=True)
                    continue
                raise
            for line in transitions(previous, current):
                print(line, file=out, flush=True)
            previous = current
            if (
                settings.on_run == "autorun"
                and any(s.is_stale for s in current.states)
                and not stop.is_set()
            ):
                previous = await _autorun(runner, args, out)
    finally:
        await runner.shutdown()
    print("stopped; kernel shut down", file=out, flush=True)
    return 0


async def _autorun(runner: NotebookRunner, args: argparse.Namespace, out: TextIO) -> Snapshot:
    snapshot = runner.snapshot()
    progress = TerminalProgress(snapshot.notebook, out=out, quiet=args.quiet)
    runner.listener = progress
    try:
        await runner.run("stale")
    finally:
        progress.close()
    return runner.snapshot()
