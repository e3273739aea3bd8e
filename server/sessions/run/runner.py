"""Running cells of one notebook on its kernel, and recording what they produced (DESIGN §6).

The runner owns the notebook's queue: one run at a time, in the process that
owns the kernel. For each planned cell it executes the code, streams outputs
to a listener as they arrive, and commits a record (run id, inputs, outputs)
to the sidecar when the cell ends, so staleness stays exact and another
process (an editor, a terminal) sees the result.

An error, an interrupt or a kernel death stops the chain; the cells after it
are reported as skipped. Outputs produced until then are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress, count, repeat
from pathlib import Path
from typing import Literal, Protocol, cast

from sessions.analysis.snapshot import Snapshot, analyse
from sessions.analysis.staleness import failed_versions, has_code_to_run, record_versions
from sessions.cache.identity import match_records
from sessions.cache.records import CellRecord, KernelInfo, Output, RunStatus, SidecarData
from sessions.cache.sidecar import SidecarStore, sidecar_path
from sessions.format.files import NotebookReadError, read_notebook_text
from sessions.format.notebook import ParsedNotebook, parse
from sessions.kernel.comms import CommEvent, CommMirror, with_widget_state
from sessions.run.checkpoints.checkpointer import Checkpointer, RestoreResult, SaveResult
from sessions.run.checkpoints.policy import CheckpointSettings
from sessions.run.checkpoints.settings import checkpoint_settings
from sessions.run.committer import Committer
from sessions.run.outputs import OutputAccumulator, for_storage
from sessions.run.parameters import injection, parameters_cell, undefined, with_parameters
from sessions.run.plan import PlanError, blocked_by_syntax_errors, plan_run
from sessions.run.widgets import (
    BINDINGS_CODE,
    WidgetBinding,
    mark_changed,
    parse_bindings,
    refresh_saved_state,
)

OnRun = Literal["lazy", "autorun"]


class ExecuteResultLike(Protocol):
    """How a cell's execution ended (``sessions.kernel.session.ExecuteResult``)."""

    @property
    def status(self) -> str:
        """``ok``, ``error``, ``aborted``, ``interrupted`` or ``dead``."""
        ...

    @property
    def execution_count(self) -> int | None: ...

    @property
    def msg_id(self) -> str:
        """The execute request's id (comms the cell opened name it)."""
        ...


class KernelLike(Protocol):
    """What the runner and its users need from a kernel session: a
    ``KernelSession`` or an ``AttachedKernel`` (see :mod:`sessions.kernel`)."""

    python: str
    """The interpreter the kernel runs."""
    python_reason: str
    """Why that interpreter (the setting, pyproject, ``.venv``, ...)."""
    comms: CommMirror
    """The kernel's open comms (widgets), as the server saw them."""
    kernel_id: str
    """Names the kernel process; new at each start and restart."""

    @property
    def state(self) -> str:
        """``stopped``, ``starting``, ``idle``, ``busy``, ``dead`` or ``restarting``."""
        ...

    @property
    def death_reason(self) -> str | None:
        """Why the kernel died (or could not start); None while it is healthy."""
        ...

    @property
    def language(self) -> str:
        """``"python 3.11.7"``, from the kernel's ``kernel_info`` ("" before it answered)."""
        ...

    @property
    def pid(self) -> int | None: ...

    @property
    def connection_file(self) -> Path | None: ...

    def loaded_codes(self) -> frozenset[str] | None:
        """``code_hash`` of the codes that ran in this kernel process, from any
        client; None when only this runner's own runs are known."""
        ...

    def on_state(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(state)`` on every state change; returns an unsubscribe."""
        ...

    async def execute(
        self, code: str, on_output: Callable[[Output], None], *, silent: bool = False
    ) -> ExecuteResultLike: ...

    def on_comm(self, callback: Callable[[CommEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every comm message from the kernel."""
        ...

    def send_comm(self, event: CommEvent) -> None:
        """A front end's comm message, to the kernel."""
        ...

    async def interrupt(self) -> None: ...

    async def restart(self) -> None: ...

    async def shutdown(self) -> None: ...


KernelFactory = Callable[[], Awaitable[KernelLike]]


@dataclass
class RunSettings:
    on_run: OnRun = "lazy"
    run_upstream: bool = True
    output_cap: int = 1_000_000
    stop_on_error: bool = True
    """An error stops the chain (DESIGN §6); interrupts and kernel deaths always do."""
    cell_timeout: float | None = None
    """Interrupt a cell that runs longer than this many seconds."""
    checkpoints: CheckpointSettings | None = None
    """Save cells' values after they run, restore them into a new kernel
    (docs/analysis.md); None: the notebook project's ``[tool.sessions]``."""


@dataclass
class CellOutcome:
    index: int
    record: CellRecord
    kernel_status: str
    """``ok``, ``error``, ``interrupted`` or ``dead`` (the kernel died during the cell)."""
    timed_out: bool = False
    """The cell was interrupted because it ran longer than ``RunSettings.cell_timeout``."""


@dataclass(frozen=True, slots=True)
class RestoredCell:
    """A fresh upstream cell whose values came from a checkpoint instead of a run."""

    index: int
    run: int
    """The run whose values (and outputs) these are."""
    result: RestoreResult


@dataclass
class RunSummary:
    planned: list[int]
    outcomes: list[CellOutcome] = field(default_factory=list)
    restored: list[RestoredCell] = field(default_factory=list)
    """Cells restored from checkpoints (not run; their records are unchanged)."""
    notes: list[str] = field(default_factory=list)
    """What the user should know that is not an error (a checkpoint refused, and why)."""
    parameters: dict[str, str] = field(default_factory=dict)
    """The parameters in effect for this run (injected when the parameters cell ran)."""
    skipped: list[int] = field(default_factory=list)
    stopped_because: str | None = None
    blocked: dict[int, int] = field(default_factory=dict)
    """Stale cells not run because they (or a cell they need) do not parse: cell -> broken cell."""

    @property
    def ok(self) -> bool:
        return (
            self.stopped_because is None
            and not self.blocked
            and all(o.record.status == "ok" for o in self.outcomes)
        )


class RunListener:
    """Hooks for progress displays and the language server; every method is optional."""

    def run_planned(self, plan: Sequence[int]) -> None:
        pass

    def cell_started(self, index: int, run: int, position: int, total: int) -> None:
        pass

    def cell_output(self, index: int, run: int, output: Output) -> None:
        """Every output message of a running cell, in order, as docs/protocol.md
        describes them (``clear_output`` with ``wait`` and ``update_display_data``
        included). The cell's accumulated outputs come with ``cell_finished``:
        handing them over per message would make streaming quadratic."""

    def cell_finished(self, outcome: CellOutcome) -> None:
        pass

    def cells_skipped(self, indexes: Sequence[int], reason: str) -> None:
        pass

    def cell_restored(self, index: int, restored: RestoredCell, position: int, total: int) -> None:
        """A fresh upstream cell's values were loaded from its checkpoint."""

    def checkpoint_saved(self, index: int, result: SaveResult) -> None:
        """After a cell: its checkpoint was written, or (``result.reason``) why not."""

    def checkpoint_refused(self, index: int, reason: str) -> None:
        """A checkpoint was not restored (the cell runs instead)."""

    def records_committed(self, data: SidecarData) -> None:
        pass

    def kernel_state(self, state: str, python: str) -> None:
        pass

    def comm_message(self, comms: CommMirror, event: CommEvent) -> None:
        """Every comm message from the kernel (widgets), after ``comms`` applied it."""


def kernel_died_output(detail: str = "") -> Output:
    message = "The kernel died while running this cell" + (f" ({detail})" if detail else "")
    return {
        "output_type": "error",
        "ename": "KernelDied",
        "evalue": message,
        "traceback": [
            message + ". Outputs up to this point were kept; the next run starts a new kernel."
        ],
    }


def needed_cells(
    plan: Sequence[int],
    optional: Collection[int],
    restorable: Collection[int],
    providers: Sequence[Mapping[str, int]],
) -> list[int]:
    """``plan`` without the ``optional`` cells (fresh, only there for their
    values) that no cell which will execute needs: a restored cell brings its
    values without its providers'. ``plan`` is in execution order."""
    needed = {i for i in plan if i not in optional}
    for index in reversed(plan):
        if index in needed and index not in restorable:
            needed.update(p for p in providers[index].values() if p != index)
    return [i for i in plan if i in needed]


class NotebookRunner:
    """The execution queue of one notebook file."""

    def __init__(
        self,
        path: Path,
        kernel_factory: KernelFactory,
        *,
        settings: RunSettings | None = None,
        listener: RunListener | None = None,
        read_notebook: Callable[[], ParsedNotebook] | None = None,
        store: SidecarStore | None = None,
    ) -> None:
        self.path = path
        self.settings = settings or RunSettings()
        self.listener = listener or RunListener()
        self._kernel_factory = kernel_factory
        self._read_notebook = read_notebook or (lambda: parse(read_notebook_text(path)))
        self.store = store or SidecarStore(
            sidecar_path(path), path.name, output_cap=self.settings.output_cap
        )
        self.kernel: KernelLike | None = None
        self.loaded_runs: set[int] = set()
        """Run ids produced in the current kernel process: their cells are *loaded*."""
        self._queue_lock = asyncio.Lock()
        self._kernel_lock = asyncio.Lock()
        self._cancelled = False
        self._cancel_reason = "interrupted"
        """Why the run stops at its next cell once ``_cancelled`` is set."""
        self._tasks: set[asyncio.Future[None]] = set()
        self._reacting = False
        """The run in progress re-runs the readers of changed widgets."""
        self.widgets: dict[str, WidgetBinding] = {}
        """Widget model id -> the names holding it in the current kernel process."""
        self.checkpoints = Checkpointer(path, self._checkpoint_settings())
        self.restored_runs: dict[int, RestoreResult] = {}
        """Run ids whose values the current kernel got from a checkpoint."""
        self._refused: dict[int, str] = {}
        self._parameters: tuple[int | None, dict[str, str]] = (None, {})
        """The parameters cell and what this run injects after it."""

    # -- state ------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        loaded = self.store.load()
        return analyse(self.path, self._read_notebook(), loaded.data, loaded.problems)

    def loaded_cells(self, snapshot: Snapshot) -> set[int]:
        """Cells whose current code ran in the current kernel process: by this
        runner, or — on a shared kernel — by any client (the registry's log)."""
        # Columns compared in C: a Python loop over every record and cell cost
        # about 1 ms per keystroke at 2,500 cells (the language server asks on each).
        loaded: set[int] = set()
        if self.loaded_runs:
            runs = map(getattr, snapshot.records, repeat("run"), repeat(None))
            loaded.update(compress(count(), map(self.loaded_runs.__contains__, runs)))
        codes = self._kernel_codes()
        if codes:
            notebook = snapshot.notebook
            in_kernel = map(codes.__contains__, notebook.hashes)
            code = map("code".__eq__, notebook.kinds)
            loaded.update(compress(count(), map(operator.and_, code, in_kernel)))
        return loaded

    def restored_cells(self, snapshot: Snapshot) -> dict[int, RestoreResult]:
        """Cells whose values the current kernel got from a checkpoint (and has
        not replaced by running the cell since)."""
        if not self.restored_runs:
            return {}
        # None (no record) is in no run-id dict.
        runs = cast(list[int], list(map(getattr, snapshot.records, repeat("run"), repeat(None))))
        restored = compress(count(), map(self.restored_runs.__contains__, runs))
        return {i: self.restored_runs[runs[i]] for i in restored}

    def _kernel_codes(self) -> frozenset[str] | None:
        kernel = self.kernel
        if kernel is None or kernel.state in ("dead", "stopped"):
            return None
        return kernel.loaded_codes()

    @property
    def busy(self) -> bool:
        return self._queue_lock.locked()

    # -- kernel lifecycle ---------------------------------------------------

    async def ensure_kernel(self) -> KernelLike:
        """The running kernel, started (or restarted after a death) if needed.

        Serialised: a pre-warm on open and a first run must not start two kernels.
        """
        async with self._kernel_lock:
            return await self._ensure_kernel_locked()

    async def _ensure_kernel_locked(self) -> KernelLike:
        if self.kernel is None or self.kernel.state == "dead":
            if self.kernel is not None:
                await self._quiet_shutdown(self.kernel)
            self.loaded_runs.clear()
            self.kernel = await self._kernel_factory()
            self.kernel.on_state(self._on_kernel_state)
            kernel = self.kernel
            kernel.on_comm(lambda event: self.listener.comm_message(kernel.comms, event))
            self._on_kernel_state(self.kernel.state)
        return self.kernel

    def _on_kernel_state(self, state: str) -> None:
        if state in ("restarting", "dead", "stopped"):
            self.loaded_runs.clear()  # a new process has none of the old values
            self.restored_runs.clear()
            self.widgets.clear()
        # None once ``shutdown`` let go of the kernel (its last "stopped").
        self.listener.kernel_state(state, self.kernel.python if self.kernel is not None else "")

    async def interrupt(self) -> None:
        """Stop the running cell; the rest of the queue is skipped."""
        self._cancelled, self._cancel_reason = True, "interrupted"
        if self.kernel is not None:
            await self.kernel.interrupt()

    async def restart(self) -> None:
        self._cancelled, self._cancel_reason = True, "interrupted"
        if self.kernel is not None:
            await self.kernel.restart()
        self.loaded_runs.clear()
        self.restored_runs.clear()

    async def shutdown(self) -> None:
        if self.kernel is not None:
            kernel, self.kernel = self.kernel, None
            await self._quiet_shutdown(kernel)
        self.loaded_runs.clear()
        self.restored_runs.clear()

    @staticmethod
    async def _quiet_shutdown(kernel: KernelLike) -> None:
        # A dead kernel may fail to shut down; its process group is gone anyway.
        with contextlib.suppress(Exception):
            await kernel.shutdown()

    # -- running ------------------------------------------------------------

    async def run(
        self,
        mode: str,
        cells: Sequence[int] = (),
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> RunSummary:
        """Plan and execute a run; raises ``PlanError`` for a bad request, kernel setup errors as they are.

        ``parameters`` (name -> Python literal, :mod:`sessions.run.parameters`)
        are injected after the ``parameters`` cell; None keeps those in effect,
        ``{}`` goes back to the cell's defaults. Other values than those in
        effect run the parameters cell and what depends on it."""
        async with self._queue_lock:
            self._cancelled = False
            summary = await self._run_locked(mode, cells, parameters=parameters)
            if (
                self.settings.on_run == "autorun"
                and summary.ok
                and mode != "stale"
                and summary.outcomes
            ):
                follow = await self._run_locked(
                    "stale", (), only_downstream_of=[o.index for o in summary.outcomes]
                )
                summary.outcomes += follow.outcomes
                summary.restored += follow.restored
                summary.notes += follow.notes
                summary.skipped += follow.skipped
                summary.blocked.update(follow.blocked)
                summary.stopped_because = follow.stopped_because
            return summary

    async def _run_locked(
        self,
        mode: str,
        cells: Sequence[int],
        *,
        only_downstream_of: Sequence[int] | None = None,
        within: Callable[[Snapshot], Collection[int]] | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> RunSummary:
        self.checkpoints.settings = self._checkpoint_settings()  # they may have changed
        snapshot = self.snapshot()
        forced, notes = self._use_parameters(snapshot, mode, cells, parameters)

        def planned(loaded: Collection[int]) -> list[int]:
            plan = plan_run(
                snapshot.notebook,
                snapshot.graph,
                snapshot.states,
                mode,
                cells,
                loaded=loaded,
                run_upstream=self.settings.run_upstream,
            )
            if forced - set(plan):
                plan = snapshot.graph.execution_order(set(plan) | forced)
            return plan

        if self.kernel is None and mode in ("stale", "cell"):
            # What a kernel holds decides which fresh upstream cells must run
            # again, and a shared kernel says so only once attached to; but a
            # run with nothing stale must not start a kernel to find that out.
            if not planned(range(len(snapshot.notebook.cells))):
                summary = RunSummary(planned=[], notes=notes)
                self.listener.run_planned([])
                return summary
            await self.ensure_kernel()
        loaded = self.loaded_cells(snapshot)
        plan = planned(loaded)
        if only_downstream_of is not None:
            allowed = snapshot.graph.downstream_closure(only_downstream_of)
            plan = [i for i in plan if i in allowed]
        if within is not None:
            chosen = within(snapshot)
            plan = [i for i in plan if i in chosen]
        blocked = (
            blocked_by_syntax_errors(snapshot.graph, plan, snapshot.records)
            if mode == "stale"
            else {}
        )
        if blocked:
            plan = [i for i in plan if i not in blocked]
            broken = sorted(set(blocked.values()))
            listed = ", ".join(map(str, broken))
            self.listener.cells_skipped(
                sorted(blocked),
                f"cell {listed} has a syntax error (fix it to run it and what depends on it)",
            )
        # Fresh upstream cells the kernel lacks: loaded from checkpoints where
        # there are some, and only those a running cell needs.
        reload = (
            {i for i in plan if i not in loaded and not snapshot.states[i].is_stale}
            - set(cells)
            - forced  # run for their new parameters, whatever they hold
            if mode in ("stale", "cell") and self.kernel is not None
            else set()
        )
        restorable = self._restorable(snapshot, reload)
        if restorable:
            plan = needed_cells(plan, reload, set(restorable), snapshot.graph.providers)
        summary = RunSummary(
            planned=plan, blocked=blocked, notes=notes, parameters=dict(self._parameters[1])
        )
        self.listener.run_planned(plan)
        if not plan:
            return summary
        kernel = await self.ensure_kernel()
        # (At least one id: cells a refused restore adds get theirs one by one.)
        runs = max(1, len(plan) - len(restorable))
        first_run = self.store.take_reserved(runs)  # no I/O: no thread hop
        if first_run is None:
            first_run = await asyncio.to_thread(self._reserve_run_ids, runs)
        records: list[CellRecord | None] = list(snapshot.records)
        committer = Committer(
            lambda batch: self._commit(
                snapshot.notebook,
                batch,
                KernelInfo(kernel.python, kernel.language),
                known_runs=first_run - 1,
            ),
            self.listener.records_committed,
        )
        queue = list(plan)
        done: set[int] = set()
        next_run = first_run
        position = 0
        try:
            while position < len(queue):
                index = queue[position]
                if self._cancelled:
                    summary.stopped_because = self._cancel_reason
                    summary.skipped = queue[position:]
                    break
                if index in restorable:
                    restored = await self._restore(kernel, snapshot, index, restorable[index])
                    if kernel.state == "dead":
                        summary.stopped_because = (
                            f"the kernel died while restoring the checkpoint of cell {index}"
                        )
                        summary.skipped = queue[position:]
                        break
                    if restored is not None:
                        summary.restored.append(restored)
                        self.listener.cell_restored(index, restored, position, len(queue))
                        done.add(index)
                        position += 1
                        continue
                    reason = self._refused.pop(index, "")
                    summary.notes.append(
                        f"cell {index}: checkpoint not restored ({reason}); it runs instead"
                    )
                    # It runs after all: what it needs that was left out comes first.
                    missing = [
                        i
                        for i in snapshot.graph.execution_order(
                            snapshot.graph.upstream_closure([index])
                        )
                        if i not in loaded and i not in done and i not in queue[position:]
                    ]
                    queue[position:position] = missing
                    restorable.pop(index)
                    restorable.update(self._restorable(snapshot, set(missing)))
                    continue
                if next_run >= first_run + runs:  # cells added after a refused restore
                    next_run = await asyncio.to_thread(self._reserve_run_ids, 1)
                    runs = next_run - first_run + 1
                outcome = await self._run_cell(
                    kernel, snapshot, records, index, next_run, position, len(queue)
                )
                next_run += 1
                records[index] = outcome.record
                summary.outcomes.append(outcome)
                committer.add(index, outcome.record)
                done.add(index)
                self.listener.cell_finished(outcome)
                if outcome.record.status != "ok" and (
                    self.settings.stop_on_error or outcome.kernel_status != "error"
                ):
                    summary.stopped_because = self._stop_reason(outcome)
                    summary.skipped = queue[position + 1 :]
                    break
                if outcome.kernel_status == "ok":
                    await self._save_checkpoint(kernel, snapshot, index, outcome.record)
                    if kernel.state == "dead":
                        summary.stopped_because = (
                            f"the kernel died while saving the checkpoint of cell {index}"
                        )
                        summary.skipped = queue[position + 1 :]
                        break
                position += 1
        finally:
            # Every finished cell's record is in the sidecar before the run returns.
            await committer.flush()
        summary.planned = queue
        if summary.skipped:
            self.listener.cells_skipped(summary.skipped, summary.stopped_because or "")
        return summary

    def _use_parameters(
        self,
        snapshot: Snapshot,
        mode: str,
        cells: Sequence[int],
        parameters: Mapping[str, str] | None,
    ) -> tuple[set[int], list[str]]:
        """Sets the parameters this run injects; returns the cells they force
        into the plan (the parameters cell and, for other values than those
        in effect, what depends on it) and notes for the user."""
        index = parameters_cell(snapshot.notebook)
        record = snapshot.records[index] if index is not None else None
        in_effect = dict(record.parameters) if record is not None else {}
        if parameters is None:
            self._parameters = (index, in_effect)
            return set(), []
        if index is None:
            if not parameters:
                self._parameters = (None, {})
                return set(), []
            raise PlanError(
                'no cell is tagged parameters: add tags=["parameters"] to the header of the '
                'cell with the defaults (# %% tags=["parameters"])'
            )
        self._parameters = (index, dict(parameters))
        notes = [
            f"parameter {name} is not set in the parameters cell (cell {index}); it is injected anyway"
            for name in undefined(snapshot.notebook, index, parameters)
        ]
        if dict(parameters) == in_effect or mode not in ("stale", "cell"):
            return set(), notes
        graph = snapshot.graph
        forced = {index} | set(graph.downstream_closure([index]))
        if mode == "cell":
            forced &= {index} | set(cells) | set(graph.upstream_closure(cells))
        return {i for i in forced if has_code_to_run(snapshot.notebook, graph, i)}, notes

    def _checkpoint_settings(self) -> CheckpointSettings:
        given = self.settings.checkpoints
        return given if given is not None else checkpoint_settings(self.path)

    def _restorable(self, snapshot: Snapshot, cells: Collection[int]) -> dict[int, Path]:
        """Of these fresh cells, those with a checkpoint of their current version."""
        kernel = self.kernel
        if kernel is None or not cells or not self.checkpoints.settings.restore:
            return {}
        found: dict[int, Path] = {}
        for index in cells:
            path = self.checkpoints.available(kernel, snapshot.records[index])
            if path is not None:
                found[index] = path
        return found

    async def _restore(
        self, kernel: KernelLike, snapshot: Snapshot, index: int, path: Path
    ) -> RestoredCell | None:
        record = snapshot.records[index]
        assert record is not None  # available() had a record
        try:
            result = await self.checkpoints.restore(kernel, path)
        except Exception as exc:  # the kernel died under it, say: the cell runs (or the run stops)
            result = RestoreResult(reason=f"{type(exc).__name__}: {exc}")
        if not result.ok:
            self._refused[index] = result.reason
            self.listener.checkpoint_refused(index, result.reason)
            with contextlib.suppress(OSError):
                path.unlink()  # it will never load; the cell's next run makes a new one
            return None
        self.loaded_runs.add(record.run)
        self.restored_runs[record.run] = result
        return RestoredCell(index, record.run, result)

    async def _save_checkpoint(
        self, kernel: KernelLike, snapshot: Snapshot, index: int, record: CellRecord
    ) -> None:
        if not self.checkpoints.settings.enabled:
            return
        cell = snapshot.notebook.cells[index]
        try:
            result = await self.checkpoints.save(
                kernel, record, cell.metadata, title=cell.display_name()
            )
        except Exception as exc:  # a checkpoint is an optimisation: never fail the run for it
            result = SaveResult(reason=f"{type(exc).__name__}: {exc}")
        if result.saved or result.reason:
            self.listener.checkpoint_saved(index, result)

    async def _run_cell(
        self,
        kernel: KernelLike,
        snapshot: Snapshot,
        records: Sequence[CellRecord | None],
        index: int,
        run_id: int,
        position: int,
        total: int,
    ) -> CellOutcome:
        cell = snapshot.notebook.cells[index]
        inputs, provides = record_versions(snapshot.notebook, snapshot.graph, records, index)
        code = cell.code
        parameter_cell, parameters = self._parameters
        injected = parameters if index == parameter_cell else {}
        if injected:
            code += injection(injected)
            provides = with_parameters(provides, injected)
        self.listener.cell_started(index, run_id, position, total)
        # Capped as the sidecar will cap it, so a cell that prints for hours
        # holds at most the cap per stream (and counts what it left out).
        accumulator = OutputAccumulator(cap=self.store.output_cap)

        def on_output(message: Output) -> None:
            accumulator.add(message)
            self.listener.cell_output(index, run_id, message)

        started = datetime.now(UTC).replace(microsecond=0)
        clock = time.perf_counter()
        timer: asyncio.TimerHandle | None = None
        timed_out = False
        if self.settings.cell_timeout is not None:

            def on_timeout() -> None:
                nonlocal timed_out
                timed_out = True
                self._background(kernel.interrupt())

            timer = asyncio.get_running_loop().call_later(self.settings.cell_timeout, on_timeout)
        try:
            result = await kernel.execute(code, on_output)
        finally:
            if timer is not None:
                timer.cancel()
        if timed_out:
            accumulator.add(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": f"\nInterrupted: the cell ran longer than the {self.settings.cell_timeout:g} s timeout.\n",
                }
            )
        duration = round(time.perf_counter() - clock, 4)
        kernel_status = result.status
        status: RunStatus = "ok"
        if kernel_status in ("error", "aborted"):
            status = "error"
        elif kernel_status == "interrupted":
            status = "interrupted"
        elif kernel_status == "dead":
            status = "error"
            accumulator.add(kernel_died_output(kernel.death_reason or ""))
            self.loaded_runs.clear()
        if kernel_status != "dead":
            self.loaded_runs.add(run_id)
        if kernel_status == "ok":
            await self._learn_widget_names(kernel, index, run_id, result.msg_id)
        if status != "ok":
            provides = failed_versions(provides, run_id)
        record = CellRecord(
            hash=cell.hash,
            index=index,
            run=run_id,
            status=status,
            execution_count=result.execution_count,
            started=started,
            duration=duration,
            inputs=inputs,
            provides=provides,
            outputs=with_widget_state(for_storage(accumulator.outputs), kernel.comms),
            id=cell.id,
            code=cell.code,
            parameters=dict(injected),
        )
        return CellOutcome(index, record, kernel_status, timed_out=timed_out)

    async def _learn_widget_names(
        self, kernel: KernelLike, index: int, run_id: int, msg_id: str
    ) -> None:
        """After a cell that opened widgets: which names hold which of them
        (one silent request; nothing for cells that opened none)."""
        opened = set(kernel.comms.opened_during(msg_id)) if msg_id else set()
        if not opened:
            return
        printed: list[str] = []

        def collect(output: Output) -> None:
            if output.get("output_type") == "stream":
                printed.append(str(output.get("text", "")))

        try:
            result = await kernel.execute(BINDINGS_CODE, collect, silent=True)
        except Exception:  # a dead kernel: no bindings, nothing else lost
            return
        if result.status != "ok":
            return
        for model_id, (names, bound) in parse_bindings("".join(printed)).items():
            if model_id in opened:
                self.widgets[model_id] = WidgetBinding(run_id, index, names, bound)

    async def widget_changed(
        self, model_ids: Collection[str]
    ) -> tuple[dict[int, frozenset[str]], bool]:
        """The UI changed the value of these widget models: give the names
        bound to them new keys in their cells' records (so what read them is
        stale), and bring the widget state saved with outputs up to date (so a
        reopened notebook shows what was last seen). Returns the cells whose
        names changed, with the names, and whether one of the widgets is
        bound (``sessions.bind``) to re-run its readers at once."""
        changed = {m: self.widgets[m] for m in model_ids if m in self.widgets}
        kernel = self.kernel
        for binding in changed.values():
            binding.generation += 1
        marked: list[int] = []
        refreshed = False

        def change(data: SidecarData) -> None:
            nonlocal refreshed
            marked.extend(mark_changed(data, changed))
            if kernel is not None:
                refreshed = refresh_saved_state(data, kernel.comms, model_ids)

        if not changed and kernel is None:
            return {}, False

        data = await asyncio.to_thread(self.store.update, change)
        if marked or refreshed:
            self.listener.records_committed(data)
        names: dict[int, set[str]] = {}
        by_run = {record.run: record.index for record in data.cells}
        for binding in changed.values():
            index = by_run.get(binding.run)
            if index is not None and index in marked:
                names.setdefault(index, set()).update(binding.names)
        return {i: frozenset(n) for i, n in names.items()}, any(b.bound for b in changed.values())

    async def run_readers_of(self, changed: Mapping[int, Collection[str]]) -> RunSummary:
        """Runs the stale cells that read the given names from the given cells
        (the widgets whose value changed), and the stale cells those feed —
        not the cells that created the widgets, nor their other dependents. A
        run already started this way is superseded: what it has not begun is
        skipped."""
        if self.busy and self._reacting:
            self._cancelled = True
            self._cancel_reason = "superseded by a newer change of a widget"

        def readers_and_after(snapshot: Snapshot) -> set[int]:
            graph = snapshot.graph
            readers = {
                user
                for cell, names in changed.items()
                if cell < len(graph.providers)
                for user in graph.dependents(cell)
                if any(graph.providers[user].get(name) == cell for name in names)
            }
            return (readers | graph.downstream_closure(readers)) - set(changed)

        async with self._queue_lock:
            self._cancelled = False
            self._cancel_reason = "interrupted"
            self._reacting = True
            try:
                return await self._run_locked("stale", (), within=readers_and_after)
            finally:
                self._reacting = False

    def _stop_reason(self, outcome: CellOutcome) -> str:
        index = outcome.index
        if outcome.timed_out:
            return f"cell {index} ran longer than the {self.settings.cell_timeout:g} s timeout"
        return {
            "error": f"cell {index} raised an error",
            "interrupted": f"cell {index} was interrupted",
            "dead": f"the kernel died while running cell {index}",
        }.get(outcome.kernel_status, f"cell {index} failed")

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sidecar ------------------------------------------------------------

    def _notebook_now(self, fallback: ParsedNotebook) -> ParsedNotebook:
        """The notebook as it is at write time, or ``fallback`` when it cannot
        be read (or has not changed, so records keep their indexes)."""
        try:
            current = self._read_notebook()
        except (OSError, NotebookReadError):
            return fallback
        if [c.raw for c in current.cells] == [c.raw for c in fallback.cells]:
            return fallback
        return current

    def _reserve_run_ids(self, count: int) -> int:
        """Reserve ``count`` run ids for this run; returns the first one.

        Reserving up front keeps ids unique across processes; it takes the
        sidecar's lock but writes no sidecar (``SidecarStore.reserve_run_ids``),
        so a run costs one sidecar write per batch of finished cells and no
        more (DESIGN §9: our overhead on a trivial cell).
        """
        return self.store.reserve_run_ids(count)

    def _commit(
        self,
        notebook: ParsedNotebook,
        new_records: dict[int, CellRecord],
        kernel: KernelInfo,
        *,
        known_runs: int,
    ) -> SidecarData:
        """Store new records and keep every record this run did not supersede.

        Called under the sidecar lock with what is on disk *now*: another
        process (a terminal, the editor) may have written records since this
        run started, for cells this run has never seen. The records are
        matched to the notebook as it is now; each cell keeps its newest
        record; a record that matches no cell is dropped only if it was
        already there when this run started (``known_runs``: run ids up to
        it existed then) — one written meanwhile is not ours to judge.
        """

        def change(data: SidecarData) -> None:
            current = self._notebook_now(notebook)
            cells = current.cells
            if current is notebook:
                placed_new = dict(new_records)
            else:  # the file changed during the run: find where the ran cells are now
                ordered = sorted(new_records.items())
                found = match_records([record for _, record in ordered], cells)
                placed_new = {i: record for i, record in enumerate(found) if record is not None}
            on_disk = match_records(data.cells, cells)
            placed_ids = {id(record) for record in on_disk if record is not None}
            kept: list[CellRecord] = []
            for index, disk in enumerate(on_disk):
                new = placed_new.get(index)
                record = new if disk is None or (new is not None and new.run >= disk.run) else disk
                if record is not None:
                    record.index = index
                    kept.append(record)
            kept_ids = {id(record) for record in kept}
            superseded = {
                id(record)
                for index, record in enumerate(match_records(data.cells, notebook.cells))
                if record is not None and index in new_records
            }
            for record in data.cells:
                if (
                    id(record) not in placed_ids
                    and id(record) not in kept_ids
                    and id(record) not in superseded
                    and record.run > known_runs
                ):
                    kept.append(record)  # another process's, for a cell we cannot see
            placed_new_ids = {id(record) for record in placed_new.values()}
            for index, record in new_records.items():
                if id(record) not in kept_ids and id(record) not in placed_new_ids:
                    # Its cell is gone from the file: keep it where it ran, so the
                    # outputs survive until the cell's fate is clear.
                    record.index = index
                    kept.append(record)
            kept.sort(key=lambda record: record.index)
            data.cells = kept
            data.run_counter = max([data.run_counter, *(r.run for r in new_records.values())])
            # What ran this time, not what an imported .ipynb said ("python 3.9.2").
            if kernel.python:
                data.kernel = KernelInfo(python=kernel.python, language=kernel.language)

        return self.store.update(change)
