"""Pure pieces of the language server: LSP positions, output batching, settings."""

from __future__ import annotations

from sessions.lsp.outputs_stream import NOTIFICATION_CHARS, OutputForwarder
from sessions.lsp.positions import LineIndex, apply_change, from_client_column, to_client_column
from sessions.lsp.settings import DEFAULTS, Settings, read_settings, settings_section


def test_columns_count_utf16_code_units() -> None:
    line = "s = '😀é' + x"
    x = line.index("x")
    assert to_client_column(line, x, "utf-16") == x + 1  # the emoji takes two units
    assert from_client_column(line, x + 1, "utf-16") == x
    assert to_client_column(line, x, "utf-8") == x + 4
    assert to_client_column(line, x, "utf-32") == x


def test_lines_break_only_where_lsp_breaks_them() -> None:
    text = "a\x0cb\nc\r\nd\re"
    index = LineIndex(text)
    assert [index.line_text(i) for i in range(4)] == ["a\x0cb", "c", "d", "e"]
    # Replace "b" on line 0 (after a form feed, which is not a line break in LSP).
    assert apply_change(text, (0, 2), (0, 3), "B", "utf-16") == "a\x0cB\nc\r\nd\re"
    assert apply_change(text, (3, 0), (3, 1), "E\n", "utf-16") == "a\x0cb\nc\r\nd\rE\n"


def test_forwarder_batches_streams_and_passes_a_deferred_clear_on() -> None:
    forwarder = OutputForwarder()
    messages = [
        {"output_type": "stream", "name": "stdout", "text": "a"},
        {"output_type": "stream", "name": "stdout", "text": "b"},
        {"output_type": "clear_output", "wait": True},
        {"output_type": "stream", "name": "stdout", "text": "c"},
        {"output_type": "stream", "name": "stdout", "text": "d"},
    ]
    for message in messages[:2]:
        forwarder.feed(message)
    assert forwarder.can_wait
    assert forwarder.take() == [{"output_type": "stream", "name": "stdout", "text": "ab"}]
    for message in messages[2:]:
        forwarder.feed(message)
    assert not forwarder.can_wait
    # The client applies the deferred clear itself (docs/protocol.md).
    assert forwarder.take() == [
        {"output_type": "clear_output", "wait": True},
        {"output_type": "stream", "name": "stdout", "text": "cd"},
    ]
    assert not forwarder.pending and forwarder.can_wait


def test_forwarder_batching_is_linear_in_the_text() -> None:
    # 200,000 one-line chunks in one batch: joined once, not re-joined per chunk.
    forwarder = OutputForwarder()
    for i in range(200_000):
        forwarder.feed({"output_type": "stream", "name": "stdout", "text": f"{i}\n"})
    sent = forwarder.take()
    assert "".join(o["text"] for o in sent) == "".join(f"{i}\n" for i in range(200_000))


def test_settings_sections_and_fallbacks() -> None:
    assert settings_section({"sessions": {"onRun": "autorun"}}) == {"onRun": "autorun"}
    assert settings_section({"runUpstream": False}) == {"runUpstream": False}
    assert settings_section({"sessions.python": "/p/python"}) == {"python": "/p/python"}
    assert settings_section(None) is None
    settings, warnings = read_settings(
        {"python": "/p/python", "onRun": "autorun", "runUpstream": False, "outputCap": 10}
    )
    assert settings == Settings("/p/python", "autorun", False, 10) and warnings == []
    settings, warnings = read_settings({"onRun": 3, "outputCap": True, "python": 7})
    assert settings == DEFAULTS
    assert len(warnings) == 3 and all("using the default" in w for w in warnings)


def test_forwarder_passes_display_updates_through() -> None:
    forwarder = OutputForwarder()
    display = {
        "output_type": "display_data",
        "data": {"text/plain": "1"},
        "metadata": {},
        "transient": {"display_id": "d"},
    }
    update = {**display, "output_type": "update_display_data", "data": {"text/plain": "2"}}
    sent = []
    for message in (
        {"output_type": "stream", "name": "stdout", "text": "x\r"},
        display,
        {"output_type": "stream", "name": "stdout", "text": "y"},
        update,
    ):
        forwarder.feed(message)
        sent += forwarder.take()
    assert [m["output_type"] for m in sent] == [
        "stream",
        "display_data",
        "stream",
        "update_display_data",
    ]


def test_forwarder_coalesces_updates_of_one_display() -> None:
    """Of several pending updates of one display_id only the last is sent, where
    it was; other displays, streams and the order of the rest are kept."""
    forwarder = OutputForwarder()

    def update(display_id: str, value: int) -> dict[str, object]:
        return {
            "output_type": "update_display_data",
            "data": {"text/plain": str(value)},
            "metadata": {},
            "transient": {"display_id": display_id},
        }

    forwarder.feed({"output_type": "stream", "name": "stdout", "text": "a"})
    for value in range(10_000):
        forwarder.feed(update("bar", value))
        forwarder.feed(update("other", value % 3))
        forwarder.feed({"output_type": "stream", "name": "stdout", "text": "."})
    assert forwarder.can_wait
    assert forwarder.take() == [
        {"output_type": "stream", "name": "stdout", "text": "a" + "." * 9_999},
        update("bar", 9_999),
        update("other", 9_999 % 3),
        {"output_type": "stream", "name": "stdout", "text": "."},
    ]
    # A display_data is sent at once (with what waits), and starts a new batch.
    forwarder.feed(update("bar", 1))
    forwarder.feed({"output_type": "display_data", "data": {}, "metadata": {}})
    assert not forwarder.can_wait
    assert [m["output_type"] for m in forwarder.take()] == ["update_display_data", "display_data"]
    # Without a display_id an update is passed on as it is.
    forwarder.feed({"output_type": "update_display_data", "data": {}, "metadata": {}})
    forwarder.feed({"output_type": "update_display_data", "data": {}, "metadata": {}})
    assert len(forwarder.take()) == 2


def test_forwarder_cuts_big_stream_text_into_bounded_notifications() -> None:
    """25 MB of text pending: notifications of at most NOTIFICATION_CHARS, cut
    after a line break; with a budget the rest waits, in order, before what
    followed it."""
    forwarder = OutputForwarder()
    line = "x" * 99 + "\n"
    count = 3 * NOTIFICATION_CHARS // len(line)
    forwarder.feed({"output_type": "stream", "name": "stdout", "text": line * count})
    forwarder.feed({"output_type": "stream", "name": "stderr", "text": "e\n"})
    first = forwarder.take(NOTIFICATION_CHARS)
    assert len(first) == 1 and len(first[0]["text"]) <= NOTIFICATION_CHARS
    assert first[0]["text"].endswith("\n")
    assert forwarder.pending and forwarder.can_wait
    rest = forwarder.take()
    assert all(len(o["text"]) <= NOTIFICATION_CHARS for o in rest)
    assert [o["name"] for o in rest][-1] == "stderr"
    assert "".join(o["text"] for o in first + rest if o["name"] == "stdout") == line * count
    assert not forwarder.pending
    # Without a line break a long text is cut anyway.
    forwarder.feed(
        {"output_type": "stream", "name": "stdout", "text": "y" * (NOTIFICATION_CHARS + 5)}
    )
    assert [len(o["text"]) for o in forwarder.take()] == [NOTIFICATION_CHARS, 5]


LOADED_LATER = (
    "jupyter_client",
    "zmq",
    "yaml",
    "mcp",
    "nbformat",
    "sessions.analysis.snapshot",
    "sessions.cache.sidecar",
    "sessions.run.runner",
    "sessions.lsp.workspace",
    "sessions.lsp.commands",
)


def test_the_language_server_answers_initialize_before_loading_its_features() -> None:
    """Start-up cost (issue 12): ``initialize`` needs pygls and the settings;
    the analysis, the sidecar, the runner and the kernel libraries load on
    ``initialized`` (``ready``) or with the first notebook, not before."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sessions.cli import build_parser\n"
        "build_parser('lsp')\n"
        "from sessions.lsp.server import create_server\n"
        "from lsprotocol import types\n"
        "server = create_server()\n"
        "handler = server.protocol.fm.features[types.INITIALIZE]\n"
        "handler(types.InitializeParams(capabilities=types.ClientCapabilities(),"
        " root_uri='file:///tmp', initialization_options={'sessions': {'onRun': 'autorun'}}))\n"
        f"print(sorted(m for m in {LOADED_LATER!r} if m in sys.modules))\n"
        "server.ready()\n"
        f"print(sorted(m for m in {LOADED_LATER[5:]!r} if m not in sys.modules))\n"
        "print(server.notebooks.root, server.notebooks.settings.on_run)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, workspace = result.stdout.strip().splitlines()
    assert before == "[]", before
    assert after == "[]", after  # ready() loaded every feature
    assert workspace == "/tmp autorun"  # what initialize said reaches the workspace made later


def test_ready_runs_once() -> None:
    from sessions.lsp.server import SessionsServer

    calls: list[str] = []
    server = SessionsServer(lambda: calls.append("ready"))
    server.ready()
    server.ready()
    assert calls == ["ready"]


def test_the_announced_commands_are_the_implemented_ones() -> None:
    from sessions.lsp.commands import COMMANDS
    from sessions.lsp.server import COMMAND_NAMES

    assert sorted(COMMAND_NAMES) == sorted(COMMANDS)
