"""Resource limits (docs/guarantees.md): only regular files are read, only up to a
size limit, and cached outputs are capped per cell and per notebook.

Real files throughout: FIFOs named like a notebook or a sidecar (a plain open
blocks until a writer comes, which froze ``sessions status`` and the MCP
server), symlinks to ``/dev/zero`` (git stores links; a plain read never
ends), oversized notebooks, and 1,000 images of 100 KB.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import TextContent

from sessions.analysis.content_cache import ContentCache, forget_everywhere
from sessions.cache.cap import (
    CELL_OUTPUT_TOTAL,
    NOTEBOOK_OUTPUT_TOTAL,
    cap_records,
    omitted_counts,
    output_size,
)
from sessions.cache.records import CellRecord, Output, SidecarData
from sessions.cache.sidecar import load_sidecar, save_sidecar, sidecar_path
from sessions.format.bounded_read import DEFAULT_MAX_NOTEBOOK_BYTES, FileRefused, read_regular_file
from sessions.format.discovery import find_notebooks
from sessions.format.files import NotebookReadError, NotebookTooLarge, read_notebook_text
from tests.support.cli import cli, cli_env

NOTEBOOK = "# %% load\nx = 1\n\n# %% use\ny = x + 1\n"
PROMPT = 10.0
"""Seconds within which every refusal must come: a blocked read would never return."""


@pytest.fixture
def fifo_notebook(tmp_path: Path) -> Path:
    path = tmp_path / "nb.py"
    os.mkfifo(path)
    return path


def zero_link(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


# -- reading files -------------------------------------------------------------------


def test_read_refuses_a_fifo_at_once_without_a_writer(fifo_notebook: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FileRefused) as refused:
        read_regular_file(fifo_notebook, 1000)
    assert time.monotonic() - started < 1
    assert "named pipe (FIFO)" in str(refused.value.strerror)


def test_read_refuses_a_link_to_dev_zero(tmp_path: Path) -> None:
    with pytest.raises(FileRefused) as refused:
        read_regular_file(zero_link(tmp_path / "nb.py"), 1000)
    assert refused.value.strerror == (
        "it is a character device (a link to /dev/zero), not a regular file"
    )


def test_read_refuses_over_the_limit_and_reads_up_to_it(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_bytes(b"x" * 1001)
    with pytest.raises(FileRefused) as refused:
        read_regular_file(path, 1000, limit_hint="(raise it with X)")
    assert (
        refused.value.strerror == "it is 1,001 bytes, over the 1,000-byte limit (raise it with X)"
    )
    assert read_regular_file(path, 1001) == b"x" * 1001
    (tmp_path / "empty.py").write_bytes(b"")
    assert read_regular_file(tmp_path / "empty.py", 10) == b""


def test_notebook_text_refusals_say_what_the_file_is(tmp_path: Path, fifo_notebook: Path) -> None:
    with pytest.raises(NotebookReadError, match=r"named pipe \(FIFO\), not a regular file"):
        read_notebook_text(fifo_notebook)
    with pytest.raises(NotebookReadError, match=r"character device \(a link to /dev/zero\)"):
        read_notebook_text(zero_link(tmp_path / "zero.py"))
    big = tmp_path / "big.py"
    big.write_text("# %%\n" + "x = 1\n" * (DEFAULT_MAX_NOTEBOOK_BYTES // 6 + 1))
    with pytest.raises(NotebookTooLarge) as too_large:
        read_notebook_text(big)
    message = str(too_large.value)
    assert "over the 4 MB limit for notebooks" in message
    assert "SESSIONS_MAX_NOTEBOOK_BYTES" in message and "sessions.maxNotebookBytes" in message
    assert read_notebook_text(big, max_bytes=5_000_000).startswith("# %%")


def test_discovery_skips_fifos_and_device_links(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text(NOTEBOOK)
    os.mkfifo(tmp_path / "pipe.py")
    zero_link(tmp_path / "zero.py")
    started = time.monotonic()
    assert find_notebooks(tmp_path) == [tmp_path / "real.py"]
    assert time.monotonic() - started < PROMPT


# -- the CLI ---------------------------------------------------------------------------


def test_status_of_a_fifo_or_dev_zero_notebook_fails_at_once(
    tmp_path: Path, fifo_notebook: Path
) -> None:
    env = cli_env(tmp_path)
    zero_link(tmp_path / "zero.py")
    for name, what in (("nb.py", "named pipe (FIFO)"), ("zero.py", "character device")):
        started = time.monotonic()
        done = cli("status", name, cwd=tmp_path, env=env)
        assert time.monotonic() - started < PROMPT + 5
        assert done.returncode == 2, done.stderr
        assert what in done.stderr and "not a regular file" in done.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_status_with_a_fifo_or_dev_zero_sidecar_shows_the_cells(tmp_path: Path, kind: str) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text(NOTEBOOK)
    cache = sidecar_path(notebook)
    if kind == "fifo":
        os.mkfifo(cache)
    else:
        zero_link(cache)
    started = time.monotonic()
    done = cli("status", "nb.py", "--json", cwd=tmp_path, env=cli_env(tmp_path))
    assert time.monotonic() - started < PROMPT + 5
    assert done.returncode == 0, done.stderr
    assert [c["status"] for c in json.loads(done.stdout)["cells"]] == ["never-run", "never-run"]
    assert "nb.sessions.toml cannot be read" in done.stderr
    assert "not a regular file" in done.stderr and "delete it" in done.stderr


def test_status_of_an_oversized_notebook_names_the_limit_and_how_to_raise_it(
    tmp_path: Path,
) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text(NOTEBOOK + "z = 0\n" * 400)  # 2,436 bytes
    env = {**cli_env(tmp_path), "SESSIONS_MAX_NOTEBOOK_BYTES": "2000"}
    done = cli("status", "nb.py", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "it is 2,436 bytes, over the 2,000-byte limit for notebooks" in done.stderr
    assert "SESSIONS_MAX_NOTEBOOK_BYTES=BYTES" in done.stderr
    env["SESSIONS_MAX_NOTEBOOK_BYTES"] = "3000"
    assert cli("status", "nb.py", cwd=tmp_path, env=env).returncode == 0


# -- the MCP server ---------------------------------------------------------------------


def _text(result: Any) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


async def test_mcp_lists_and_reads_promptly_beside_fifos_and_dev_zero(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text(NOTEBOOK)
    os.mkfifo(tmp_path / "pipe.py")
    zero_link(tmp_path / "zero.py")
    (tmp_path / "cached.py").write_text(NOTEBOOK)
    os.mkfifo(tmp_path / "cached.sessions.toml")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sessions.cli", "mcp"], cwd=str(tmp_path)
    )
    with anyio.fail_after(60):  # a blocking read would freeze the server: fail, don't wait
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = json.loads(_text(await session.call_tool("list_notebooks", {})))
            assert listed["notebooks"] == ["cached.py", "real.py"]
            refused = {entry["path"] for entry in listed.get("refused", [])}
            assert {"pipe.py", "zero.py"} <= refused
            pipe = await session.call_tool("get_cells", {"notebook": "pipe.py"})
            assert pipe.is_error and "FIFO" in _text(pipe)
            cached = await session.call_tool("get_cells", {"notebook": "cached.py"})
            if cached.is_error:  # the workspace scope refuses a special output cache
                assert "FIFO" in _text(cached)
            else:
                assert len(json.loads(_text(cached))["cells"]) == 2
            # The server still answers.
            cells = json.loads(_text(await session.call_tool("get_cells", {"notebook": "real.py"})))
            assert len(cells["cells"]) == 2


# -- output caps ---------------------------------------------------------------------------

IMAGE = base64.b64encode(os.urandom(100_000)).decode()  # 133,336 characters of base64


def _image(number: int) -> Output:
    return {
        "output_type": "display_data",
        "data": {"image/png": IMAGE, "text/plain": f"<Figure {number:04}>"},
        "metadata": {},
    }


def test_a_thousand_images_of_100_kb_are_capped_per_cell(tmp_path: Path) -> None:
    outputs = [_image(n) for n in range(1000)]
    error: Output = {"output_type": "error", "ename": "E", "evalue": "last", "traceback": ["tb"]}
    record = CellRecord(hash="blake2b-128:00", index=0, run=1, outputs=[*outputs, error])
    path = tmp_path / "nb.sessions.toml"
    save_sidecar(path, SidecarData(notebook="nb.py", cells=[record]))
    size = path.stat().st_size
    assert size < CELL_OUTPUT_TOTAL * 1.01  # was 134 MB
    written = load_sidecar(path, "nb.py").data.cells[0].outputs
    marker, *kept = written
    assert kept[-1] == error  # the newest outputs are kept, the error among them
    assert [o["data"]["text/plain"] for o in kept[:-1]] == [
        f"<Figure {n:04}>" for n in range(1000 - len(kept) + 1, 1000)
    ]
    count, characters = omitted_counts(marker) or (0, 0)
    assert count + len(kept) == 1001
    assert characters == sum(output_size(o) for o in outputs[:count])
    assert (
        f"[... {count:,} earlier outputs ({characters:,} characters) omitted"
        in (marker["data"]["text/plain"])
    )
    assert "10,000,000-character cap per cell" in marker["data"]["text/plain"]
    # Idempotent: writing the capped records again changes nothing.
    save_sidecar(path, load_sidecar(path, "nb.py").data)
    assert path.stat().st_size == size


@pytest.mark.kernel
def test_a_real_run_of_a_thousand_images_caches_ten_megabytes(tmp_path: Path) -> None:
    notebook = tmp_path / "images.py"
    notebook.write_text(
        "# %%\n"
        "import base64, os\n"
        "from IPython.display import display\n"
        "png = base64.b64encode(os.urandom(100_000)).decode()\n"
        "for n in range(1000):\n"
        '    display({"image/png": png, "text/plain": f"<Figure {n:04}>"}, raw=True)\n'
    )
    done = cli("run", "images.py", "-q", cwd=tmp_path, env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    cache = sidecar_path(notebook)
    assert cache.stat().st_size < CELL_OUTPUT_TOTAL * 1.01  # was 134 MB
    marker, *kept = load_sidecar(cache, "images.py").data.cells[0].outputs
    assert omitted_counts(marker) == (1000 - len(kept), (1000 - len(kept)) * 133_349)
    assert kept[-1]["data"]["text/plain"] == "<Figure 0999>"


def test_the_notebook_total_keeps_the_most_recently_run_cells(tmp_path: Path) -> None:
    # 500 cells with one image each, run in reverse file order: the last runs
    # (the first cells of the file) keep their image.
    records = [
        CellRecord(hash=f"blake2b-128:{n:04x}", index=n, run=500 - n, outputs=[_image(n)])
        for n in range(500)
    ]
    path = tmp_path / "nb.sessions.toml"
    save_sidecar(path, SidecarData(notebook="nb.py", cells=records))
    assert path.stat().st_size < NOTEBOOK_OUTPUT_TOTAL * 1.01  # was 67 MB
    written = load_sidecar(path, "nb.py").data.cells
    assert len(written) == 500  # every record stays: staleness is unchanged
    capped = [r.index for r in written if omitted_counts(r.outputs[0]) is not None]
    kept = [r.index for r in written if omitted_counts(r.outputs[0]) is None]
    assert kept == list(range(len(kept))) and capped == list(range(len(kept), 500))
    assert len(kept) == NOTEBOOK_OUTPUT_TOTAL // output_size(_image(0))
    text = written[-1].outputs[0]["data"]["text/plain"]
    assert f"[... 1 output ({output_size(_image(0)):,} characters) omitted" in text
    assert "50,000,000-character cap" in text and "run this cell again" in text


def test_caps_merge_earlier_markers_and_follow_a_larger_output_cap() -> None:
    outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 100} for _ in range(10)]
    record = CellRecord(hash="h", index=0, run=1, outputs=outputs)
    [once] = cap_records([record], 1000, cell_total=500, notebook_total=10_000)
    assert omitted_counts(once.outputs[0]) == (5, 500) and len(once.outputs) == 6
    [twice] = cap_records([once], 1000, cell_total=500, notebook_total=10_000)
    assert twice is once
    [smaller] = cap_records([once], 1000, cell_total=250, notebook_total=10_000)
    assert omitted_counts(smaller.outputs[0]) == (8, 800) and len(smaller.outputs) == 3
    # A per-output cap above the default totals raises them with it.
    big = CellRecord(hash="h", index=0, run=1, outputs=[_image(0)] * 120)
    [kept] = cap_records([big], 20_000_000)
    assert len(kept.outputs) == 120


# -- the analysis caches ----------------------------------------------------------------------


class _Value:
    """A weakly referable value, as cell analyses are."""


def test_content_cache_keeps_values_in_use_and_recent_ones_within_a_budget() -> None:
    cache: ContentCache[_Value] = ContentCache(max_entries=100, max_cost=1000)
    used = _Value()
    cache.put("used", used, 5000)  # larger than the budget: held only while in use
    assert cache.get("used") is used and len(cache) == 0
    del used
    assert cache.get("used") is None
    for n in range(10):
        cache.put(f"k{n}", _Value(), 300)
    assert len(cache) == 3 and cache.cost == 900  # the newest three
    assert cache.get("k9") is not None and cache.get("k0") is None
    forget_everywhere(["k9", "k8"])
    assert cache.get("k9") is None and len(cache) == 1
