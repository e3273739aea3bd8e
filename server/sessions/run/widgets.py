"""Widgets as inputs: which Python names hold the widgets a cell created, and
what a value change from the notebook UI does to the cells that read them.

Static analysis sees ``slider = IntSlider()`` in cell 1 and ``slider.value``
in cell 5, but not that moving the slider changes what cell 5 would compute:
the change happens in the kernel, through a comm, with no code run. So after
a cell that opened widget comms, the runner asks the kernel (one silent
request) which global names hold which widget models. When the UI changes a
model's ``value``, the key of each such name in the creating cell's record
is marked (``analysis.versions.widget_changed_key``): the cells that ran
with the old value are then ``upstream``-stale through the ordinary version
comparison — and so is everything they feed — while the creating cell stays
fresh (re-running it would put the widget back to its initial value).

A widget wrapped in ``sessions.bind(...)`` (or any widget, with the setting
``sessions.onRun = "autorun"``) re-runs those cells at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sessions.analysis.versions import widget_changed_key
from sessions.cache.records import SidecarData
from sessions.kernel.comms import WIDGET_STATE_MIME, CommMirror

BINDINGS_MARK = "\x1esessions-widget-bindings:"
"""Starts the one line of stdout the bindings request prints."""

# Run silently in the user's namespace after a cell that opened widgets: one
# expression, so it leaves no name behind. ``_sessions_bind`` is what
# ``sessions.bind`` sets (plain attribute: the kernel may not have sessions).
BINDINGS_CODE = (
    "(lambda sys, json: print("
    f"{BINDINGS_MARK!r} + json.dumps("
    "{} if 'ipywidgets' not in sys.modules else "
    "[[n, v.model_id, bool(getattr(v, '_sessions_bind', False))] "
    "for n, v in list(get_ipython().user_ns.items()) "
    "if not n.startswith('_') and isinstance(v, sys.modules['ipywidgets'].Widget) "
    "and getattr(v, 'model_id', None)])))"
    "(__import__('sys'), __import__('json'))"
)


@dataclass(slots=True)
class WidgetBinding:
    """The names that hold one widget model, and the run that created it."""

    run: int
    """Run id of the cell run during which the kernel opened the model."""
    cell: int
    """That cell's index at the time (for messages; the run id is what counts)."""
    names: tuple[str, ...]
    bound: bool
    """Wrapped in ``sessions.bind``: a value change re-runs its readers at once."""
    generation: int = 0
    """Value changes from the UI so far."""


def parse_bindings(stdout: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """model id -> (names, bound) from the bindings request's output."""
    found: dict[str, tuple[tuple[str, ...], bool]] = {}
    for line in stdout.split("\n"):  # not splitlines: it splits at the \x1e mark too
        if not line.startswith(BINDINGS_MARK):
            continue
        try:
            entries = json.loads(line[len(BINDINGS_MARK) :])
        except ValueError:
            return {}
        if not isinstance(entries, list):
            return {}
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 3):
                continue
            name, model_id, bound = entry
            if not isinstance(name, str) or not isinstance(model_id, str):
                continue
            names, was_bound = found.get(model_id, ((), False))
            found[model_id] = ((*names, name), was_bound or bool(bound))
    return found


def mark_changed(data: SidecarData, bindings: Mapping[str, WidgetBinding]) -> list[int]:
    """Gives the names of changed widgets new keys in the records of the runs
    that created them; returns the indexes of the records changed."""
    by_run: dict[int, list[WidgetBinding]] = {}
    for binding in bindings.values():
        by_run.setdefault(binding.run, []).append(binding)
    changed: list[int] = []
    for position, record in enumerate(data.cells):
        provides = dict(record.provides)
        for binding in by_run.get(record.run, ()):
            for name in binding.names:
                if name in provides:
                    provides[name] = widget_changed_key(provides[name], binding.generation)
        if provides != record.provides:
            # A new record, not the old one changed in place: a status pass
            # tells changed records from the previous text's by identity.
            data.cells[position] = dataclasses.replace(record, provides=provides)
            changed.append(record.index)
    return changed


def refresh_saved_state(data: SidecarData, comms: CommMirror, model_ids: Collection[str]) -> bool:
    """The widget state saved with outputs, brought up to date for these
    models (the UI changed them after their cell ended), so a reopened
    notebook shows them as they were last seen; whether anything changed."""
    wanted = set(model_ids)
    changed = False
    for position, record in enumerate(data.cells):
        outputs = None
        for index, output in enumerate(record.outputs):
            metadata = output.get("metadata")
            if not isinstance(metadata, dict):
                continue
            saved = metadata.get(WIDGET_STATE_MIME)
            if not isinstance(saved, dict):
                continue
            state = saved.get("state")
            if not isinstance(state, dict) or not wanted & state.keys():
                continue
            fresh = dict(state)
            for model_id in wanted & state.keys():
                model = comms.models.get(model_id)
                if model is not None:
                    fresh[model_id] = model.to_nbformat()
            if fresh == state:
                continue
            if outputs is None:
                outputs = list(record.outputs)
            outputs[index] = {
                **output,
                "metadata": {**metadata, WIDGET_STATE_MIME: {**saved, "state": fresh}},
            }
        if outputs is not None:
            data.cells[position] = dataclasses.replace(record, outputs=outputs)
            changed = True
    return changed
