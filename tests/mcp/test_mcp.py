"""``sessions mcp`` end to end: the `mcp` client launches the server over stdio in a
folder, lists notebooks, edits two cells in one batch, runs stale, reads outputs,
checks, and gets tool errors that say how to fix the call."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

pytestmark = pytest.mark.kernel

NOTEBOOK = """\
# %% load
x = 1

# %% double
y = x * 2
y

# %% [markdown]
# Prose about y.

# %% show
import os
print("y is", y, "pid", os.getpid())
"""


def text_of(result: CallToolResult) -> str:
    parts = [block.text for block in result.content if isinstance(block, TextContent)]
    return "\n".join(parts)


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))


async def call_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    return text_of(result)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_mcp_edit_batch_run_stale_read_outputs_check(tmp_path: Path) -> None:
    (tmp_path / "analysis.py").write_text(NOTEBOOK)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.py").write_text("# %%\na = 1\n")
    (tmp_path / "plain.py").write_text("print('not a notebook')\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "skip.py").write_text("# %%\nb = 2\n")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sessions.cli", "mcp"], cwd=str(tmp_path)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert {
            "list_notebooks",
            "list_sessions",
            "get_cells",
            "get_cell",
            "set_source",
            "insert_cell",
            "delete_cell",
            "move_cell",
            "edit_cells",
            "run",
            "get_outputs",
            "interrupt",
            "restart",
            "check",
        } <= tools

        listed = await call(session, "list_notebooks")
        assert listed["notebooks"] == ["analysis.py", "sub/other.py"]

        cells = await call(session, "get_cells", notebook="analysis.py")
        assert [c["status"] for c in cells["cells"]] == [
            "never-run",
            "never-run",
            "fresh",
            "never-run",
        ]
        assert cells["cells"][1]["defines"] == ["y"] and cells["cells"][1]["uses"] == ["x"]

        first = await call(session, "run", notebook="analysis.py")
        assert first["ok"] and [r["index"] for r in first["ran"]] == [0, 1, 3]
        assert first["still_stale"] == []

        # Two cells edited in one batch (one by anchor, one by index), then one run.
        edited = await call(
            session,
            "edit_cells",
            notebook="analysis.py",
            edits=[
                {"op": "set_source", "cell": "x = 1", "source": "x = 20"},
                {"op": "set_source", "cell": 1, "source": "y = x + 1\ny"},
            ],
        )
        assert edited["edited"] == 2
        assert [c["status"] for c in edited["cells"]][:2] == ["edited", "edited"]
        text = (tmp_path / "analysis.py").read_text()
        assert "# %% load\nx = 20\n\n# %% double\ny = x + 1\ny\n\n# %% [markdown]" in text

        stale = await call(session, "run", notebook="analysis.py", mode="stale")
        assert stale["ok"] and [r["index"] for r in stale["ran"]] == [0, 1, 3]
        assert stale["ran"][1]["output"] == "21"

        outputs = await call(session, "get_outputs", notebook="analysis.py", cell="show")
        assert outputs["status"] == "fresh"
        assert outputs["outputs"].startswith("y is 21 pid ")
        kernel_pid = int(outputs["outputs"].split()[-1])

        one = await call(session, "get_cell", notebook="analysis.py", cell=1)
        assert one["source"] == "y = x + 1\ny" and one["outputs"] == "21"

        sessions_now = await call(session, "list_sessions")
        assert [s["notebook"] for s in sessions_now["this_server"]] == ["analysis.py"]

        checked = await call(session, "check", notebook="analysis.py")
        assert checked["errors"] == 0

        # An ambiguous anchor is a tool error naming the candidates.
        message = await call_error(
            session, "set_source", notebook="analysis.py", cell="y", source="y = 0"
        )
        assert "matches 3 cells" in message and '1 "double"' in message
        missing = await call_error(session, "get_cells", notebook="nope.py")
        assert "no such file" in missing and "list_notebooks" in message + missing
        bad_op = await call_error(
            session,
            "edit_cells",
            notebook="analysis.py",
            edits=[{"op": "set_source", "cell": 0}],
        )
        assert "needs `source`" in bad_op
        assert "x = 20" in (tmp_path / "analysis.py").read_text()

        # A syntax error shows up in check.
        await call(
            session, "insert_cell", notebook="analysis.py", source="def broken(:", after="show"
        )
        broken = await call(session, "check", notebook="analysis.py")
        assert broken["errors"] == 1 and broken["diagnostics"][0]["cell"] == 4

    # The client closed the connection: the server shut its kernel down.
    deadline = time.monotonic() + 20
    while pid_alive(kernel_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(kernel_pid)


PARAMETERS_NOTEBOOK = """\
# %% tags=["parameters"]
rate = 0.1

# %% Report
print("rate", rate)
"""


async def test_mcp_run_with_parameters(tmp_path: Path) -> None:
    (tmp_path / "report.py").write_text(PARAMETERS_NOTEBOOK)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sessions.cli", "mcp"], cwd=str(tmp_path)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        first = await call(
            session, "run", notebook="report.py", mode="all", parameters={"rate": 0.5}
        )
        assert first["parameters"] == {"rate": "0.5"}
        assert "rate 0.5" in first["ran"][-1]["output"]
        # In effect until others are given: nothing is stale.
        again = await call(session, "run", notebook="report.py")
        assert again["ran"] == [] and again["still_stale"] == []
        back = await call(session, "run", notebook="report.py", parameters={})
        assert [r["index"] for r in back["ran"]] == [0, 1] and "rate 0.1" in back["ran"][-1][
            "output"
        ]
        bad = await call_error(session, "run", notebook="report.py", parameters={"1x": 1})
        assert "parameter name '1x' is not a Python name" in bad
