"""Language-server budgets (DESIGN §9), through a real pygls client over stdio
to ``python -m sessions.cli lsp``, on the 5,000-line reference notebook:

- ``didChange`` (one character in a middle cell) → ``publishDiagnostics`` for
  that version: p50 ≤ 15 ms, p95 ≤ 40 ms; and at 50,000 lines (``--large-lines``;
  ``--only-large`` runs just that case, never run, after a run, and in the
  notebook view — a notebook document with one text document per cell, as
  VS Code sends it, fresh and after 30 other cells got a line each):
  p50 ≤ 20 ms (issue 12);
- ``hover`` while a whole-text edit is being analysed, and while a cell on a
  real kernel streams 10 MB and 200 MB of stdout, 20,000 flushed lines, or a
  1.5 MB log then 3,000 ``\r`` progress updates: p95 ≤ 20 ms (the largest
  sample is printed too: issue 11 measured a p50 of 768 ms and a maximum of
  3.3 s while a cell printed 200 MB);
- a sidecar rewritten by another process (in place, by rename, by delete and
  recreate) → refreshed diagnostics of the open notebook: p95 ≤ 100 ms and
  100 % of the writes noticed; each write records other code (different in
  meaning) for one cell, so that cell must show ``edited``. An unopened
  notebook changed on disk is re-read by the next request (all three save styles);
- server RSS with 20 open 250-cell notebooks that share no cell: ≤ 150 MB.

A case that produced no samples (nothing noticed) is reported as such.

Before each series of timed edits the client collects its garbage and
freezes what is left (``gc.freeze``): otherwise this Python client's own
collector, walking the 1 MB of ``sessions/state`` a client that takes every
cell holds, paused it for about 200 ms once every nine keystrokes — the p95
of 170–260 ms those rows showed was the client's, not the server's (VS Code's
client is not a CPython process). The server does the same after it starts.

Floors, measured in the same run: the round trip of a request the server
answers at once (``sessions.parse {text: ""}``), and the RSS of an idle
server with nothing open.

Run: ``.venv/bin/python bench/bench_lsp.py [--edits N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
    default_converter,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import notebook_documents
from reference_notebook import reference_notebook
from timing import Row, print_table
from workloads import STREAM_CELLS, sized_reference, write_ran_sidecar

from sessions.cache.sidecar import SETTLED_SECONDS, load_sidecar, save_sidecar, sidecar_path
from sessions.format.hashing import code_hash
from sessions.format.notebook import parse

SERVER = [sys.executable, "-m", "sessions.cli", "lsp", "--log-level", "WARNING"]
TIMEOUT = 30.0
FLOOR = 'round trip of `sessions.parse {text: ""}`'
RSS_FLOOR = "RSS of the idle server, nothing open"


def _converter() -> Any:  # a cattrs Converter
    """pygls's converter, except that untyped payloads (our notifications) stay dicts."""
    converter = default_converter()  # type: ignore[no-untyped-call]
    for message in (JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(message, lambda obj, cls: cls(**obj))
    return converter


@dataclasses.dataclass
class Published:
    at: float
    """When the client had the message as lsprotocol types (its handler ran)."""
    uri: str
    version: int | None
    codes: list[tuple[int, str]]
    received: float = 0.0
    """When the client had the message's JSON decoded, before pygls made it
    typed: with 1,000 diagnostics that step alone takes this Python client
    7 ms, a cost of the client (VS Code's does not do it), not of the server."""
    arrived: float = 0.0
    """When the client had read the message's last byte, before decoding it:
    what the server took, without this client's JSON decoding (json's object
    hook is a Python call for each of the message's 4,000 objects)."""


class TimedProtocol(LanguageServerProtocol):
    """Notes when each ``publishDiagnostics`` was decoded (json's object hook
    sees the whole message last, after its parts)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoded: dict[tuple[str, int | None], tuple[float, float]] = {}
        self.body_read = 0.0
        """When the body being decoded was read (``time_reads``)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        if data.get("method") == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS and "jsonrpc" in data:
            params = data.get("params") or {}
            key = (params.get("uri", ""), params.get("version"))
            self.decoded[key] = (self.body_read, time.perf_counter())
        return super().structure_message(data)

    def time_reads(self, reader: asyncio.StreamReader) -> None:
        """Note when each message body is read from ``reader`` (pygls reads a
        body with one ``readexactly``, then decodes it before reading on)."""
        read_body = reader.readexactly

        async def timed(n: int) -> bytes:
            data = await read_body(n)
            self.body_read = time.perf_counter()
            return data

        reader.readexactly = timed  # type: ignore[method-assign]


class BenchClient(LanguageClient):
    """A client that timestamps what the server sends and lets the bench wait for it."""

    def __init__(self) -> None:
        super().__init__(
            "sessions-bench", "0", protocol_cls=TimedProtocol, converter_factory=_converter
        )
        self.published: list[Published] = []
        self.output_chars = 0
        self._waiters: list[tuple[Callable[[Published], bool], asyncio.Future[Published]]] = []

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)  # type: ignore[untyped-decorator]
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            codes = [(d.range.start.line, str(d.code)) for d in params.diagnostics]
            handled = time.perf_counter()
            decoded = cast(TimedProtocol, self.protocol).decoded
            arrived, received = decoded.pop((params.uri, params.version), (handled, handled))
            event = Published(handled, params.uri, params.version, codes, received, arrived)
            self.published.append(event)
            for waiter in list(self._waiters):
                predicate, future = waiter
                if not future.done() and predicate(event):
                    future.set_result(event)
                    self._waiters.remove(waiter)

        @self.feature("sessions/output")  # type: ignore[untyped-decorator]
        def on_output(params: Any) -> None:
            self.output_seen(params)

        for method in ("sessions/state", "sessions/kernel", types.WINDOW_LOG_MESSAGE):

            @self.feature(method)  # type: ignore[untyped-decorator]
            def ignore(params: Any) -> None:
                pass

    def output_seen(self, params: Any) -> None:
        """A ``sessions/output`` arrived (subclasses look at more than its size)."""
        self.output_chars += len(str(params.get("output", {}).get("text", "")))

    def expect(self, predicate: Callable[[Published], bool]) -> asyncio.Future[Published]:
        """A future for the next publication matching ``predicate`` (register before acting)."""
        future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    @property
    def pid(self) -> int:
        server = self._server
        assert server is not None
        return server.pid

    async def command(self, name: str, argument: dict[str, Any]) -> Any:
        params = types.ExecuteCommandParams(command=name, arguments=[argument])
        return await self.workspace_execute_command_async(params)

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        self.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        return uri

    def close(self, uri: str) -> None:
        document = types.TextDocumentIdentifier(uri=uri)
        self.text_document_did_close(types.DidCloseTextDocumentParams(text_document=document))

    def change(self, uri: str, version: int, change: types.TextDocumentContentChangeEvent) -> None:
        document = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
        params = types.DidChangeTextDocumentParams(text_document=document, content_changes=[change])
        self.text_document_did_change(params)

    async def hover(self, uri: str, line: int, character: int) -> types.Hover | None:
        params = types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, character),
        )
        return await self.text_document_hover_async(params)


async def start(root: Path, *, state_changes: bool = True) -> BenchClient:
    """A server and a client that, like the VS Code extension, takes partial
    ``sessions/state`` (``state_changes``; without it, every cell each time)."""
    client = BenchClient()
    await client.start_io(*SERVER, cwd=str(root))
    # Before the reading task's first step (start_io has not yielded since it made it).
    assert client._server is not None and client._server.stdout is not None
    cast(TimedProtocol, client.protocol).time_reads(client._server.stdout)
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                experimental={"sessionsStateChanges": True} if state_changes else None,
                text_document=types.TextDocumentClientCapabilities(
                    publish_diagnostics=types.PublishDiagnosticsClientCapabilities(
                        version_support=True
                    )
                ),
            ),
            root_uri=root.as_uri(),
        )
    )
    client.initialized(types.InitializedParams())
    return client


async def stop(client: BenchClient) -> None:
    await asyncio.wait_for(client.shutdown_async(None), TIMEOUT)
    client.exit(None)
    await asyncio.wait_for(client.stop(), TIMEOUT)  # type: ignore[no-untyped-call]


def for_version(uri: str, version: int) -> Callable[[Published], bool]:
    return lambda published: published.uri == uri and published.version == version


def edited_at(uri: str, line: int) -> Callable[[Published], bool]:
    return lambda published: published.uri == uri and (line, "edited") in published.codes


def ms(seconds: float) -> float:
    return seconds * 1000


async def open_and_wait(client: BenchClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    first = client.expect(for_version(uri, 1))
    client.open(path, text)
    await asyncio.wait_for(first, TIMEOUT)
    return uri


# -- the reference notebook: where to edit and where to hover ------------------


def middle_edit_point(lines: list[str]) -> tuple[int, int]:
    """(line, column) just after the name assigned on the first ``frame_N = `` line
    of the middle cell: inserting a digit there renames a definition, as typing does."""
    steps = [i for i, line in enumerate(lines) if line.startswith("# %% Step ")]
    middle = steps[len(steps) // 2]
    line = next(i for i in range(middle, len(lines)) if lines[i].startswith("frame_"))
    return line, lines[line].index(" = ")


def hover_point(lines: list[str]) -> tuple[int, int]:
    """A use of a name defined in another cell, in the second half of the notebook."""
    for i in range(len(lines) // 2, len(lines)):
        column = lines[i].find("len(str(frame_")
        if column >= 0:
            return i, column + len("len(str(")
    raise AssertionError("the reference notebook has no `len(str(frame_…` line")


# -- measurements ---------------------------------------------------------------


async def trivial_round_trips(client: BenchClient, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat + 3):
        started = time.perf_counter()
        await client.command("sessions.parse", {"text": ""})
        samples.append(ms(time.perf_counter() - started))
    return samples[3:]


@dataclasses.dataclass
class EditSamples:
    """Latencies (ms) from each ``didChange`` to its diagnostics (``Published``)."""

    handled: list[float]
    received: list[float]
    arrived: list[float]
    version: int
    """The document's version after the edits."""


async def edit_to_diagnostics(
    client: BenchClient,
    uri: str,
    lines: list[str],
    edits: int,
    version: int,
    pause: float,
    *,
    enter: bool = False,
) -> EditSamples:
    """One-character edits, alternately typed and deleted; each waits for its
    diagnostics, then ``pause`` seconds (0: back to back; 0.1: brisk typing).

    ``enter``: the character is a line break at the end of the line (Enter,
    then Backspace): every cell below moves one line, so its diagnostics and
    its ``sessions/state`` entry (which hold lines) change with it."""
    line, column = middle_edit_point(lines)
    if enter:
        column = len(lines[line])
    typed = "\n" if enter else "7"
    after = types.Position(line + 1, 0) if enter else types.Position(line, column + 1)
    samples = []
    received = []
    arrived = []
    gc.collect()
    gc.freeze()  # the client's own collector is not what is measured (module docstring)
    for n in range(edits + 3):
        await asyncio.sleep(pause)
        version += 1
        done = client.expect(for_version(uri, version))
        if n % 2 == 0:
            where = types.Range(types.Position(line, column), types.Position(line, column))
            text = typed
        else:
            where = types.Range(types.Position(line, column), after)
            text = ""
        started = time.perf_counter()
        client.change(uri, version, types.TextDocumentContentChangePartial(range=where, text=text))
        published = await asyncio.wait_for(done, TIMEOUT)
        samples.append(ms(published.at - started))
        received.append(ms(published.received - started))
        arrived.append(ms(published.arrived - started))
    if (edits + 3) % 2 == 1:  # the last change typed a digit: delete it again
        version += 1
        done = client.expect(for_version(uri, version))
        where = types.Range(types.Position(line, column), after)
        client.change(uri, version, types.TextDocumentContentChangePartial(range=where, text=""))
        await asyncio.wait_for(done, TIMEOUT)
    return EditSamples(samples[3:], received[3:], arrived[3:], version)


async def large_notebook_edits(
    client: BenchClient, folder: Path, line_count: int, edits: int, *, ran: bool = False
) -> tuple[EditSamples, EditSamples, EditSamples]:
    """Issue 12's second size: one-character edits of a ``line_count``-line
    notebook, typing pace and back to back, then Enter and Backspace back to
    back, through the same server.
    ``ran``: with the sidecar of a full run beside it (every cell fresh, so
    the edit makes its dependents stale), written a while before the edits,
    as a user edits after a run."""
    text = sized_reference(line_count, tag="L")
    path = folder / ("large-ran.py" if ran else "large.py")
    if ran:
        path.write_text(text)
        write_ran_sidecar(path, text)
    uri = await open_and_wait(client, path, text)
    if ran:
        await asyncio.sleep(SETTLED_SECONDS + 0.5)  # no write just before the edits
    lines = text.split("\n")
    typing = await edit_to_diagnostics(client, uri, lines, edits, 1, 0.1)
    back_to_back = await edit_to_diagnostics(client, uri, lines, edits, typing.version, 0)
    enter = await edit_to_diagnostics(
        client, uri, lines, edits, back_to_back.version, 0, enter=True
    )
    client.close(uri)
    return typing, back_to_back, enter


async def notebook_document_edits(
    client: BenchClient,
    folder: Path,
    line_count: int,
    edits: int,
    edited_before: int = 0,
    add_cell: bool = False,
) -> EditSamples:
    """The same keystrokes in the notebook view: the notebook opened as a
    notebook document (one text document per cell, as VS Code sends it),
    one-character edits of the middle cell's document, back to back, each
    timed to that cell's diagnostics. Every other cell's diagnostics that the
    server sends for the keystroke are in the way of the next one.

    ``edited_before``: that many other cells, spread over the notebook, first
    get a line added (what a working session leaves): the file is rebuilt
    from every cell edited since the notebook was opened, on each keystroke.

    ``add_cell``: then a new code cell is added a quarter of the way down, as
    the notebook view sends one (no ``raw``): each keystroke's text has that
    cell to insert among the cells read from the file."""
    tag = "A" if add_cell else "E" if edited_before else "N"
    text = sized_reference(line_count, tag=tag)
    path = folder / f"large-notebook-view-{edited_before}{tag}.py"
    path.write_text(text)
    uri = path.as_uri()
    parsed = await client.command("sessions.parse", {"text": text})
    cells = parsed["cells"]
    uris = notebook_documents.cell_uris(uri, parsed)
    opened = client.expect(for_version(uris[-1], 1))
    client.notebook_document_did_open(notebook_documents.did_open(uri, parsed))
    await asyncio.wait_for(opened, TIMEOUT)
    await asyncio.sleep(0.5)
    # The middle step's first ``frame_N = `` line, as in the text document's case.
    steps = [i for i, cell in enumerate(cells) if cell["title"].startswith("Step ")]
    target = steps[len(steps) // 2]
    source_lines = cells[target]["source"].split("\n")
    line = next(i for i, row in enumerate(source_lines) if row.startswith("frame_"))
    column = source_lines[line].index(" = ")
    version = 1
    others = [i for i in steps if i != target]
    for position in (
        others[:: max(1, len(others) // edited_before)][:edited_before] if edited_before else []
    ):
        version += 1
        done = client.expect(for_version(uris[position], version))
        end = types.Position(0, 0)
        edit = notebook_documents.cell_edit(
            uri, version, uris[position], types.Range(end, end), "# edited\n"
        )
        client.notebook_document_did_change(edit)
        await asyncio.wait_for(done, TIMEOUT)
    if add_cell:
        version += 1
        new_uri = f"{uri}#added"
        done = client.expect(for_version(new_uri, 1))
        client.notebook_document_did_change(
            notebook_documents.cell_insert(
                uri, version, steps[len(steps) // 4], new_uri, "added = 1\n"
            )
        )
        await asyncio.wait_for(done, TIMEOUT)
        uris.append(new_uri)  # closed with the others
    handled, received, arrived = [], [], []
    gc.collect()
    gc.freeze()  # the client's own collector is not what is measured (module docstring)
    for n in range(edits + 3 + (edits + 3) % 2):  # an even count: the text ends as it began
        version += 1
        done = client.expect(for_version(uris[target], version))
        typed = n % 2 == 0
        where = types.Range(
            types.Position(line, column), types.Position(line, column if typed else column + 1)
        )
        edit = notebook_documents.cell_edit(uri, version, uris[target], where, "7" if typed else "")
        started = time.perf_counter()
        client.notebook_document_did_change(edit)
        published = await asyncio.wait_for(done, TIMEOUT)
        handled.append(ms(published.at - started))
        received.append(ms(published.received - started))
        arrived.append(ms(published.arrived - started))
    client.notebook_document_did_close(
        types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=uri),
            cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u in uris],
        )
    )
    return EditSamples(handled[3:], received[3:], arrived[3:], version)


async def hovers_while_heavy_edits(
    client: BenchClient, uri: str, text: str, version: int, rounds: int
) -> tuple[list[float], list[float], int]:
    """Replace the whole text (every cell changes), then hover until its diagnostics arrive."""
    lines = text.split("\n")
    line, column = hover_point(lines)
    variants = [text.replace("# context line", "# context row"), text]
    hovers, analyses = [], []
    for n in range(rounds):
        version += 1
        done = client.expect(for_version(uri, version))
        started = time.perf_counter()
        whole = types.TextDocumentContentChangeWholeDocument(text=variants[n % 2])
        client.change(uri, version, whole)
        while not done.done():
            asked = time.perf_counter()
            result = await client.hover(uri, line, column)
            hovers.append(ms(time.perf_counter() - asked))
            if result is None:
                raise AssertionError(f"no hover at {line}:{column}")
        analyses.append(ms(done.result().at - started))
        await asyncio.sleep(0.1)  # let the server finish publishing this round
    return hovers, analyses, version


STREAM_CELL = """\
# %% stream
import sys
chunk = "x" * 1023 + "\\n"
for _ in range({count}):
    sys.stdout.write(chunk)
"""


def megabytes_cell(megabytes: int) -> str:
    """A cell that writes ``megabytes`` MB to stdout as fast as it can (issue 11)."""
    return STREAM_CELL.format(count=megabytes * 1024)


@dataclasses.dataclass
class Streamed:
    hovers: list[float]
    seconds: float
    chars: int


async def hovers_while_streaming(
    client: BenchClient, folder: Path, uri: str, lines: list[str], name: str, cell: str
) -> Streamed:
    """A real kernel runs ``cell`` (text of a one-cell notebook, saved as
    ``name``); meanwhile hover on the reference notebook, one hover after another."""
    line, column = hover_point(lines)
    small = folder / f"warm-{name}"
    small.write_text("# %% warm\nprint('warm')\n")
    await open_and_wait(client, small, small.read_text())
    await client.command("sessions.run", {"uri": small.as_uri(), "mode": "all"})  # kernel up
    stream = folder / name
    stream.write_text(cell)
    stream_uri = await open_and_wait(client, stream, stream.read_text())
    client.output_chars = 0
    started = time.perf_counter()
    run = asyncio.ensure_future(client.command("sessions.run", {"uri": stream_uri, "mode": "all"}))
    hovers = []
    while not run.done():
        asked = time.perf_counter()
        await client.hover(uri, line, column)
        hovers.append(ms(time.perf_counter() - asked))
    result = run.result()
    if not result["ok"]:
        raise AssertionError(f"the streaming cell failed: {result}")
    return Streamed(hovers, time.perf_counter() - started, client.output_chars)


EXTERNAL_NOTEBOOK = "# %% a\na = 1\n\n# %% b\nb = 2\n"
EXTERNAL_CELL_LINES = (0, 3)  # marker lines of cells 0 and 1


def _write_in_place(path: Path, raw: bytes) -> None:
    with open(path, "r+b" if path.exists() else "wb") as f:
        f.write(raw)
        f.truncate()


def _write_by_rename(path: Path, raw: bytes) -> None:
    temp = path.with_name(path.name + ".bench-tmp")
    temp.write_bytes(raw)
    os.replace(temp, path)


def _write_delete_recreate(path: Path, raw: bytes) -> None:
    path.unlink()
    path.write_bytes(raw)


SAVE_STYLES: dict[str, Callable[[Path, bytes], None]] = {
    "in place": _write_in_place,
    "rename": _write_by_rename,
    "delete + recreate": _write_delete_recreate,
}


def _sidecar_variants(folder: Path, notebook: Path) -> list[tuple[bytes, int]]:
    """Two sidecars: one where cell 0's code changed since its run, one where cell 1's did
    (bytes, marker line of the cell that shows ``edited``)."""
    loaded = load_sidecar(sidecar_path(notebook), notebook.name)
    variants = []
    for stale in (0, 1):
        data = dataclasses.replace(
            loaded.data, cells=[dataclasses.replace(r) for r in loaded.data.cells]
        )
        for record in data.cells:
            if record.index == stale:
                # The record ran other code, different in meaning: the engine
                # ignores comment and layout changes (statuses come from the
                # AST), so a changed hash alone no longer makes a cell edited.
                record.code = f"{'ab'[stale]} = {100 + stale}"
                record.hash = code_hash(record.code)
        scratch = folder / f"variant-{stale}.sessions.toml"
        save_sidecar(scratch, data)
        variants.append((scratch.read_bytes(), EXTERNAL_CELL_LINES[stale]))
        scratch.unlink()
    return variants


async def external_writes(
    client: BenchClient, folder: Path, writes: int
) -> dict[str, tuple[list[float], int]]:
    """Per save style: latency from the end of the write to diagnostics that show it,
    and how many writes were never noticed (no such diagnostics within 2 s)."""
    notebook = folder / "external.py"
    notebook.write_text(EXTERNAL_NOTEBOOK)
    process = await asyncio.create_subprocess_exec(
        *SERVER[:3], "run", str(notebook), "-q", stdout=asyncio.subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise AssertionError("`sessions run` of the external-write notebook failed")
    variants = _sidecar_variants(folder, notebook)
    uri = await open_and_wait(client, notebook, EXTERNAL_NOTEBOOK)
    sidecar = sidecar_path(notebook)
    results: dict[str, tuple[list[float], int]] = {}
    for style, write in SAVE_STYLES.items():
        samples, missed = [], 0
        for n in range(writes):
            raw, stale_line = variants[n % 2]
            seen = client.expect(edited_at(uri, stale_line))
            write(sidecar, raw)
            written = time.perf_counter()
            try:
                published = await asyncio.wait_for(seen, 2.0)
                samples.append(ms(published.at - written))
            except TimeoutError:
                missed += 1
            await asyncio.sleep(0.15)  # past the watcher's debounce: writes are separate saves
        results[style] = (samples, missed)
    return results


async def unopened_rereads(
    client: BenchClient, folder: Path, writes: int
) -> tuple[list[float], int]:
    """An unopened notebook changed on disk: does the next ``sessions.state`` see it?"""
    notebook = folder / "closed.py"
    samples, missed = [], 0
    notebook.write_text("# %% c0\nv0 = 0\n")
    for n in range(writes):
        style = list(SAVE_STYLES.values())[n % 3]
        cells = n % 5 + 2
        text = "".join(f"# %% c{i}\nv{i} = {i}\n\n" for i in range(cells))
        style(notebook, text.encode())
        started = time.perf_counter()
        state = await client.command("sessions.state", {"uri": notebook.as_uri()})
        samples.append(ms(time.perf_counter() - started))
        if len(state["cells"]) != cells:
            missed += 1
    return samples, missed


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def distinct_notebooks(count: int) -> list[str]:
    """``count`` 250-cell reference notebooks that share no cell: each has its
    own seed and its own tag in every name, title and heading. With seeds
    alone, 20 % of the cells were the same in every notebook (the markdown
    notes and the cells that draw no random names), so their analyses were
    cached once and the memory case measured fewer than 20 notebooks."""
    texts = [reference_notebook(seed=100 + n, tag=f"nb{n}_") for n in range(count)]
    seen: set[str] = set()
    for text in texts:
        hashes = {cell.hash for cell in parse(text).cells}
        if hashes & seen:
            raise AssertionError("two memory-case notebooks share a cell")
        seen |= hashes
    return texts


async def memory_with_open_notebooks(folder: Path, count: int) -> tuple[float, float]:
    """(idle RSS, RSS with ``count`` distinct 250-cell notebooks open and analysed)."""
    texts = distinct_notebooks(count)
    client = await start(folder)
    try:
        await client.command("sessions.parse", {"text": ""})
        await asyncio.sleep(1.0)
        idle = rss_mb(client.pid)
        for n, text in enumerate(texts):
            path = folder / f"notebook_{n:02}.py"
            path.write_text(text)
            await open_and_wait(client, path, text)
        await asyncio.sleep(1.0)
        return idle, rss_mb(client.pid)
    finally:
        await stop(client)


async def main_large(line_count: int, edits: int) -> None:
    """Only the large-notebook edits (``--only-large``), for a client that takes
    partial ``sessions/state`` (as VS Code does) and for one that does not."""
    rows: list[Row] = []
    # Issue 12: a keystroke ≤ 10 ms at 5,000 lines, ≤ 20 ms at 50,000.
    budget = "p50 ≤ 10 (issue 12)" if line_count <= 5_000 else "p50 ≤ 20 (issue 12)"
    with tempfile.TemporaryDirectory(prefix="sessions-bench-lsp-") as tmp:
        for state_changes, label in ((True, ""), (False, ", full state")):
            client = await start(Path(tmp), state_changes=state_changes)
            try:
                floor = await trivial_round_trips(client, 50)
                floor_ms = sorted(floor)[len(floor) // 2]
                typing, back_to_back, enter = await large_notebook_edits(
                    client, Path(tmp), line_count, edits
                )
                if state_changes:  # the same after a run, and in the notebook view
                    after_run = await large_notebook_edits(
                        client, Path(tmp), line_count, edits, ran=True
                    )
                    notebook_view = await notebook_document_edits(
                        client, Path(tmp), line_count, edits
                    )
                    notebook_view_edited = await notebook_document_edits(
                        client, Path(tmp), line_count, edits, edited_before=30
                    )
                    notebook_view_added = await notebook_document_edits(
                        client, Path(tmp), line_count, edits, edited_before=30, add_cell=True
                    )
            finally:
                await stop(client)
            rows.append(
                Row(f"trivial request round trip (floor){label}", floor, "", floor_ms, FLOOR)
            )
            series = [("typing", typing), ("back to back", back_to_back)]
            series += [("Enter / Backspace, back to back (the cells below move)", enter)]
            if state_changes:
                series += [("typing, after a run", after_run[0])]
                series += [("back to back, after a run", after_run[1])]
                series += [("back to back, notebook view (a cell document)", notebook_view)]
                series += [("back to back, notebook view, 30 cells edited", notebook_view_edited)]
                series += [
                    ("back to back, notebook view, 30 edited + a cell added", notebook_view_added)
                ]
            for name, samples in series:
                rows.append(
                    Row(
                        f"didChange → diagnostics received, {name}{label}",
                        samples.received,
                        budget if not label else "",
                        floor_ms,
                    )
                )
            for name, samples in series:
                rows.append(
                    Row(
                        f"didChange → diagnostics' bytes read, {name}{label}",
                        samples.arrived,
                        "",
                        floor_ms,
                    )
                )
            for name, samples in series[:3]:
                rows.append(
                    Row(
                        f"didChange → client handler ran, {name}{label}",
                        samples.handled,
                        "",
                        floor_ms,
                    )
                )
    print_table(f"Language server, {line_count:,}-line notebook (ms)", rows)


async def main(
    edits: int,
    heavy_rounds: int,
    writes: int,
    megabytes: int,
    big_megabytes: int,
    copies: int,
    large_lines: int,
) -> None:
    text = reference_notebook()
    lines = text.split("\n")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sessions-bench-lsp-") as tmp:
        folder = Path(tmp)
        reference = folder / "reference.py"
        reference.write_text(text)
        client = await start(folder)
        try:
            floor = await trivial_round_trips(client, 50)
            floor_ms = sorted(floor)[len(floor) // 2]

            def row(case: str, samples: list[float], budget: str) -> Row:
                return Row(case, samples, budget, floor_ms, FLOOR)

            rows.append(row("trivial request round trip (floor)", floor, ""))
            opened = time.perf_counter()
            uri = await open_and_wait(client, reference, text)
            rows.append(
                row("didOpen → diagnostics (5,000 lines)", [ms(time.perf_counter() - opened)], "")
            )
            idle_hover = []
            line, column = hover_point(lines)
            for _ in range(30):
                asked = time.perf_counter()
                await client.hover(uri, line, column)
                idle_hover.append(ms(time.perf_counter() - asked))
            rows.append(row("hover, server idle", idle_hover, ""))
            edited = await edit_to_diagnostics(client, uri, lines, edits, 1, 0.1)
            budget = "p50 ≤ 15, p95 ≤ 40"
            rows.append(row("didChange (1 char) → diagnostics, typing", edited.handled, budget))
            edited = await edit_to_diagnostics(client, uri, lines, edits, edited.version, 0)
            rows.append(
                row("didChange (1 char) → diagnostics, back to back", edited.handled, budget)
            )
            version = edited.version
            typing, back_to_back, enter = await large_notebook_edits(
                client, folder, large_lines, edits
            )
            large = f"{large_lines:,} lines"
            budget_large = "p50 ≤ 20 (issue 12)"
            rows.append(
                row(f"didChange → diagnostics received, {large}", typing.received, budget_large)
            )
            rows.append(row(f"… back to back, {large}", back_to_back.received, budget_large))
            rows.append(row(f"… Enter / Backspace, {large}", enter.received, budget_large))
            hovers, analyses, version = await hovers_while_heavy_edits(
                client, uri, text, version, heavy_rounds
            )
            rows.append(row("whole-text didChange → diagnostics", analyses, ""))
            rows.append(row("hover while a whole-text edit is analysed", hovers, "p95 ≤ 20"))
            external = await external_writes(client, folder, writes)
            missed_notes = []
            for style, (samples, missed) in external.items():
                noticed = 100 * (writes - missed) / writes
                rows.append(
                    row(
                        f"sidecar write ({style}) → diagnostics",
                        samples,
                        f"p95 ≤ 100, {noticed:.0f} % noticed",
                    )
                )
                missed_notes.append(f"{style}: {writes - missed}/{writes} noticed")
            samples, missed = await unopened_rereads(client, folder, writes)
            rows.append(
                row(
                    "unopened .py changed → next sessions.state",
                    samples,
                    f"{100 * (writes - missed) / writes:.0f} % seen",
                )
            )
            streaming_notes = []
            cells = {f"{size} MB": megabytes_cell(size) for size in (megabytes, big_megabytes)}
            cells |= {name: f"# %% stream\n{code}" for name, code in STREAM_CELLS.items()}
            for number, (label, cell) in enumerate(cells.items()):
                streamed = await hovers_while_streaming(
                    client, folder, uri, lines, f"stream{number}.py", cell
                )
                rows.append(row(f"hover while a cell streams {label}", streamed.hovers, "p95 ≤ 20"))
                slowest = f"{max(streamed.hovers):.0f} ms" if streamed.hovers else "—"
                streaming_notes.append(
                    f"streaming {label}: {streamed.chars / 1e6:.2f} M characters forwarded in "
                    f"{streamed.seconds:.1f} s, {len(streamed.hovers)} hovers, slowest {slowest}"
                )
        finally:
            await stop(client)
        memory_folder = folder / "memory"
        memory_folder.mkdir()
        idle, loaded = await memory_with_open_notebooks(memory_folder, copies)
    print_table("Language server (ms; 5,000-line reference notebook)", rows)
    print(f"  {', '.join(missed_notes)}")
    for note in streaming_notes:
        print(f"  {note}")
    print("\nLanguage server memory (MB, VmRSS)")
    print(f"{'case':<44} {'RSS MB':>10} {'floor MB':>9} {'ratio':>7}  budget")
    print(f"{'idle server, nothing open (floor)':<44} {idle:10.1f} {idle:9.1f} {1:7.2f}")
    case = f"{copies} open 250-cell notebooks, analysed"
    print(f"{case:<44} {loaded:10.1f} {idle:9.1f} {loaded / idle:7.2f}  ≤ 150 MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--heavy", type=int, default=20, help="whole-text edits")
    parser.add_argument("--writes", type=int, default=20, help="external writes per save style")
    parser.add_argument("--megabytes", type=int, default=10)
    parser.add_argument("--big-megabytes", type=int, default=200, help="the second streaming case")
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--large-lines", type=int, default=50_000, help="the large notebook")
    parser.add_argument("--only-large", action="store_true", help="only the large notebook's edits")
    options = parser.parse_args()
    if options.only_large:
        asyncio.run(main_large(options.large_lines, options.edits))
        sys.exit(0)
    asyncio.run(
        main(
            options.edits,
            options.heavy,
            options.writes,
            options.megabytes,
            options.big_megabytes,
            options.copies,
            options.large_lines,
        )
    )
