"""Widgets as inputs, at the runner on a real kernel: which names hold which
widget, what a value change marks, and a change during a re-run superseding
what that run has not started."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sessions.kernel.comms import CommEvent
from sessions.run.kernel_factory import kernel_factory_for
from sessions.run.runner import NotebookRunner, RunSettings

pytestmark = [pytest.mark.kernel]

NOTEBOOK = """\
# %% make
import time
import ipywidgets as widgets
knob = widgets.IntSlider(value=2)
alias = knob
unnamed = [widgets.IntSlider()]
knob

# %% slow reader
time.sleep(float(knob.value) / 4)
seen = knob.value

# %% after
print("seen", seen)
"""


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[NotebookRunner]:
    path = tmp_path / "w.py"
    path.write_text(NOTEBOOK)
    made = NotebookRunner(
        path, kernel_factory_for(path, python=sys.executable), settings=RunSettings()
    )
    yield made
    await made.shutdown()


def statuses(runner: NotebookRunner) -> list[str]:
    return [s.status for s in runner.snapshot().states]


def set_value(runner: NotebookRunner, model_id: str, value: int) -> None:
    assert runner.kernel is not None
    runner.kernel.send_comm(
        CommEvent("msg", model_id, {"method": "update", "state": {"value": value}})
    )


async def test_names_value_changes_and_superseded_reruns(runner: NotebookRunner) -> None:
    assert (await runner.run("all")).ok
    # Both names of the slider are known; the one in a list has no name.
    [(model_id, binding)] = [(m, b) for m, b in runner.widgets.items()]
    assert binding.names == ("knob", "alias") and binding.cell == 0 and not binding.bound

    set_value(runner, model_id, 8)
    changed, bound = await runner.widget_changed([model_id])
    assert changed == {0: frozenset({"knob", "alias"})} and not bound
    assert statuses(runner) == ["fresh", "upstream", "upstream"]
    assert "widget `knob` of cell 0" in runner.snapshot().states[1].reason
    # The state saved with the slider's output follows the UI: a reopened
    # notebook shows 8, not the 2 the cell left it at.
    record = runner.snapshot().records[0]
    assert record is not None
    saved = record.outputs[-1]["metadata"]["application/vnd.jupyter.widget-state+json"]
    assert saved["state"][model_id]["state"]["value"] == 8

    # A re-run of the readers (2 s: the value is 8), superseded by a new change.
    first = asyncio.ensure_future(runner.run_readers_of(changed))
    await asyncio.sleep(0.5)  # the slow reader is running
    set_value(runner, model_id, 1)
    changed_again, _ = await runner.widget_changed([model_id])
    second = await runner.run_readers_of(changed_again)
    superseded = await first
    assert [o.index for o in superseded.outcomes] == [1]  # "after" was not started
    assert superseded.skipped == [2]
    assert superseded.stopped_because == "superseded by a newer change of a widget"
    assert [o.index for o in second.outcomes] == [1, 2]
    assert statuses(runner) == ["fresh", "fresh", "fresh"]
    record = runner.snapshot().records[2]
    assert record is not None and record.outputs[0]["text"] == "seen 1\n"

    # A restart forgets which names held the widgets: the new kernel has none.
    await runner.restart()
    assert runner.widgets == {}
    assert await runner.widget_changed([model_id]) == ({}, False)
