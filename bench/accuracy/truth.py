"""Ground truth by re-execution with an independent runner: jupytext + nbclient.

Each code chunk is turned into notebook cells by jupytext (which also
uncomments magics such as ``# %matplotlib inline``), and the whole notebook is
executed top to bottom in a fresh ipykernel by nbclient, in its own working
folder. After every cell a hidden cell records a snapshot of the kernel's
state (see ``probe.py``); the snapshots and the cell outputs are what the
comparison works on.

Outputs are normalised before they are compared: memory addresses, the
kernel's temporary cell file names (``/tmp/ipykernel_123/456.py``) and
execution counts are removed. Images are compared by a hash of their PNG
bytes: matplotlib's Agg output is byte-stable for identical input on one
machine, and a styling edit is visible *only* in the picture, so leaving
images out would make every colour change "affect" nothing. Images that do
vary between identical runs are caught by the two-run check like any other
nondeterministic output. HTML and other rich representations are ignored when
``text/plain`` is present (HTML reprs carry generated element ids).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from accuracy.cells import Chunk
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

PROBE_SOURCE = (Path(__file__).with_name("probe.py")).read_text(encoding="utf-8")

# The probe lives in its own module object so that its imports and helpers
# never appear among (or shadow) the notebook's names.
SETUP = f"""\
import sys as _bench_sys, types as _bench_types
_bench_module = _bench_types.ModuleType("_bench_probe_module")
_bench_sys.modules["_bench_probe_module"] = _bench_module
exec(compile({PROBE_SOURCE!r}, "probe.py", "exec"), _bench_module.__dict__)
_bench_probe = _bench_module.Probe(get_ipython().user_ns)
del _bench_sys, _bench_types, _bench_module
_bench_probe.snap(-1)
"""

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_CELL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|<ipython-input-\d+-[0-9a-f]+>|Cell In\[\d+\]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Clock readings (statsmodels' summaries print the date and time of the fit).
_CLOCK = re.compile(r"\b\d{2}:\d{2}:\d{2}\b|\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4}\b")


@dataclass
class Run:
    """What one execution produced, keyed by chunk ident."""

    outputs: dict[int, list[str]]
    # State after each executed chunk; key -1 is the state before the first.
    states: dict[int, dict[str, str]]
    identities: dict[int, dict[str, int]]
    order: list[int]
    errors: set[int]
    seconds: float
    # The code each key ran (inserted chunks have negative keys).
    codes: dict[int, str]

    def before(self, ident: int) -> dict[str, str]:
        """The state the chunk's code saw when it started."""
        position = self.order.index(ident)
        return self.states[self.order[position - 1] if position else -1]

    def changed(self, ident: int) -> set[str]:
        """Names (and hidden states) the chunk bound, changed or removed.

        A name counts only when the chunk's code mentions it (or lists the
        namespace, ``%who``): objects that fill caches lazily would otherwise
        seem to be changed by whichever later cell happened to trigger that.
        """
        after, before = self.states[ident], self.before(ident)
        ids_after = self.identities[ident]
        position = self.order.index(ident)
        ids_before = self.identities[self.order[position - 1] if position else -1]
        code = self.codes.get(ident, "")
        everything = "%who" in code
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
        return {
            n
            for n in after.keys() | before.keys()
            if (after.get(n) != before.get(n) or ids_after.get(n) != ids_before.get(n))
            and (n.startswith("<") or everything or n in words)
        }


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _clean(text: str) -> str:
    text = _CELL_FILE.sub("<cell>", _ADDRESS.sub(" at 0x", _ANSI.sub("", text)))
    return _CLOCK.sub("<clock>", text)


def normalise(output: dict[str, Any]) -> str:
    """One comparable line per output."""
    kind = output.get("output_type")
    if kind == "stream":
        return f"{output.get('name')}: {_clean(_text(output.get('text', '')))}"
    if kind == "error":
        return f"error: {output.get('ename')}: {_clean(str(output.get('evalue')))}"
    data = output.get("data", {})
    # Which representations exist is compared even when their content is not
    # (scikit-learn's set_config(display=...) only adds or drops text/html).
    parts = [",".join(sorted(data))]
    for mime in sorted(data):
        if mime.startswith("image/"):
            digest = hashlib.blake2b(_text(data[mime]).encode(), digest_size=12).hexdigest()
            parts.append(f"{mime} {digest}")
        elif mime == "text/plain" or (mime.startswith("text/") and "text/plain" not in data):
            parts.append(f"{mime} {_clean(_text(data[mime]))}")
    return f"{kind}: " + " | ".join(parts)


def _coalesced(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive stream outputs of one stream merged: where a print is split is timing."""
    merged: list[dict[str, Any]] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = _text(previous.get("text", "")) + _text(output.get("text", ""))
        else:
            merged.append(dict(output))
    return merged


def code_cells(chunk: Chunk) -> list[str]:
    """The chunk's code as jupytext reads it; empty for markdown, raw and the YAML header."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        notebook = jupytext.reads(chunk.text, fmt="py:percent")
    return [c.source for c in notebook.cells if c.cell_type == "code"]


def is_code(chunk: Chunk) -> bool:
    return bool(code_cells(chunk))


async def _execute(chunks: list[Chunk], workdir: Path, sockets: Path, timeout: int) -> Run:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells.append(nbformat.v4.new_code_cell(SETUP, metadata={"bench": "probe"}))
    order: list[int] = []
    codes: dict[int, str] = {}
    for chunk in chunks:
        sources = code_cells(chunk)
        if not sources:
            continue
        ident = chunk.ident if chunk.ident is not None else -2 - len(order)
        order.append(ident)
        codes[ident] = "\n".join(sources)
        for source in sources:
            notebook.cells.append(
                nbformat.v4.new_code_cell(source, metadata={"bench_ident": ident})
            )
        notebook.cells.append(
            nbformat.v4.new_code_cell(f"_bench_probe.snap({ident})", metadata={"bench": "probe"})
        )
    dump = workdir / ".bench-states.json"
    notebook.cells.append(
        nbformat.v4.new_code_cell(f"_bench_probe.dump({str(dump)!r})", metadata={"bench": "probe"})
    )
    # IPC sockets in a folder of their own: no TCP ports to collide on when
    # runs go in parallel, and none of the notebook's files to be mixed with.
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / "kernel"))
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    # A fixed hash seed keeps set and frozenset ordering, and so their pickles,
    # equal across runs; it does not seed any RNG the notebook uses.
    env = dict(os.environ, PYTHONHASHSEED="0")
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await client.async_execute(env=env)
        seconds = loop.time() - start
    finally:
        # nbclient shuts down only the kernels it made; this one is ours.
        # Left alive, each run's kernel would live until the worker exits.
        if manager.has_kernel:
            await manager.shutdown_kernel(now=True)
    outputs: dict[int, list[str]] = {}
    errors: set[int] = set()
    for cell in notebook.cells:
        if cell.metadata.get("bench") == "probe":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    raise RuntimeError(f"the state probe failed: {output.get('evalue')}")
            continue
        ident = cell.metadata["bench_ident"]
        produced = [normalise(o) for o in _coalesced(cell.get("outputs", []))]
        outputs.setdefault(ident, []).extend(produced)
        if any(line.startswith("error:") for line in produced):
            errors.add(ident)
    raw = json.loads(dump.read_text(encoding="utf-8"))
    states = {int(k): v["values"] for k, v in raw.items()}
    identities = {int(k): v["ids"] for k, v in raw.items()}
    return Run(outputs, states, identities, order, errors, seconds, codes)


def execute(chunks: list[Chunk], data: list[Path], timeout: int = 300) -> Run:
    """Run the notebook made of ``chunks`` in a new folder holding copies of ``data``."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-truth-") as folder,
        tempfile.TemporaryDirectory(prefix="bench-ipc-") as sockets,
    ):
        workdir = Path(folder)
        for path in data:
            shutil.copy2(path, workdir / path.name)
        return asyncio.run(_execute(chunks, workdir, Path(sockets), timeout))
