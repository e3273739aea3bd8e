"""Language-server start (issue 12: spawn → ``initialize`` answered ≤ 300 ms).

Each sample spawns a fresh process and speaks JSON-RPC to it over pipes with
the least client there can be (a few lines of framing here, no pygls), so what
is timed is the server's own start:

- ``sessions lsp``: spawn → the ``initialize`` response; then → the first
  ``publishDiagnostics`` of the 5,000-line reference notebook after
  ``initialized`` + ``didOpen`` (what a user waits for before statuses show);
- the same with an empty start-up cache (``SESSIONS_STARTUP_CACHE`` pointed
  at a new folder: the first start on a machine, or after an upgrade);
- floors, in the same rounds: an interpreter that starts and exits
  (``python -c pass``); one that only imports pygls's language server and
  exits; and the least a pygls server can cost: a ``LanguageServer`` with no
  feature of its own answering the same ``initialize``, plainly and with our
  start-up technique (``sessions.lsp.startup_cache`` and no full collections
  while it starts, ``cli/lsp.py``), the floor our server is compared with;
- a peer: ``ruff server`` to ``initialize`` (native code, no interpreter).

Rounds interleave the cases (timing.interleaved), so load on this shared
machine lands on all of them alike. Every process runs with
``PYTHONDONTWRITEBYTECODE`` unset: an installed package has its ``.pyc``
files (pip compiles them), and a machine that forbids them (this one sets
it) would otherwise time compiling our sources from scratch at every start.

Run: ``.venv/bin/python bench/bench_start.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_notebook import reference_notebook
from timing import Case, Row, interleaved, print_table

SERVER = [sys.executable, "-m", "sessions.cli", "lsp", "--log-level", "WARNING"]
BARE_PYGLS = "from pygls.lsp.server import LanguageServer; LanguageServer('floor', '0').start_io()"
BARE_PYGLS_CACHED = (
    "from sessions.lsp import startup_cache; startup_cache.begin(); "
    "import gc; gc.set_threshold(700, 10, 1_000_000); " + BARE_PYGLS
)


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def _receive(stream: BinaryIO) -> dict[str, Any]:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("the server closed its stdout")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    result: dict[str, Any] = json.loads(stream.read(length))
    return result


def _vscode_capabilities() -> dict[str, Any]:
    """What VS Code 1.65 sends in ``initialize`` (recorded by pytest-lsp): a real
    client's capabilities, whose structuring costs the server more than a stub's."""
    recorded = resources.files("pytest_lsp.clients") / "visual_studio_code_v1.65.2.json"
    capabilities: dict[str, Any] = json.loads(recorded.read_text())["capabilities"]
    return capabilities


CAPABILITIES = _vscode_capabilities()


def _initialize(root: Path) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "processId": os.getpid(),
            "rootUri": root.as_uri(),
            "clientInfo": {"name": "bench_start"},
            "capabilities": CAPABILITIES,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        },
    }


class Start:
    """One spawn of a server; records when ``initialize`` and the first diagnostics arrived."""

    def __init__(self, command: list[str], root: Path, env: dict[str, str]) -> None:
        self.command, self.root, self.env = command, root, env
        self.initialize_ms: list[float] = []
        self.diagnostics_ms: list[float] = []

    def run(self, notebook: Path | None) -> None:
        started = time.perf_counter()
        process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
            env=self.env,
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            _send(process.stdin, _initialize(self.root))
            while "id" not in (message := _receive(process.stdout)):
                pass
            if "result" not in message:
                raise RuntimeError(f"initialize failed: {message}")
            self.initialize_ms.append((time.perf_counter() - started) * 1000)
            if notebook is None:
                return
            _send(process.stdin, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
            document = {
                "uri": notebook.as_uri(),
                "languageId": "python",
                "version": 1,
                "text": notebook.read_text(),
            }
            _send(
                process.stdin,
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {"textDocument": document},
                },
            )
            while _receive(process.stdout).get("method") != "textDocument/publishDiagnostics":
                pass
            self.diagnostics_ms.append((time.perf_counter() - started) * 1000)
        finally:
            process.kill()
            process.wait()


def main(repeat: int) -> None:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sessions-bench-start-") as tmp:
        root = Path(tmp)
        notebook = root / "reference.py"
        notebook.write_text(reference_notebook())
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        warm_env = dict(base_env, SESSIONS_STARTUP_CACHE=str(root / "cache-warm"))
        cold_root = root / "cache-cold"
        cold_env = dict(base_env, SESSIONS_STARTUP_CACHE=str(cold_root))
        warm = Start(SERVER, root, warm_env)
        cold = Start(SERVER, root, cold_env)
        bare = Start([sys.executable, "-c", BARE_PYGLS], root, base_env)
        bare_cached = Start([sys.executable, "-c", BARE_PYGLS_CACHED], root, warm_env)
        cases = [
            Case(
                "python -c pass",
                lambda: subprocess.run([sys.executable, "-c", "pass"], env=base_env),
            ),
            Case(
                "import pygls.lsp.server",
                lambda: subprocess.run(
                    [sys.executable, "-c", "import pygls.lsp.server"], env=base_env
                ),
            ),
            Case("bare pygls server", lambda: bare.run(None)),
            Case("bare pygls server, start-up cache", lambda: bare_cached.run(None)),
            Case("sessions lsp", lambda: warm.run(notebook)),
            Case(
                "sessions lsp, empty start-up cache",
                lambda: cold.run(None),
                before=lambda: shutil.rmtree(cold_root, ignore_errors=True),
            ),
        ]
        ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
        peer: Start | None = None
        if Path(ruff).exists():
            peer = Start([ruff, "server"], root, base_env)
            cases.append(Case("ruff server", lambda: peer.run(None) if peer else None))
        samples = interleaved(cases, repeat=repeat, warmup=1)
    floor_name = "bare pygls server → initialize, with the start-up cache"
    floor = sorted(bare_cached.initialize_ms[1:])[len(bare_cached.initialize_ms[1:]) // 2]
    rows.append(Row("floor: python -c pass", samples["python -c pass"], ""))
    rows.append(Row("floor: import pygls.lsp.server", samples["import pygls.lsp.server"], ""))
    rows.append(Row("floor: bare pygls server → initialize", bare.initialize_ms[1:], ""))
    rows.append(Row(f"floor: {floor_name[:46]}", bare_cached.initialize_ms[1:], ""))
    rows.append(
        Row(
            "sessions lsp → initialize answered",
            warm.initialize_ms[1:],
            "≤ 300 ms",
            floor,
            floor_name,
        )
    )
    rows.append(
        Row(
            "sessions lsp → first diagnostics (5,000 lines)",
            warm.diagnostics_ms[1:],
            "",
            floor,
            floor_name,
        )
    )
    rows.append(
        Row(
            "sessions lsp → initialize, empty start-up cache",
            cold.initialize_ms[1:],
            "first start only",
            floor,
            floor_name,
        )
    )
    if peer is not None:
        rows.append(Row("peer: ruff server → initialize", peer.initialize_ms[1:], ""))
    print_table("Language server start (ms from spawn; a fresh process each sample)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    main(parser.parse_args().repeat)
