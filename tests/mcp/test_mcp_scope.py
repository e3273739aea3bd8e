"""``sessions mcp --root WS`` stays inside WS: the real server over stdio, driven by the
real `mcp` client. Absolute paths, ``..``, symbolic links leading out (to a ``.py`` and to
other files), a planted output-cache link, a FIFO: all refused with a message that says
why, and nothing outside WS is read, written or run. Links that stay inside still work,
and every tool says with MCP annotations whether it writes or executes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

SECRET = "# %% secret\nimport pathlib\npathlib.Path('RAN').write_text('ran')\nTOKEN = 'hunter2'\n"
NOTEBOOK = "# %% one\nx = 1\n\n# %% two\ny = x + 1\n"


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    with anyio.fail_after(30):  # a FIFO read would hang the server: fail, don't wait
        result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    with anyio.fail_after(30):
        result = await session.call_tool(tool, arguments)
    message = text_of(result)
    assert result.is_error, f"{tool}({arguments}) was allowed: {message}"
    assert "hunter2" not in message and "root:" not in message  # nothing read leaks
    return message


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder`` with its bytes (or link target), to prove nothing changed."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "dir"
    return found


def make_workspace(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.py").write_text(SECRET)
    (outside / "secret.txt").write_text("TOKEN = 'hunter2'\n")
    (outside / "cache.toml").write_text("TOKEN = 'hunter2'\n")
    (root / "nb.py").write_text(NOTEBOOK)
    (root / "notes.txt").write_text("# %%\nnot a notebook\n")
    (root / "sub").mkdir()
    (root / "sub" / "deep.py").write_text("# %%\nz = 3\n")
    (root / "inner_link.py").symlink_to("nb.py")  # inside -> inside: allowed
    (root / "out_link.py").symlink_to(outside / "secret.py")
    (root / "out_text.py").symlink_to(outside / "secret.txt")
    (root / "passwd.py").symlink_to("/etc/passwd")
    (root / "dangling.py").symlink_to(outside / "made.py")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "leaky.py").write_text("# %%\nleak = 1\n")
    (root / "leaky.sessions.toml").symlink_to(outside / "cache.toml")
    os.mkfifo(root / "pipe.py")
    return root, outside


@asynccontextmanager
async def mcp_session(root: Path, cwd: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sessions.cli", "mcp", "--root", str(root)], cwd=cwd
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def test_paths_outside_the_root_are_refused(tmp_path: Path) -> None:
    root, outside = make_workspace(tmp_path)
    before = snapshot(outside)
    async with mcp_session(root, tmp_path) as session:
        # Reading: absolute paths, `..`, links leading out, /etc/passwd.
        for name in ("/etc/passwd", "../outside/secret.py", str(outside / "secret.py")):
            message = await refused(session, "get_cells", notebook=name)
            assert "outside the server's root" in message, message
        for name in ("out_link.py", "linkdir/secret.py", "sub/../linkdir/secret.py"):
            message = await refused(session, "get_cell", notebook=name, cell=0)
            assert "symbolic link" in message and "leads outside" in message, message
        for name in ("out_text.py", "passwd.py"):
            message = await refused(session, "get_outputs", notebook=name, cell=0)
            assert "symbolic link" in message, message
        message = await refused(session, "check", notebook="leaky.py")
        assert "output cache leaky.sessions.toml" in message and "outside" in message

        # Writing: set_source on a non-.py file outside and inside, through links.
        for name in ("../outside/secret.txt", "out_text.py", "notes.txt", "passwd.py"):
            await refused(session, "set_source", notebook=name, cell=0, source="pwned = 1")
        message = await refused(session, "set_source", notebook="notes.txt", cell=0, source="x")
        assert "a notebook is a .py file" in message
        await refused(
            session, "edit_cells", notebook="out_link.py", edits=[{"op": "delete", "cell": 0}]
        )
        await refused(session, "insert_cell", notebook="../outside/secret.py", source="x = 2")

        # Creating outside: `..`, a folder link, a dangling link, an absolute path.
        for name in (
            "../outside/x.py",
            "linkdir/x.py",
            "dangling.py",
            str(outside / "y.py"),
        ):
            await refused(session, "create_notebook", notebook=name)

        # Running: nothing outside executes (its first line would write RAN).
        for name in ("../outside/secret.py", "out_link.py", str(outside / "secret.py")):
            await refused(session, "run", notebook=name, mode="all")
            await refused(session, "edit_cells", notebook=name, edits=[], run_stale=True)
            await refused(session, "restart", notebook=name)
            await refused(session, "interrupt", notebook=name)

        # Special files and folders are not notebooks, and do not hang the server.
        message = await refused(session, "get_cells", notebook="pipe.py")
        assert "FIFO" in message
        message = await refused(session, "get_cells", notebook="sub")
        assert "a notebook is a .py file" in message

        # Listing: folders outside are refused; links leading out are not listed.
        for folder in ("..", "/", str(outside), "linkdir"):
            message = await refused(session, "list_notebooks", folder=folder)
            assert "outside the server's root" in message or "leads outside" in message
        listed = await call(session, "list_notebooks")
        assert listed["notebooks"] == ["inner_link.py", "leaky.py", "nb.py", "sub/deep.py"]
        why = {row["path"]: row["why"] for row in listed["refused"]}
        assert set(why) == {"dangling.py", "out_link.py", "out_text.py", "passwd.py", "pipe.py"}
        assert "outside the root" in why["out_link.py"] and "FIFO" in why["pipe.py"]

    assert snapshot(outside) == before
    assert not (outside / "RAN").exists() and not (tmp_path / "RAN").exists()
    assert not (outside / "made.py").exists() and not (outside / "secret.sessions.toml").exists()
    assert (root / "notes.txt").read_text() == "# %%\nnot a notebook\n"


async def test_paths_inside_the_root_still_work(tmp_path: Path) -> None:
    root, outside = make_workspace(tmp_path)
    before = snapshot(outside)
    async with mcp_session(root, tmp_path) as session:
        # A link that stays inside is the file it points to; writes go through it.
        cells = await call(session, "get_cells", notebook="inner_link.py")
        assert cells["notebook"] == "nb.py" and len(cells["cells"]) == 2
        await call(session, "set_source", notebook="inner_link.py", cell="y =", source="y = 5")
        assert (root / "inner_link.py").is_symlink()
        assert (root / "nb.py").read_text() == "# %% one\nx = 1\n\n# %% two\ny = 5\n"
        # An absolute path inside the root, and `..` that stays inside.
        for name in (str(root / "nb.py"), "sub/../nb.py", "./sub/deep.py"):
            await call(session, "get_cells", notebook=name)
        created = await call(session, "create_notebook", notebook="sub/new.py")
        assert created["notebook"] == "sub/new.py" and (root / "sub" / "new.py").exists()
        message = await refused(session, "create_notebook", notebook="sub/new.py")
        assert "already exists" in message
        message = await refused(session, "create_notebook", notebook="nowhere/new.py")
        assert "does not exist" in message
        await call(session, "insert_cell", notebook="sub/new.py", source="w = 4")
        listed = await call(session, "list_notebooks", folder="sub", recursive=False)
        assert listed["notebooks"] == ["sub/deep.py", "sub/new.py"]
    assert snapshot(outside) == before


async def test_every_tool_says_whether_it_writes_or_executes(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, tmp_path) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    hints = {
        name: (
            tool.annotations.read_only_hint,
            tool.annotations.destructive_hint,
            tool.annotations.open_world_hint,
        )
        for name, tool in tools.items()
        if tool.annotations is not None
    }
    assert set(hints) == set(tools), f"tools without annotations: {set(tools) - set(hints)}"
    readers = {"list_notebooks", "list_sessions", "get_cells", "get_cell", "get_outputs", "check"}
    for name in readers:
        assert hints[name] == (True, None, False), name
    for name in ("run", "edit_cells"):  # code runs with the user's rights
        assert hints[name] == (False, True, True), name
    for name in ("set_source", "delete_cell", "move_cell", "restart", "interrupt"):
        assert hints[name] == (False, True, False), name
    for name in ("create_notebook", "insert_cell"):
        assert hints[name] == (False, False, False), name
    assert tools["set_source"].annotations is not None
    assert tools["set_source"].annotations.idempotent_hint is True
    assert tools["insert_cell"].annotations is not None
    assert tools["insert_cell"].annotations.idempotent_hint is False
