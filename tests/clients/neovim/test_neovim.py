"""A real Neovim (headless, its built-in LSP client) attached to ``sessions lsp``.

``tests/clients/neovim/init.lua`` is the configuration docs/editors.md documents;
``tests/clients/neovim/scenario.lua`` drives it: open a notebook whose outputs were
cached by a terminal ``sessions run``, edit a cell in the buffer, read the
stale diagnostics and the code lenses, execute the "Run stale" lens's command
and the "run cell under cursor" command through Neovim's own client, and
report what Neovim saw as JSON. The test checks that report and the sidecar.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from sessions.analysis.snapshot import analyse
from sessions.cache.sidecar import load_sidecar, sidecar_path
from sessions.format.notebook import parse
from tests.support.lsp import SERVER_COMMAND, run_in_terminal, write_notebook

pytestmark = [pytest.mark.lsp, pytest.mark.kernel]

HERE = Path(__file__).parent
NVIM_TIMEOUT_S = 180

NOTEBOOK = """\
# %% load
x = 1

# %% double
y = x * 2
print("y =", y)

# %% other
z = 10
print("z =", z)
"""
LOAD, DOUBLE, OTHER = 0, 1, 2
LOAD_LINE, DOUBLE_LINE, OTHER_LINE = 0, 3, 7
EDIT_LINE, EDIT_TEXT = 1, "x = 5"  # in cell "load"
CURSOR_LINE = 8  # `z = 10`, inside cell "other"


@pytest.fixture(scope="module")
def nvim() -> str:
    found = shutil.which("nvim")
    if found is None:
        pytest.fail(
            "Neovim is required for this test and is not installed: "
            "`apt-get install -y neovim` (scripts/test installs it)",
            pytrace=False,
        )
    return found


def _is_our_server(pid: int) -> bool:
    """Alive and still the ``sessions.cli lsp`` process nvim started (not a reused pid)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return status.split(")")[-1].split()[0] != "Z" and command[-3:-1] == [b"sessions.cli", b"lsp"]


def _stop_server(report_path: Path) -> None:
    """Neovim shuts the server down when it quits; give it a few seconds to stop
    its kernel, then SIGTERM and SIGKILL: it must not outlive the test."""
    pid = _read_report(report_path).get("server_pid")
    if not isinstance(pid, int):
        return
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and _is_our_server(pid):
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _is_our_server(pid):
            time.sleep(0.05)
        if not _is_our_server(pid):
            return


def _read_report(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return report


@pytest.fixture(scope="module")
def session(nvim: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("neovim")
    notebook = write_notebook(folder, "analysis.py", NOTEBOOK)
    before = run_in_terminal(notebook)
    assert before.returncode == 0, before.stderr
    out = folder / "report.json"
    spec = folder / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "out": str(out),
                "edit": {"line": EDIT_LINE, "text": EDIT_TEXT},
                "cursor_line": CURSOR_LINE,
                "timeout_ms": 30_000,
                "run_timeout_ms": 90_000,
            }
        )
    )
    home = folder / "home"
    env = {
        **os.environ,
        "SESSIONS_LSP_CMD": json.dumps(SERVER_COMMAND),
        "SESSIONS_NVIM_SPEC": str(spec),
        # No user configuration, plugins or shared state: only init.lua.
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "NVIM_LOG_FILE": str(home / "nvim.log"),
    }
    records_before = {
        r.index: r.run for r in load_sidecar(sidecar_path(notebook), notebook.name).data.cells
    }
    command = [
        nvim,
        "--headless",
        "-u",
        str(HERE / "init.lua"),
        "-c",
        f"luafile {HERE / 'scenario.lua'}",
        notebook.name,
    ]
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=NVIM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        report = _read_report(out)
        pytest.fail(
            f"nvim did not finish in {NVIM_TIMEOUT_S} s; steps done: {report.get('steps')}\n"
            + output.decode(errors="replace")
        )
    finally:
        if process.poll() is None:  # an exception other than the timeout
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _stop_server(out)
    report = _read_report(out)
    assert report.get("finished"), (
        f"nvim exited without a report:\n{output.decode(errors='replace')}"
    )
    assert report.get("error") is None, (
        f"{report['error']} (steps done: {report.get('steps')})\n{output.decode(errors='replace')}"
    )
    return {"report": report, "notebook": notebook, "records_before": records_before}


def _codes_by_line(diagnostics: list[dict[str, Any]]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for d in diagnostics:
        found.setdefault(d["line"], set()).add(d["code"])
    return found


STALE = {"edited", "upstream"}


def test_opening_a_freshly_run_notebook_shows_no_stale_cells(session: dict[str, Any]) -> None:
    opened = session["report"]["opened"]
    assert not {d["code"] for d in opened} & STALE
    assert all(d["source"] == "sessions" for d in opened)


def test_an_edit_in_neovim_marks_the_cell_edited_and_its_dependent_upstream(
    session: dict[str, Any],
) -> None:
    stale = session["report"]["stale"]
    assert all(d["source"] == "sessions" for d in stale)
    stale_lines = {
        line: codes & STALE for line, codes in _codes_by_line(stale).items() if codes & STALE
    }
    assert stale_lines == {LOAD_LINE: {"edited"}, DOUBLE_LINE: {"upstream"}}


def test_code_lenses_offer_run_cell_and_run_stale(session: dict[str, Any]) -> None:
    lenses = session["report"]["lenses"]
    titles = {lens["title"] for lens in lenses}
    assert {"▶ Run cell", "▶ Run with upstream", "▶ Run stale (2)"} <= titles
    assert {lens["line"] for lens in lenses} == {LOAD_LINE, DOUBLE_LINE, OTHER_LINE}
    uri = session["notebook"].as_uri()
    run_cell = {
        lens["line"]: lens["arguments"][0] for lens in lenses if lens["title"] == "▶ Run cell"
    }
    assert run_cell[DOUBLE_LINE] == {"uri": uri, "mode": "cell", "cells": [DOUBLE]}
    assert all(lens["command"] in {"sessions.run", "sessions.state"} for lens in lenses)
    status = {lens["line"]: lens["title"] for lens in lenses if lens["command"] == "sessions.state"}
    assert status[LOAD_LINE] == "● stale: edited"
    assert status[DOUBLE_LINE] == f"● stale: cell {LOAD} changed"
    assert status[OTHER_LINE].startswith("✓")


def test_run_stale_through_neovim_runs_the_stale_cells_and_clears_their_diagnostics(
    session: dict[str, Any],
) -> None:
    report = session["report"]
    assert report["run_stale"]["error"] is None
    result = report["run_stale"]["result"]
    assert result["ran"] == [LOAD, DOUBLE] and result["ok"] is True
    assert report["publishes_after_run"] >= 1
    assert not {d["code"] for d in report["after_run"]} & STALE
    after = report["lenses_after"]
    assert not any("Run stale" in lens["title"] for lens in after)
    status = [lens["title"] for lens in after if lens["command"] == "sessions.state"]
    assert len(status) == 3 and all(title.startswith("✓") for title in status)


def test_run_at_cursor_runs_the_cell_under_the_cursor(session: dict[str, Any]) -> None:
    run = session["report"]["run_at_cursor"]
    assert run["error"] is None
    assert run["result"]["ran"] == [OTHER] and run["result"]["ok"] is True


def test_the_sidecar_holds_fresh_records_of_the_edited_code(session: dict[str, Any]) -> None:
    notebook: Path = session["notebook"]
    loaded = load_sidecar(sidecar_path(notebook), notebook.name)
    edited_text = NOTEBOOK.replace("x = 1", EDIT_TEXT)
    snapshot = analyse(notebook, parse(edited_text), loaded.data, loaded.problems)
    assert [s.status for s in snapshot.states] == ["fresh", "fresh", "fresh"]
    runs = {r.index: r.run for r in loaded.data.cells}
    before = session["records_before"]
    assert all(runs[i] > before[i] for i in (LOAD, DOUBLE, OTHER))
    double = snapshot.records[DOUBLE]
    assert double is not None
    printed = "".join(str(o.get("text", "")) for o in double.outputs)
    assert "y = 10" in printed
