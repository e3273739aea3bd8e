"""The runner on real ipykernel kernels: modes, chains, streaming, magics, rich outputs, failures."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from sessions.cache.records import Output
from sessions.cache.sidecar import load_sidecar, sidecar_path
from sessions.run.kernel_factory import kernel_factory_for
from sessions.run.runner import CellOutcome, NotebookRunner, RunListener, RunSettings

pytestmark = pytest.mark.kernel

CHAIN = """\
# %% a
x = 1

# %% b
y = x + 1

# %% c
z = y * 10
print("z is", z)

# %% [markdown]
# the end
"""


class Recorder(RunListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.states: list[str] = []

    def cell_started(self, index: int, run: int, position: int, total: int) -> None:
        self.events.append(("started", index))

    def cell_output(self, index: int, run: int, output: Output) -> None:
        self.events.append(("output", (index, output.get("output_type"))))

    def cell_finished(self, outcome: CellOutcome) -> None:
        self.events.append(("finished", (outcome.index, outcome.record.status)))

    def cells_skipped(self, indexes: Sequence[int], reason: str) -> None:
        self.events.append(("skipped", tuple(indexes)))

    def kernel_state(self, state: str, python: str) -> None:
        self.states.append(state)


def write(tmp_path: Path, text: str, name: str = "nb.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
async def make_runner() -> AsyncIterator[object]:
    runners: list[NotebookRunner] = []

    def make(path: Path, **settings: object) -> NotebookRunner:
        runner = NotebookRunner(path, kernel_factory_for(path), settings=RunSettings(**settings))  # type: ignore[arg-type]
        runner.listener = Recorder()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        await runner.shutdown()


def statuses(runner: NotebookRunner) -> list[str]:
    return [s.status for s in runner.snapshot().states]


async def test_run_all_writes_records_and_makes_everything_fresh(
    tmp_path: Path, make_runner
) -> None:
    path = write(tmp_path, CHAIN)
    runner = make_runner(path)
    summary = await runner.run("all")
    assert summary.ok and summary.planned == [0, 1, 2]
    assert statuses(runner) == ["fresh"] * 4
    data = load_sidecar(sidecar_path(path), path.name).data
    by_index = {r.index: r for r in data.cells}
    assert by_index[2].outputs == [{"output_type": "stream", "name": "stdout", "text": "z is 20\n"}]
    assert by_index[2].inputs == {"y": by_index[1].provides["y"]}
    assert by_index[1].inputs == {"x": by_index[0].provides["x"]}
    assert len({r.run for r in data.cells}) == 3 and data.run_counter >= 3
    assert data.kernel.python


async def test_error_stops_the_chain_and_reports_skipped(tmp_path: Path, make_runner) -> None:
    path = write(tmp_path, "# %%\nx = 1\n\n# %%\nraise KeyError('boom')\n\n# %%\ny = 2\n")
    runner = make_runner(path)
    summary = await runner.run("all")
    assert not summary.ok
    assert [o.index for o in summary.outcomes] == [0, 1]
    assert summary.skipped == [2]
    assert ("skipped", (2,)) in runner.listener.events
    error = summary.outcomes[1].record.outputs[-1]
    assert error["output_type"] == "error" and error["ename"] == "KeyError"
    assert statuses(runner) == ["fresh", "error", "never-run"]
    diagnostics = [d for d in runner.snapshot().diagnostics if d.code == "run-error"]
    assert len(diagnostics) == 1 and diagnostics[0].line == 4  # the `raise` line in the file


async def test_allow_errors_keeps_going(tmp_path: Path, make_runner) -> None:
    path = write(tmp_path, "# %%\n1/0\n\n# %%\nprint('after')\n")
    runner = make_runner(path, stop_on_error=False)
    summary = await runner.run("all")
    assert [o.record.status for o in summary.outcomes] == ["error", "ok"]


async def test_run_stale_after_edit_runs_exactly_the_stale_cells(
    tmp_path: Path, make_runner
) -> None:
    path = write(tmp_path, CHAIN)
    runner = make_runner(path)
    await runner.run("all")
    path.write_text(CHAIN.replace("y = x + 1", "y = x + 2"))
    assert statuses(runner) == ["fresh", "edited", "upstream", "fresh"]
    summary = await runner.run("stale")
    assert summary.planned == [1, 2]  # cell 0 is fresh and loaded in this kernel
    assert summary.outcomes[-1].record.outputs[0]["text"] == "z is 30\n"
    assert statuses(runner) == ["fresh"] * 4
    nothing = await runner.run("stale")
    assert nothing.planned == []


async def test_new_kernel_runs_not_loaded_upstream_first(tmp_path: Path, make_runner) -> None:
    path = write(tmp_path, CHAIN)
    first = make_runner(path)
    await first.run("all")
    await first.shutdown()
    second = make_runner(path)
    summary = await second.run("cell", [2])
    assert summary.planned == [0, 1, 2]
    assert summary.ok
    third = make_runner(path, run_upstream=False)
    alone = await third.run("cell", [2])
    assert alone.planned == [2]
    assert alone.outcomes[0].record.outputs[-1]["ename"] == "NameError"


async def test_lazy_leaves_downstream_stale_and_autorun_runs_it(
    tmp_path: Path, make_runner
) -> None:
    path = write(tmp_path, CHAIN)
    lazy = make_runner(path)
    await lazy.run("all")
    await lazy.run("cell", [0])  # the same code again: nothing downstream changes
    assert statuses(lazy) == ["fresh"] * 4
    path.write_text(path.read_text().replace("x = 1", "x = 2"))
    await lazy.run("cell", [0])
    assert statuses(lazy) == ["fresh", "upstream", "upstream", "fresh"]
    await lazy.shutdown()
    auto = make_runner(path, on_run="autorun")
    await auto.run("all")
    path.write_text(path.read_text().replace("x = 2", "x = 3"))
    summary = await auto.run("cell", [0])
    assert [o.index for o in summary.outcomes] == [0, 1, 2]
    assert statuses(auto) == ["fresh"] * 4


async def test_downstream_above_below_modes(tmp_path: Path, make_runner) -> None:
    path = write(tmp_path, "# %%\na = 1\n\n# %%\nb = a\n\n# %%\nc = 3\n\n# %%\nd = b\n")
    runner = make_runner(path)
    assert (await runner.run("downstream", [0])).planned == [0, 1, 3]
    assert (await runner.run("above", [2])).planned == [0, 1]
    assert (await runner.run("below", [2])).planned == [2, 3]


async def test_outputs_stream_before_the_cell_ends(tmp_path: Path, make_runner) -> None:
    path = write(
        tmp_path,
        "# %%\nimport sys, time\nprint('one'); sys.stdout.flush(); time.sleep(0.3)\nprint('two')\n",
    )
    runner = make_runner(path)
    summary = await runner.run("all")
    events = runner.listener.events
    first_output = events.index(("output", (0, "stream")))
    assert first_output < events.index(("finished", (0, "ok")))
    assert summary.outcomes[0].record.outputs == [
        {"output_type": "stream", "name": "stdout", "text": "one\ntwo\n"}
    ]


async def test_clear_output_and_update_display(tmp_path: Path, make_runner) -> None:
    path = write(
        tmp_path,
        """\
        # %%
        from IPython.display import clear_output, display
        print("gone")
        clear_output()
        handle = display("first", display_id=True)
        handle.update("second")
        print("kept")
        """,
    )
    runner = make_runner(path)
    outputs = (await runner.run("all")).outcomes[0].record.outputs
    assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
    assert outputs[0]["data"]["text/plain"] == "'second'"
    assert outputs[1]["text"] == "kept\n"


async def test_commented_magics_run_as_magics(tmp_path: Path, make_runner) -> None:
    path = write(
        tmp_path,
        """\
        # %%
        # %%time
        total = sum(range(10))

        # %%
        # !echo from-the-shell
        # %env SESSIONS_DEMO=1
        import os
        print(os.environ["SESSIONS_DEMO"], total)
        """,
    )
    runner = make_runner(path)
    summary = await runner.run("all")
    assert summary.ok, summary.outcomes
    first = "".join(o.get("text", "") for o in summary.outcomes[0].record.outputs)
    assert "Wall time" in first
    second = "".join(o.get("text", "") for o in summary.outcomes[1].record.outputs)
    assert "from-the-shell" in second and "1 45" in second


async def test_rich_outputs_survive_in_the_sidecar(tmp_path: Path, make_runner) -> None:
    path = write(
        tmp_path,
        """\
        # %%
        # %matplotlib inline
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3], [1, 4, 9])
        plt.show()

        # %%
        class Table:
            def _repr_html_(self):
                return "<table><tr><td>1</td></tr></table>"
        Table()

        # %%
        from IPython.display import JSON
        JSON({"a": [1, 2]})
        """,
    )
    runner = make_runner(path)
    summary = await runner.run("all")
    assert summary.ok, [o.record.outputs for o in summary.outcomes]
    records = {r.index: r for r in load_sidecar(sidecar_path(path), path.name).data.cells}
    png = [o for o in records[0].outputs if "image/png" in o.get("data", {})]
    assert png and len(png[0]["data"]["image/png"]) > 1000
    assert "<table>" in records[1].outputs[0]["data"]["text/html"]
    assert records[2].outputs[0]["data"]["application/json"] == {"a": [1, 2]}


async def test_interrupt_stops_a_long_cell_and_skips_the_rest(tmp_path: Path, make_runner) -> None:
    path = write(
        tmp_path, "# %%\nimport time\nprint('before')\ntime.sleep(60)\n\n# %%\nafter = 1\n"
    )
    runner = make_runner(path)
    task = asyncio.create_task(runner.run("all"))
    while ("output", (0, "stream")) not in runner.listener.events:
        await asyncio.sleep(0.05)
    await runner.interrupt()
    summary = await asyncio.wait_for(task, 10)
    assert summary.outcomes[0].record.status == "interrupted"
    assert summary.outcomes[0].record.outputs[0]["text"] == "before\n"
    assert summary.skipped == [1]


async def test_kernel_death_is_reported_and_next_run_gets_a_new_kernel(
    tmp_path: Path, make_runner
) -> None:
    path = write(
        tmp_path,
        "# %%\nimport os, time\nprint('last words', flush=True)\n"
        # Give ipykernel's IOPub thread time to send the line: os._exit drops unsent messages.
        "time.sleep(0.5)\nos._exit(1)\n\n# %%\nok = 1\n",
    )
    runner = make_runner(path)
    summary = await asyncio.wait_for(runner.run("all"), 30)
    outcome = summary.outcomes[0]
    assert outcome.kernel_status == "dead"
    assert outcome.record.outputs[0]["text"] == "last words\n"
    assert outcome.record.outputs[-1]["ename"] == "KernelDied"
    assert summary.skipped == [1]
    assert "dead" in runner.listener.states
    again = await runner.run("cell", [1])
    assert again.ok


async def test_timeout_interrupts_the_cell(tmp_path: Path, make_runner) -> None:
    path = write(tmp_path, "# %%\nimport time\ntime.sleep(30)\n")
    runner = make_runner(path, cell_timeout=0.5)
    summary = await asyncio.wait_for(runner.run("all"), 20)
    record = summary.outcomes[0].record
    assert record.status == "interrupted"
    assert "timeout" in record.outputs[-1]["text"]
