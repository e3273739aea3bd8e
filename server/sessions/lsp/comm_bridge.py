"""The comm bridge of one notebook: the kernel's comm messages to the client
as ``sessions/comm`` notifications, the client's back to the kernel, and a
widget's value change from the UI turned into staleness — or a re-run of
what reads it (docs/protocol.md, "Widgets").

A loop that sets a progress bar 10,000 times sends 10,000 comm messages.
They are coalesced the way display updates are: consecutive ``update``
messages of one comm within a batch (at most every 50 ms) become one whose
state is the union, last value winning — the client ends with the same
state, the server keeps answering requests in between. An update is never
merged across a comm opened after it (it may refer to that comm), nor one
that carries binary buffers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from sessions.kernel.comms import CommEvent
from sessions.kernel.errors import KernelDeadError

if TYPE_CHECKING:
    from sessions.run.runner import KernelLike, NotebookRunner

log = logging.getLogger(__name__)

Notify = Callable[[str, Any], None]

COMM_BATCH_SECONDS = 0.05
"""How long kernel comm updates are gathered before they are sent."""

VALUE_SETTLE_SECONDS = 0.1
"""A dragged slider sends a value every few milliseconds: the dependents are
marked (and re-run) once it has been still this long."""


_NOT_VALUES = frozenset(
    {"_view_count", "msg_id", "outputs", "layout", "style", "tooltip", "tabbable", "_dom_classes"}
)
"""State keys a front end sends that are not the widget's value (a selection
widget's value travels as ``index``, an anywidget's as its own traits)."""


def _mergeable(event: CommEvent) -> bool:
    return event.kind == "msg" and event.method in ("update", "echo_update") and not event.buffers


class CommBridge:
    """Between one notebook's kernel and the client."""

    def __init__(
        self,
        uri: str,
        runner: NotebookRunner,
        notify: Notify,
        autorun: Callable[[], bool],
    ) -> None:
        self.uri = uri
        self.runner = runner
        self._notify = notify
        self._autorun = autorun
        self._pending: list[tuple[str, CommEvent]] = []
        """(kernel id, event) not sent yet, in order."""
        self._last_open = -1
        """Index in ``_pending`` of the last ``open`` (updates are not merged across it)."""
        self._flush_handle: asyncio.TimerHandle | None = None
        self._changed: set[str] = set()
        """Widget models whose value the UI changed, not acted on yet."""
        self._settle_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    # -- kernel -> client --------------------------------------------------------

    def attach(self, kernel: KernelLike) -> None:
        """Forward this kernel's comms (a new kernel replaces the previous one)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = kernel.on_comm(lambda event: self.from_kernel(kernel.kernel_id, event))

    def from_kernel(self, kernel_id: str, event: CommEvent) -> None:
        if _mergeable(event):
            merged = self._merge(kernel_id, event)
            if not merged:
                self._pending.append((kernel_id, event))
            if self._flush_handle is None:
                loop = asyncio.get_running_loop()
                self._flush_handle = loop.call_later(COMM_BATCH_SECONDS, self.flush)
            return
        self._pending.append((kernel_id, event))
        if event.kind == "open":
            self._last_open = len(self._pending) - 1
        self.flush()  # opens, closes and custom messages go at once, after what waits

    def _merge(self, kernel_id: str, event: CommEvent) -> bool:
        for position in range(len(self._pending) - 1, self._last_open, -1):
            pending_kernel, pending = self._pending[position]
            if pending.comm_id != event.comm_id:
                continue
            if pending_kernel != kernel_id or not _mergeable(pending):
                return False
            state = dict(pending.data.get("state") or {})
            state.update(event.data.get("state") or {})
            data = dict(pending.data)
            data["state"] = state
            data["buffer_paths"] = []
            if event.method == "update":
                data["method"] = "update"
            self._pending[position] = (kernel_id, CommEvent("msg", event.comm_id, data))
            return True
        return False

    def flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        pending, self._pending, self._last_open = self._pending, [], -1
        for kernel_id, event in pending:
            self._notify("sessions/comm", {"uri": self.uri, "kernel": kernel_id, **event.to_json()})

    # -- client -> kernel ---------------------------------------------------------

    def from_client(self, params: Mapping[str, Any]) -> None:
        """A ``sessions/comm`` from the client; ``ValueError`` for a malformed one."""
        event = CommEvent.from_json(params)
        kernel = self.runner.kernel
        if kernel is None or params.get("kernel") != kernel.kernel_id:
            log.info(
                "dropped a comm %s for kernel %r of %s: it is not running (now: %r)",
                event.kind,
                params.get("kernel"),
                self.uri,
                kernel.kernel_id if kernel is not None else None,
            )
            return
        try:
            kernel.send_comm(event)
        except KernelDeadError:
            log.info("dropped a comm %s for %s: the kernel is not running", event.kind, self.uri)
            return
        state = event.data.get("state")
        if event.method == "update" and isinstance(state, dict) and state.keys() - _NOT_VALUES:
            self._value_changed(event.comm_id)

    def _value_changed(self, model_id: str) -> None:
        self._changed.add(model_id)
        if self._settle_handle is not None:
            self._settle_handle.cancel()
        loop = asyncio.get_running_loop()
        self._settle_handle = loop.call_later(VALUE_SETTLE_SECONDS, self._settled)

    def _settled(self) -> None:
        self._settle_handle = None
        changed, self._changed = self._changed, set()
        self._background(self._react(changed))

    async def _react(self, model_ids: set[str]) -> None:
        changed, bound = await self.runner.widget_changed(model_ids)
        if changed and (bound or self._autorun()):
            await self.runner.run_readers_of(changed)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("reacting to a widget change in %s failed", self.uri)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the live state -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """``sessions.widgets``: every live widget model of the running kernel."""
        self.flush()  # what the client would get next is part of the state it asks for
        kernel = self.runner.kernel
        if kernel is None or kernel.state in ("dead", "stopped"):
            return {"kernel": None, "state": {}}
        return {"kernel": kernel.kernel_id, "state": kernel.comms.snapshot()}

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for handle in (self._flush_handle, self._settle_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._settle_handle = None
        self._pending.clear()
