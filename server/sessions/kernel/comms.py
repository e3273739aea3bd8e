"""The kernel's comms as the server sees them: a mirror of every open comm's
state, kept from the comm messages on IOPub and from the front end's updates.

Jupyter widgets live in the kernel and in the front end at once, kept in step
by comm messages (``comm_open`` / ``comm_msg`` / ``comm_close``; target
``jupyter.widget``; the widget protocol's ``update``, ``echo_update`` and
``custom`` methods inside). The server stands between the two, so it keeps
its own copy of each model's state. That copy serves three needs:

- a front end that starts late (a renderer loads when the first widget
  output scrolls into view, a window is reloaded) asks for the whole live
  state at once instead of missing the ``comm_open`` it was not there for;
- when a cell ends, the state of the widgets its outputs show is saved with
  its record, in nbformat's widget-state shape, so the notebook shows them
  again, static, with no kernel (and ``.ipynb`` export embeds them);
- an ``Output`` widget captures what the kernel prints inside ``with out:``;
  a front end does that capture in Jupyter, here the server does (``capture``).

Binary buffers stay apart from the JSON state, under their paths, as in
nbformat (``buffers: [{path, encoding, data}]``). Pure logic: no I/O.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

WIDGET_TARGET = "jupyter.widget"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
_REFERENCE = "IPY_MODEL_"

CommEventKind = Literal["open", "msg", "close"]
BufferPath = tuple[str | int, ...]

# Output messages an Output widget captures while its ``msg_id`` is set.
_CAPTURED = frozenset({"stream", "display_data", "execute_result", "error", "clear_output"})


@dataclass(slots=True)
class CommEvent:
    """One comm message, either way: what the kernel sent or a front end sends."""

    kind: CommEventKind
    comm_id: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    buffers: list[bytes] = field(default_factory=list)
    target_name: str = ""
    """Only on ``open``."""

    @property
    def method(self) -> str:
        """The widget protocol's ``method`` (``update``, ``custom``...), or ""."""
        value = self.data.get("method")
        return value if isinstance(value, str) else ""

    def to_json(self) -> dict[str, Any]:
        """The wire shape of docs/protocol.md's ``sessions/comm`` (buffers base64)."""
        payload: dict[str, Any] = {
            "event": self.kind,
            "commId": self.comm_id,
            "data": self.data,
        }
        if self.metadata:
            payload["metadata"] = self.metadata
        if self.buffers:
            payload["buffers"] = [base64.b64encode(b).decode("ascii") for b in self.buffers]
        if self.kind == "open":
            payload["targetName"] = self.target_name
        return payload

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> CommEvent:
        """Parses a client's ``sessions/comm``; ``ValueError`` says what is wrong."""
        kind = payload.get("event")
        if kind not in ("open", "msg", "close"):
            raise ValueError(f"event must be open, msg or close, not {kind!r}")
        comm_id = payload.get("commId")
        if not isinstance(comm_id, str) or not comm_id:
            raise ValueError("commId must be a non-empty string")
        data = payload.get("data", {})
        metadata = payload.get("metadata", {})
        if not isinstance(data, dict) or not isinstance(metadata, dict):
            raise ValueError("data and metadata must be objects")
        raw_buffers = payload.get("buffers", [])
        if not isinstance(raw_buffers, list) or not all(isinstance(b, str) for b in raw_buffers):
            raise ValueError("buffers must be a list of base64 strings")
        try:
            buffers = [base64.b64decode(b, validate=True) for b in raw_buffers]
        except ValueError as error:
            raise ValueError(f"a buffer is not base64: {error}") from None
        target = payload.get("targetName", "")
        if kind == "open" and (not isinstance(target, str) or not target):
            raise ValueError("an open needs a targetName")
        return cls(kind, comm_id, data, metadata, buffers, str(target or ""))


@dataclass(slots=True)
class CommModel:
    """One open comm: for widgets, a model with its synced state."""

    comm_id: str
    target_name: str
    state: dict[str, Any]
    buffers: dict[BufferPath, bytes] = field(default_factory=dict)
    opened_by: str = ""
    """``msg_id`` of the request during which the kernel opened it (a cell's execute)."""

    @property
    def is_widget(self) -> bool:
        return self.target_name == WIDGET_TARGET

    @property
    def model_name(self) -> str:
        return str(self.state.get("_model_name", ""))

    def to_nbformat(self) -> dict[str, Any]:
        """nbformat's per-model widget state: ``{model_name, model_module,
        model_module_version, state[, buffers]}``."""
        entry: dict[str, Any] = {
            "model_name": self.state.get("_model_name", ""),
            "model_module": self.state.get("_model_module", ""),
            "model_module_version": self.state.get("_model_module_version", ""),
            "state": copy.deepcopy(self.state),
        }
        if self.buffers:
            entry["buffers"] = [
                {
                    "path": list(path),
                    "encoding": "base64",
                    "data": base64.b64encode(data).decode("ascii"),
                }
                for path, data in self.buffers.items()
            ]
        return entry


def _take_buffers(
    state: dict[str, Any], paths: object, buffers: Sequence[bytes]
) -> dict[BufferPath, bytes]:
    """The buffers of a widget message under their paths (``buffer_paths``
    point into ``state``; the values there are placeholders or absent)."""
    found: dict[BufferPath, bytes] = {}
    if not isinstance(paths, list):
        return found
    for path, buffer in zip(paths, buffers, strict=False):
        if isinstance(path, list) and path:
            found[tuple(path)] = bytes(buffer)
            _remove_at(state, path)
    return found


def _remove_at(state: dict[str, Any], path: list[Any]) -> None:
    node: Any = state
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def references(value: object) -> Iterable[str]:
    """Model ids a state value refers to (``"IPY_MODEL_<id>"`` strings, nested)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.startswith(_REFERENCE):
                yield item[len(_REFERENCE) :]
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def widget_view_ids(outputs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The model ids that display outputs show, in order."""
    ids: list[str] = []
    for output in outputs:
        data = output.get("data")
        if not isinstance(data, dict):
            continue
        view = data.get(WIDGET_VIEW_MIME)
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            ids.append(view["model_id"])
    return ids


class CommMirror:
    """Every open comm of one kernel process and its current state."""

    def __init__(self) -> None:
        self.models: dict[str, CommModel] = {}
        self._capturing: dict[str, str] = {}
        """Request ``msg_id`` -> the Output widget capturing its outputs."""

    def clear(self) -> None:
        """The kernel process is gone: so are its comms."""
        self.models.clear()
        self._capturing.clear()

    # -- updates ---------------------------------------------------------------

    def apply(self, event: CommEvent, *, parent_id: str = "") -> None:
        """Applies a comm message from either side to the mirror."""
        if event.kind == "close":
            model = self.models.pop(event.comm_id, None)
            if model is not None:
                self._forget_capture(event.comm_id)
            return
        data = event.data
        if event.kind == "open":
            state = copy.deepcopy(data.get("state", {})) if isinstance(data, dict) else {}
            if not isinstance(state, dict):
                state = {}
            buffers = _take_buffers(state, data.get("buffer_paths"), event.buffers)
            self.models[event.comm_id] = CommModel(
                event.comm_id, event.target_name, state, buffers, parent_id
            )
            self._track_capture(event.comm_id, state)
            return
        model = self.models.get(event.comm_id)
        if model is None or event.method not in ("update", "echo_update"):
            return  # custom messages carry no state
        changes = data.get("state", {})
        if not isinstance(changes, dict):
            return
        if event.buffers:  # taking them out must not change the message itself
            changes = copy.deepcopy(changes)
            buffers = _take_buffers(changes, data.get("buffer_paths"), event.buffers)
        else:
            buffers = {}
        if model.buffers:
            model.buffers = {p: b for p, b in model.buffers.items() if p[0] not in changes}
        model.state.update(changes)  # the values are not changed in place later: no copy
        model.buffers.update(buffers)
        if "msg_id" in changes:
            self._track_capture(event.comm_id, model.state)

    def _track_capture(self, comm_id: str, state: Mapping[str, Any]) -> None:
        if state.get("_model_name") != "OutputModel":
            return
        self._forget_capture(comm_id)
        msg_id = state.get("msg_id")
        if isinstance(msg_id, str) and msg_id:
            self._capturing[msg_id] = comm_id

    def _forget_capture(self, comm_id: str) -> None:
        for msg_id in [m for m, c in self._capturing.items() if c == comm_id]:
            del self._capturing[msg_id]

    # -- the Output widget -----------------------------------------------------

    def captures(self, parent_id: str) -> bool:
        """Whether an Output widget captures the outputs of request ``parent_id``."""
        return parent_id in self._capturing

    def capture(self, parent_id: str, msg_type: str, output: Mapping[str, Any]) -> CommEvent | None:
        """If an Output widget captures the outputs of request ``parent_id``,
        adds ``output`` to it and returns the ``update`` that says so (to send
        to the kernel and the front end alike); else None, and the output is
        the request's own."""
        comm_id = self._capturing.get(parent_id)
        if comm_id is None or msg_type not in _CAPTURED:
            return None
        model = self.models[comm_id]
        outputs = list(model.state.get("outputs") or [])
        if output.get("output_type") == "clear_output":
            outputs = []
        elif (
            output.get("output_type") == "stream"
            and outputs
            and outputs[-1].get("output_type") == "stream"
            and outputs[-1].get("name") == output.get("name")
        ):
            last = dict(outputs[-1])
            last["text"] = str(last.get("text", "")) + str(output.get("text", ""))
            outputs[-1] = last
        else:
            kept = {k: v for k, v in output.items() if k != "transient"}
            outputs.append(kept)
        event = CommEvent("msg", comm_id, {"method": "update", "state": {"outputs": outputs}})
        self.apply(event)
        return event

    # -- reading -----------------------------------------------------------------

    def widget_state(self, model_ids: Iterable[str]) -> dict[str, Any]:
        """nbformat's ``application/vnd.jupyter.widget-state+json`` for the
        given models and every model they refer to, as they are now."""
        state: dict[str, Any] = {}
        stack = list(model_ids)
        while stack:
            model_id = stack.pop()
            if model_id in state:
                continue
            model = self.models.get(model_id)
            if model is None or not model.is_widget:
                continue
            state[model_id] = model.to_nbformat()
            stack.extend(references(model.state))
        return {"version_major": 2, "version_minor": 0, "state": state}

    def snapshot(self) -> dict[str, Any]:
        """Every live widget model, in nbformat's per-model shape."""
        return {
            comm_id: model.to_nbformat()
            for comm_id, model in self.models.items()
            if model.is_widget
        }

    def opened_during(self, msg_id: str) -> list[str]:
        """Widget models the kernel opened while answering request ``msg_id``."""
        return [
            comm_id
            for comm_id, model in self.models.items()
            if model.opened_by == msg_id and model.is_widget
        ]


def with_widget_state(outputs: list[dict[str, Any]], comms: CommMirror) -> list[dict[str, Any]]:
    """``outputs`` with each widget view's state (the model and what it refers
    to, as it is now) in its metadata under ``WIDGET_STATE_MIME``: what shows
    the widget again, static, once the kernel is gone."""
    for output in outputs:
        model_ids = widget_view_ids([output])
        if not model_ids:
            continue
        state = comms.widget_state(model_ids)
        if state["state"]:
            metadata = dict(output.get("metadata") or {})
            metadata[WIDGET_STATE_MIME] = state
            output["metadata"] = metadata
    return outputs
