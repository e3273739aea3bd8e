"""The extension's copy of the wire types agrees with what the server speaks.

``extension/src/protocol.ts`` declares by hand what the language server sends
and accepts beyond plain LSP (docs/protocol.md). Nothing ties it to the
Python code, so a renamed key or a new command would only show up as an
``undefined`` in the editor. These tests compare the two:

- the ``Command`` object's names with ``sessions.lsp.commands.COMMANDS``;
- the ``Notification`` object's methods with the ``sessions/...`` methods in
  the server's source (every string constant in ``sessions/lsp/`` that is
  exactly such a method name: the server has no requests of its own in that
  namespace, so they are the notifications it sends);
- the keys of a real ``sessions.state`` reply (the command run in-process on
  a notebook with a sidecar record, no kernel) with ``NotebookState``,
  ``KernelInfo`` and ``CellState``, and those of a real ``sessions/state``
  notification with ``StateNotification`` and ``CellState``.

A key the server sends must be declared in the interface; a key the
interface does not mark optional (``?``) must be in every object sent. The
last test feeds the same checks a doctored copy of protocol.ts, so a checker
that stopped seeing drift would fail too.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sessions.cache.records import CellRecord, SidecarData
from sessions.cache.sidecar import SidecarStore, sidecar_path
from sessions.format.files import read_notebook_text
from sessions.format.notebook import parse
from sessions.lsp import commands
from sessions.lsp.commands import COMMANDS, state_command
from sessions.lsp.progress import RunProgress
from sessions.lsp.workspace import NotebookWorkspace

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "extension").is_dir())
PROTOCOL_TS = ROOT / "extension" / "src" / "protocol.ts"
LSP_PACKAGE = Path(commands.__file__).resolve().parent

NOTIFICATION_METHOD = re.compile(r"sessions/[A-Za-z]+")

# -- the TypeScript side --------------------------------------------------------

Fields = dict[str, bool]
"""Key -> whether the interface marks it optional."""

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_INTERFACE = re.compile(r"^export interface (\w+) \{\n(.*?)^\}", re.DOTALL | re.MULTILINE)
_FIELD = re.compile(r"(\w+)(\?)?:\s*[^;]+;")
_INDEX_SIGNATURE = re.compile(r"\[\w+: \w+\]:\s*[^;]+;")
_CONST_OBJECT = re.compile(
    r"^export const (\w+) = \{\n(.*?)^\} as const;", re.DOTALL | re.MULTILINE
)
_ENTRY = re.compile(r'(\w+):\s*"([^"]*)",?')


def ts_interfaces(text: str) -> dict[str, Fields]:
    """Every ``export interface`` of ``text``: name -> its fields.

    Understands what protocol.ts uses, one ``key?: type;`` per line and index
    signatures (skipped); anything else in an interface body (a nested object
    type, a method) fails here rather than being misread.
    """
    interfaces: dict[str, Fields] = {}
    for name, body in _INTERFACE.findall(_COMMENTS.sub("", text)):
        fields: Fields = {}
        for line in filter(None, (line.strip() for line in body.splitlines())):
            if _INDEX_SIGNATURE.fullmatch(line):
                continue
            match = _FIELD.fullmatch(line)
            assert match is not None and "{" not in line, (
                f"protocol.ts, interface {name}: cannot read {line!r}"
            )
            fields[match[1]] = match[2] == "?"
        interfaces[name] = fields
    return interfaces


def ts_const_object(text: str, name: str) -> dict[str, str]:
    """The string values of ``export const <name> = {...} as const``: key -> value."""
    objects = dict(_CONST_OBJECT.findall(_COMMENTS.sub("", text)))
    assert name in objects, f"protocol.ts declares no `export const {name} = {{...}} as const`"
    entries: dict[str, str] = {}
    for line in filter(None, (line.strip() for line in objects[name].splitlines())):
        match = _ENTRY.fullmatch(line)
        assert match is not None, f"protocol.ts, {name}: cannot read {line!r}"
        entries[match[1]] = match[2]
    return entries


# -- the comparisons --------------------------------------------------------------


def key_drift(objects: Iterable[Mapping[str, Any]], declared: Fields, where: str) -> list[str]:
    """Keys sent but not declared, and required keys missing from an object sent."""
    objects = list(objects)
    assert objects, f"{where}: nothing sent to compare with"
    problems = [
        f"{where}: the server sends `{key}`, which protocol.ts does not declare"
        for key in sorted(set().union(*objects) - set(declared))
    ]
    problems += [
        f"{where}: protocol.ts requires `{key}`, which the server does not always send"
        for key, optional in declared.items()
        if not optional and any(key not in one for one in objects)
    ]
    return problems


def name_drift(python: Iterable[str], typescript: Iterable[str], what: str) -> list[str]:
    server, extension = set(python), set(typescript)
    missing = [f"{what} `{n}`: the server has it, protocol.ts does not" for n in server - extension]
    extra = [f"{what} `{n}`: protocol.ts has it, the server does not" for n in extension - server]
    return sorted(missing) + sorted(extra)


def command_drift(ts: str) -> list[str]:
    return name_drift(COMMANDS, ts_const_object(ts, "Command").values(), "command")


def notification_drift(ts: str, methods: Iterable[str]) -> list[str]:
    return name_drift(methods, ts_const_object(ts, "Notification").values(), "notification")


def state_reply_drift(ts: str, reply: Mapping[str, Any]) -> list[str]:
    interfaces = ts_interfaces(ts)
    return [
        *key_drift([reply], interfaces["NotebookState"], "sessions.state reply (NotebookState)"),
        *key_drift(
            [reply["kernel"]], interfaces["KernelInfo"], "sessions.state `kernel` (KernelInfo)"
        ),
        *key_drift(reply["cells"], interfaces["CellState"], "sessions.state `cells` (CellState)"),
    ]


def state_notification_drift(ts: str, params: Mapping[str, Any]) -> list[str]:
    interfaces = ts_interfaces(ts)
    where = "sessions/state params"
    return [
        *key_drift([params], interfaces["StateNotification"], f"{where} (StateNotification)"),
        *key_drift(params["cells"], interfaces["CellState"], f"{where} `cells` (CellState)"),
    ]


# -- the Python side ---------------------------------------------------------------


def notification_methods() -> set[str]:
    """Every string constant in ``sessions/lsp/`` that is a ``sessions/...`` method."""
    found: set[str] = set()
    for path in sorted(LSP_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and NOTIFICATION_METHOD.fullmatch(node.value)
            ):
                found.add(node.value)
    assert found, f"no sessions/... method in {LSP_PACKAGE}: has the server moved?"
    return found


NOTEBOOK = """\
# %% load
x = 1
print(x)

# %% [markdown]
# Some text.

# %%
y = x + 1
"""


class _Client:
    """What ``NotebookWorkspace`` needs of the protocol server; keeps the notifications."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sent: list[tuple[str, Any]] = []

    def notify(self, method: str, params: Any) -> None:
        # Params may come as JSON text already (lsp/encoded.py): the server sends them as is.
        self.sent.append((method, json.loads(params) if isinstance(params, str) else params))

    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        pass

    def refresh_code_lenses(self) -> None:
        pass

    def encoding(self) -> str:
        return "utf-16"

    def declared_folders(self) -> list[Path]:
        return [self.folder]

    def new_progress(self) -> RunProgress:
        raise AssertionError("nothing runs here")

    def state_changes_only(self) -> bool:
        return False


@dataclass(frozen=True)
class Sent:
    reply: dict[str, Any]
    """What ``sessions.state`` answered."""
    notification: dict[str, Any]
    """The params of the ``sessions/state`` the server sent for the open document."""


def write_record(path: Path) -> None:
    """A sidecar record with outputs for the first cell, so cells with and without one are sent."""
    cell = parse(read_notebook_text(path)).cells[0]
    record = CellRecord(
        hash=cell.hash,
        index=0,
        run=1,
        execution_count=1,
        duration=0.01,
        outputs=[{"output_type": "stream", "name": "stdout", "text": "1\n"}],
        code=cell.code,
    )

    def change(data: SidecarData) -> None:
        data.cells = [record]
        data.run_counter = 1

    SidecarStore(sidecar_path(path), path.name).update(change)


async def gather_sent(folder: Path) -> Sent:
    path = folder / "notebook.py"
    path.write_text(NOTEBOOK, encoding="utf-8")
    write_record(path)
    client = _Client(folder)
    workspace = NotebookWorkspace(client)
    try:
        reply = await state_command(workspace, {"uri": path.as_uri()})
        workspace.open_document(path.as_uri(), NOTEBOOK, 1, "text")
        state = workspace.state_for(path.as_uri())
        assert state is not None
        await state.current_snapshot()  # analysed and published
    finally:
        await workspace.shutdown_kernels()
    published = [params for method, params in client.sent if method == "sessions/state"]
    assert published, f"no sessions/state among {[method for method, _ in client.sent]}"
    return Sent(reply, published[-1])


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    return asyncio.run(gather_sent(tmp_path_factory.mktemp("drift")))


@pytest.fixture(scope="module")
def protocol_ts() -> str:
    return PROTOCOL_TS.read_text(encoding="utf-8")


# -- the tests --------------------------------------------------------------------


def test_command_names(protocol_ts: str) -> None:
    assert command_drift(protocol_ts) == []


def test_notification_names(protocol_ts: str) -> None:
    assert notification_drift(protocol_ts, notification_methods()) == []


def test_state_reply_keys(protocol_ts: str, sent: Sent) -> None:
    assert {"outputs", "outputsFrom"} <= set(sent.reply["cells"][0]), "the page reached no cell"
    assert state_reply_drift(protocol_ts, sent.reply) == []


def test_state_notification_keys(protocol_ts: str, sent: Sent) -> None:
    assert state_notification_drift(protocol_ts, sent.notification) == []


Check = Callable[[str, Sent], list[str]]

DRIFTS: dict[str, tuple[str, str, Check, str]] = {
    "renamed cell key": (
        "  endLine: number;",
        "  endLineNumber: number;",
        lambda ts, sent: state_reply_drift(ts, sent.reply),
        "the server sends `endLine`",
    ),
    "missing kernel key": (
        "  connectionFile?: string | null;\n",
        "",
        lambda ts, sent: state_reply_drift(ts, sent.reply),
        "the server sends `connectionFile`",
    ),
    "required key never sent": (
        "  nextCursor?: string | null;",
        "  nextCursor?: string | null;\n  pages: number;",
        lambda ts, sent: state_reply_drift(ts, sent.reply),
        "protocol.ts requires `pages`",
    ),
    "optional key made required": (
        "  title?: string | null;\n  line: number;",
        "  title?: string | null;\n  line: number;\n  outputsTotal: number;",
        lambda ts, sent: state_notification_drift(ts, sent.notification),
        "protocol.ts requires `outputsTotal`",
    ),
    "page key sent only in the reply": (
        "  outputs?: NbOutput[];",
        "  outputs: NbOutput[];",
        lambda ts, sent: state_notification_drift(ts, sent.notification),
        "protocol.ts requires `outputs`",
    ),
    "renamed command": (
        'clearOutputs: "sessions.clearOutputs",',
        'clearOutputs: "sessions.clearOutput",',
        lambda ts, sent: command_drift(ts),
        "command `sessions.clearOutputs`: the server has it",
    ),
    "extra command": (
        'state: "sessions.state",',
        'state: "sessions.state",\n  stats: "sessions.stats",',
        lambda ts, sent: command_drift(ts),
        "command `sessions.stats`: protocol.ts has it",
    ),
    "missing notification": (
        '  output: "sessions/output",\n',
        "",
        lambda ts, sent: notification_drift(ts, notification_methods()),
        "notification `sessions/output`: the server has it",
    ),
}


@pytest.mark.parametrize("drift", DRIFTS, ids=list(DRIFTS))
def test_drift_is_caught(protocol_ts: str, sent: Sent, drift: str) -> None:
    """The checks report a doctored copy of protocol.ts (the file itself is not touched)."""
    old, new, check, expected = DRIFTS[drift]
    assert protocol_ts.count(old) == 1, f"protocol.ts changed: update the {drift!r} case"
    assert check(protocol_ts, sent) == []
    problems = check(protocol_ts.replace(old, new), sent)
    assert any(expected in problem for problem in problems), problems


def test_the_reader_refuses_what_it_cannot_read(protocol_ts: str) -> None:
    nested = protocol_ts.replace("  line: number;", "  span: { start: number; end: number };")
    with pytest.raises(AssertionError, match="cannot read"):
        ts_interfaces(nested)
