"""The sidecar cache NAME.sessions.toml (DESIGN §3): format, round trip, caps,
recovery from bad files, linear-time writing, merging updates."""

from __future__ import annotations

import dataclasses
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.cache import sidecar as sidecar_module
from sessions.cache.encode import encode_sidecar, toml_key, toml_string, toml_text
from sessions.cache.records import CellRecord, KernelInfo, Output, SidecarData
from sessions.cache.sidecar import (
    SidecarStore,
    load_sidecar,
    lock_path,
    save_sidecar,
    sidecar_path,
    update_sidecar,
)
from sessions.format.hashing import bytes_hash

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
STARTED = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)


def rich_record() -> CellRecord:
    return CellRecord(
        hash="blake2b-128:3f9a0000000000000000000000000001",
        index=3,
        run=12,
        status="error",
        execution_count=5,
        started=STARTED,
        duration=0.123,
        inputs={"df": "3f9a1c2b4d5e6f70", "np": "00000000000000a2", "données": "4", "a.b": "1"},
        provides={"df": "77aa00bb11cc22dd", "rng:numpy": "0123456789abcdef"},
        id="load",
        code="import pandas as pd\ndf = pd.read_csv('x.csv')",
        outputs=[
            {"output_type": "stream", "name": "stdout", "text": "hello\nworld\n"},
            {
                "output_type": "display_data",
                "data": {
                    "text/plain": "<Figure size 640x480 with 1 Axes>",
                    "image/png": PNG,
                    "text/html": "<b>bold</b>\n<i>it</i>",
                },
                "metadata": {"image/png": {"width": 640, "height": 480}, "needs": None},
            },
            {
                "output_type": "execute_result",
                "execution_count": 5,
                "data": {
                    "text/plain": "{'a': 1}",
                    "application/json": {"a": 1, "b": [1, 2.5, None, True, "x"], "c": {}},
                    "application/vnd.custom+json": [1, "two", None],
                },
                "metadata": {},
            },
            {
                "output_type": "error",
                "ename": "ZeroDivisionError",
                "evalue": "division by zero",
                "traceback": [
                    "\x1b[0;31m-------\x1b[0m",
                    "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
                ],
            },
            {
                "output_type": "display_data",
                "data": {"text/plain": "progress"},
                "metadata": {},
                "transient": {"display_id": "abc123"},
            },
        ],
    )


def rich_data() -> SidecarData:
    plain = CellRecord(hash="blake2b-128:00", index=0, run=1)
    return SidecarData(
        notebook="analysis.py",
        run_counter=17,
        kernel=KernelInfo(python="/home/u/proj/.venv/bin/python", language="python 3.11.7"),
        cells=[plain, rich_record()],
    )


def test_sidecar_path_is_next_to_the_notebook() -> None:
    assert sidecar_path(Path("/p/analysis.py")) == Path("/p/analysis.sessions.toml")
    assert sidecar_path(Path("my.study.py")) == Path("my.study.sessions.toml")


def test_round_trip_of_every_field_and_output_type(tmp_path: Path) -> None:
    path = tmp_path / "analysis.sessions.toml"
    data = rich_data()
    save_sidecar(path, data)
    result = load_sidecar(path, "analysis.py")
    assert result.problems == []
    assert result.data == data
    assert result.data.cells[1].started == STARTED
    assert result.data.cells[1].started is not None
    assert result.data.cells[1].started.utcoffset() == timedelta(0)


def test_file_has_the_documented_shape(tmp_path: Path) -> None:
    path = tmp_path / "analysis.sessions.toml"
    save_sidecar(path, rich_data())
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Outputs cached by Sessions for analysis.py. Safe to delete.\n")
    doc = tomllib.loads(text)
    assert doc["format"] == 1
    assert doc["notebook"] == "analysis.py"
    assert doc["run_counter"] == 17
    assert doc["kernel"] == {
        "python": "/home/u/proj/.venv/bin/python",
        "language": "python 3.11.7",
    }
    plain, rich = doc["cells"]
    assert "id" not in plain  # only written when the cell header has one
    assert rich["id"] == "load"
    assert rich["hash"].startswith("blake2b-128:")
    assert (rich["index"], rich["run"], rich["execution_count"]) == (3, 12, 5)
    assert rich["status"] == "error"
    assert rich["started"] == STARTED
    assert rich["duration"] == 0.123
    assert rich["inputs"] == {
        "df": "3f9a1c2b4d5e6f70",
        "np": "00000000000000a2",
        "données": "4",
        "a.b": "1",
    }
    assert rich["provides"] == {"df": "77aa00bb11cc22dd", "rng:numpy": "0123456789abcdef"}
    assert "started = 2026-11-21T10:00:00.123456Z" in text
    assert 'inputs = { df = "3f9a1c2b4d5e6f70", np = "00000000000000a2",' in text
    stream = rich["outputs"][0]
    assert stream == {"output_type": "stream", "name": "stdout", "text": "hello\nworld\n"}
    assert "[[cells.outputs]]" in text
    display = rich["outputs"][1]
    assert display["data"]["image/png"] == PNG
    assert display["data"]["text/plain"] == "<Figure size 640x480 with 1 Axes>"
    # code in a multi-line literal string
    assert "code = '''\nimport pandas as pd\n" in text


def test_naive_and_non_utc_datetimes_are_stored_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "n.sessions.toml"
    paris = timezone(timedelta(hours=1))
    cells = [
        CellRecord(hash="h", index=0, run=1, started=datetime(2026, 1, 2, 3, 4, 5)),
        CellRecord(hash="h", index=1, run=2, started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=paris)),
    ]
    save_sidecar(path, SidecarData(notebook="n.py", run_counter=2, cells=cells))
    assert "started = 2026-01-02T03:04:05Z" in path.read_text()
    assert "started = 2026-01-02T02:04:05Z" in path.read_text()
    loaded = load_sidecar(path, "n.py").data.cells
    assert loaded[0].started == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert loaded[1].started == datetime(2026, 1, 2, 3, 4, 5, tzinfo=paris)


AWKWARD_TEXTS = [
    "",
    "plain",
    "it's",
    "''",
    "'''",
    "a'''b",
    "ends with quote'",
    "ends with two quotes''",
    "ends with many quotes'''''",
    "'''\nstarts with triple\n'''",
    "\nleading newline",
    "\n\n",
    'double "quotes" and """triple"""',
    "back\\slash \\n not a newline \\\\",
    "trailing backslash\\",
    "trailing backslash then newline\\\n",
    "tab\there",
    "windows\r\nline\r\nendings\r\n",
    "lone\rcarriage",
    "progress 10%\r20%\r30%\n",
    "".join(chr(c) for c in range(32)) + "\x7f\x80\x9f",
    "\x1b[1;31mred\x1b[0m\n" * 3,
    "unicode: ünïcødé 日本語 emoji 🎉 rtl עברית combining é\u0301",
    "\u2028line separator\u2029paragraph",
    "x" * 5000 + "'''" + "y" * 5000,
    ("long line with \x1b[31mcolour\x1b[0m and '''quotes'''\r\n" * 2000),
    "z" * 300_000,
    ("a fairly long line of text\n" * 20_000),
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS, ids=range(len(AWKWARD_TEXTS)))
def test_awkward_strings_round_trip_in_every_text_field(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.sessions.toml"
    record = CellRecord(
        hash=text,
        index=0,
        run=1,
        id=text,
        code=text,
        inputs={text or "k": text or "v"},
        provides={text or "k": text or "v"},
        outputs=[
            {"output_type": "stream", "name": "stdout", "text": text},
            {
                "output_type": "display_data",
                "data": {"text/plain": text, "text/html": text, "application/json": {text: text}},
                "metadata": {text: [text]},
            },
            {"output_type": "error", "ename": text, "evalue": text, "traceback": [text, text]},
        ],
    )
    data = SidecarData(notebook=text, run_counter=1, kernel=KernelInfo(text, text), cells=[record])
    save_sidecar(path, data, output_cap=10_000_000)
    tomllib.loads(path.read_text(encoding="utf-8"))  # valid TOML
    result = load_sidecar(path, text)
    assert result.problems == []
    assert result.data == data


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_encodes_to_a_toml_value_that_reads_back_the_same(text: str) -> None:
    for encoded in (toml_string(text), toml_text(text), toml_text(text * 300)):
        value = tomllib.loads(f"v = {encoded}")["v"]
        joined = "".join(value) if isinstance(value, list) else value
        assert joined in (text, text * 300)
    assert list(tomllib.loads(f"{toml_key(text)} = 1")) == [text]


def test_lone_surrogates_do_not_make_saving_fail(tmp_path: Path) -> None:
    path = tmp_path / "s.sessions.toml"
    record = CellRecord(
        hash="h",
        index=0,
        run=1,
        outputs=[{"output_type": "stream", "name": "stdout", "text": "bad \udcff byte\n"}],
    )
    save_sidecar(path, SidecarData(notebook="s.py", cells=[record]))
    loaded = load_sidecar(path, "s.py")
    assert loaded.problems == []
    assert loaded.data.cells[0].outputs[0]["text"] == "bad \ufffd byte\n"


def test_multiline_lists_are_joined(tmp_path: Path) -> None:
    path = tmp_path / "m.sessions.toml"
    record = CellRecord(
        hash="h",
        index=0,
        run=1,
        outputs=[
            {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]},
            {
                "output_type": "display_data",
                "data": {"text/plain": ["x", "y"], "image/png": [PNG[:10], PNG[10:]]},
                "metadata": {},
            },
        ],
    )
    save_sidecar(path, SidecarData(notebook="m.py", cells=[record]))
    outputs = load_sidecar(path, "m.py").data.cells[0].outputs
    assert outputs[0]["text"] == "a\nb\n"
    assert outputs[1]["data"] == {"text/plain": "xy", "image/png": PNG}


def test_coloured_text_is_written_with_control_pictures_and_reads_back_exactly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sessions.toml"
    text = ("\x1b[31merror\x1b[0m " + "details " * 20 + "\r\n") * 500
    traceback = ["\x1b[0;31mValueError\x1b[0m: no", "plain frame"]
    record = CellRecord(
        hash="h",
        index=0,
        run=1,
        outputs=[
            {"output_type": "stream", "name": "stderr", "text": text},
            {"output_type": "error", "ename": "ValueError", "evalue": "no", "traceback": traceback},
        ],
    )
    save_sidecar(path, SidecarData(notebook="c.py", cells=[record]))
    written = path.read_text()
    assert "␛[31merror␛[0m" in written and "\\u001b" not in written  # readable, and literal
    stored = tomllib.loads(written)["cells"][0]["outputs"]
    assert set(stored[0]["text"]) == {"pictures"}
    outputs = load_sidecar(path, "c.py").data.cells[0].outputs
    assert outputs[0]["text"] == text
    assert outputs[1]["traceback"] == traceback


def test_text_holding_control_pictures_itself_uses_segments_and_reads_back_joined(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sessions.toml"
    text = ("\x1b[31m␛ is ESC\x1b[0m " + "details " * 20 + "\n") * 500
    record = CellRecord(
        hash="h",
        index=0,
        run=1,
        outputs=[{"output_type": "stream", "name": "stderr", "text": text}],
    )
    save_sidecar(path, SidecarData(notebook="c.py", cells=[record]))
    raw = tomllib.loads(path.read_text())["cells"][0]["outputs"][0]["text"]
    assert isinstance(raw, list) and len(raw) > 1
    assert load_sidecar(path, "c.py").data.cells[0].outputs[0]["text"] == text


# --- caps -------------------------------------------------------------------------


def capped_outputs(tmp_path: Path, outputs: list[Output], cap: int) -> list[Output]:
    path = tmp_path / "cap.sessions.toml"
    record = CellRecord(hash="h", index=0, run=1, outputs=list(outputs))
    data = SidecarData(notebook="cap.py", cells=[record])
    save_sidecar(path, data, output_cap=cap)
    assert data.cells[0].outputs == outputs  # the caller's data is not changed
    result = load_sidecar(path, "cap.py")
    assert result.problems == []
    return result.data.cells[0].outputs


def test_long_text_keeps_head_and_tail_with_a_marker(tmp_path: Path) -> None:
    text = "".join(f"line {i:05d}\n" for i in range(1000))  # 11,000 characters
    stream = {"output_type": "stream", "name": "stdout", "text": text}
    html = "<p>" + "h" * 5000 + "</p>"
    display = {"output_type": "display_data", "data": {"text/html": html}, "metadata": {}}
    out_stream, out_display = capped_outputs(tmp_path, [stream, display], cap=1000)
    capped = out_stream["text"]
    assert capped.startswith(text[:500])
    assert capped.endswith(text[-500:])
    assert "[... 10,000 characters omitted" in capped
    assert len(capped) < 1200
    capped_html = out_display["data"]["text/html"]
    assert capped_html.startswith(html[:500]) and capped_html.endswith(html[-500:])
    assert "4,007 characters omitted" in capped_html


def test_text_within_the_cap_is_untouched(tmp_path: Path) -> None:
    stream = {"output_type": "stream", "name": "stdout", "text": "x" * 1000}
    assert capped_outputs(tmp_path, [stream], cap=1000) == [stream]


def test_oversized_image_is_replaced_by_a_text_marker_not_cut(tmp_path: Path) -> None:
    png = PNG * 100
    svg = "<svg>" + "p" * 3000 + "</svg>"
    display = {
        "output_type": "display_data",
        "data": {"image/png": png, "image/svg+xml": svg, "text/plain": "<Figure>"},
        "metadata": {},
    }
    (out,) = capped_outputs(tmp_path, [display], cap=1000)
    assert "image/png" not in out["data"]
    plain = out["data"]["text/plain"]
    assert plain.startswith("<Figure>\n")
    assert f"image/png output of {len(png):,} characters omitted" in plain
    assert "characters omitted" in out["data"]["image/svg+xml"]  # svg is text: cut


def test_oversized_json_value_is_dropped_with_a_marker(tmp_path: Path) -> None:
    display = {
        "output_type": "display_data",
        "data": {"application/json": {"values": list(range(1000))}},
        "metadata": {},
    }
    (out,) = capped_outputs(tmp_path, [display], cap=500)
    assert out["data"].keys() == {"text/plain"}
    assert "application/json output of" in out["data"]["text/plain"]


def test_update_returns_the_capped_data_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "u.sessions.toml"

    def add(data: SidecarData) -> None:
        output = {"output_type": "stream", "name": "stdout", "text": "y" * 5000}
        data.cells.append(CellRecord(hash="h", index=0, run=1, outputs=[output]))

    written = update_sidecar(path, "u.py", add, output_cap=100)
    assert "characters omitted" in written.cells[0].outputs[0]["text"]
    assert load_sidecar(path, "u.py").data == written


# --- bad files --------------------------------------------------------------------


def test_missing_file_is_empty_without_problems(tmp_path: Path) -> None:
    result = load_sidecar(tmp_path / "none.sessions.toml", "none.py")
    assert result.problems == []
    assert result.data == SidecarData(notebook="none.py")


@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\n"])
def test_empty_file_is_an_empty_cache_not_a_corrupt_one(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "e.sessions.toml"
    path.write_bytes(content)
    result = load_sidecar(path, "e.py")
    assert result.problems == []
    assert result.data == SidecarData(notebook="e.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.sessions.toml"]  # no .bak


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"format = 1\n[[cells]\n", "not valid TOML"),
        (b'format = 2\nnotebook = "c.py"\n', "newer version"),
        (b'format = "1"\n', "'format'"),
        (b'notebook = "c.py"\n', "'format'"),
        (b"format = 1\ncells = 3\n", "'cells'"),
        (b"format = 1\nrun_counter = -1\n", "run_counter"),
        (b"format = 1\nkernel = 5\n", "[kernel]"),
        (b"format = 1\nnotebook = \xff\xfe\n", "UTF-8"),
    ],
)
def test_unusable_file_is_reported_on_read_and_moved_to_bak_on_write(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "c.sessions.toml"
    path.write_bytes(content)
    store = SidecarStore(path, "c.py")
    result = store.load()
    assert result.data == SidecarData(notebook="c.py")
    (problem,) = result.problems
    assert why in problem
    assert "c.sessions.toml" in problem and "c.sessions.toml.bak" in problem
    # Reading (``sessions status``) renames and rewrites nothing.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sessions.toml"]
    assert path.read_bytes() == content
    assert store.load().problems == []  # reported once, not on every read
    store.update(lambda data: None)
    assert (tmp_path / "c.sessions.toml.bak").read_bytes() == content
    assert load_sidecar(path, "c.py").problems == []


def test_existing_backups_are_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "c.sessions.toml"
    for version in range(3):
        path.write_bytes(f"broken {version} [[".encode())
        assert len(load_sidecar(path, "c.py").problems) == 1
        update_sidecar(path, "c.py", lambda data: None)
    assert (tmp_path / "c.sessions.toml.bak").read_bytes() == b"broken 0 [["
    assert (tmp_path / "c.sessions.toml.bak.1").read_bytes() == b"broken 1 [["
    assert (tmp_path / "c.sessions.toml.bak.2").read_bytes() == b"broken 2 [["


def test_update_after_a_corrupt_file_starts_fresh_and_keeps_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "c.sessions.toml"
    path.write_bytes(b"garbage = [")

    def add(data: SidecarData) -> None:
        data.cells.append(CellRecord(hash="h", index=0, run=1))

    written = update_sidecar(path, "c.py", add)
    assert [cell.run for cell in written.cells] == [1]
    assert (tmp_path / "c.sessions.toml.bak").read_bytes() == b"garbage = ["
    assert load_sidecar(path, "c.py").data == written


GOOD_RECORD = 'hash = "h1"\nindex = 0\nrun = 1\n'


@pytest.mark.parametrize(
    ("bad_record", "why"),
    [
        ('hash = "h2"\nindex = "two"\nrun = 2\n', "'index'"),
        ('hash = "h2"\nindex = 1\n', "'run' is missing"),
        ("index = 1\nrun = 2\n", "'hash' is missing"),
        ('hash = "h2"\nindex = true\nrun = 2\n', "'index'"),
        ('hash = "h2"\nindex = 1\nrun = 2\nstatus = "great"\n', "'status'"),
        ('hash = "h2"\nindex = 1\nrun = 2\nstarted = 2026-01-01\n', "'started'"),
        ('hash = "h2"\nindex = 1\nrun = 2\ninputs = { x = 1.5 }\n', "inputs 'x'"),
        ('hash = "h2"\nindex = 1\nrun = 2\n[[cells.outputs]]\nname = "stdout"\n', "output_type"),
        (
            'hash = "h2"\nindex = 1\nrun = 2\n[[cells.outputs]]\noutput_type = "display_data"\n'
            'data = { "application/json" = "{not json" }\n',
            "not valid JSON",
        ),
        (
            'hash = "h2"\nindex = 1\nrun = 2\n[[cells.outputs]]\noutput_type = "stream"\ntext = 5\n',
            "text",
        ),
    ],
)
def test_bad_record_is_dropped_alone(tmp_path: Path, bad_record: str, why: str) -> None:
    path = tmp_path / "r.sessions.toml"
    text = (
        'format = 1\nnotebook = "r.py"\nrun_counter = 3\n'
        f"[[cells]]\n{GOOD_RECORD}"
        f"[[cells]]\n{bad_record}"
        '[[cells]]\nhash = "h3"\nindex = 2\nrun = 3\n'
    )
    path.write_text(text)
    result = load_sidecar(path, "r.py")
    assert [cell.hash for cell in result.data.cells] == ["h1", "h3"]
    (problem,) = result.problems
    assert "record 2" in problem and why in problem and "r.sessions.toml" in problem
    assert path.read_text() == text  # a partly bad file stays in place


def test_hand_written_file_with_defaults_and_json_tables_loads(tmp_path: Path) -> None:
    path = tmp_path / "h.sessions.toml"
    path.write_text(
        "format = 1\nrun_counter = 1\n"
        '[[cells]]\nhash = "h"\nindex = 0\nrun = 5\nstarted = 2026-01-01T10:00:00\nduration = 2\n'
        '[[cells.outputs]]\noutput_type = "execute_result"\n'
        'data = { "text/plain" = ["4", "2"], "application/json" = { a = [1, 2] } }\n'
    )
    result = load_sidecar(path, "h.py")
    assert result.problems == []
    (cell,) = result.data.cells
    assert result.data.run_counter == 5  # never below a run id in use
    assert cell.started == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert cell.duration == 2.0 and isinstance(cell.duration, float)
    assert cell.outputs == [
        {
            "output_type": "execute_result",
            "data": {"text/plain": "42", "application/json": {"a": [1, 2]}},
            "metadata": {},
            "execution_count": None,
        }
    ]


def test_unreadable_sidecar_is_reported_and_left_in_place(tmp_path: Path) -> None:
    # A folder where the file should be: unreadable even for root.
    path = tmp_path / "d.sessions.toml"
    path.mkdir()
    result = load_sidecar(path, "d.py")
    assert result.data == SidecarData(notebook="d.py")
    (problem,) = result.problems
    assert "d.sessions.toml cannot be read" in problem
    assert path.is_dir()
    assert not (tmp_path / "d.sessions.toml.bak").exists()
    with pytest.raises(OSError):
        update_sidecar(path, "d.py", lambda data: None)
    assert path.is_dir()


# --- writing --------------------------------------------------------------------


def _best_save_seconds(tmp_path: Path, text: str) -> float:
    path = tmp_path / "lin.sessions.toml"
    output = {"output_type": "stream", "name": "stdout", "text": text}
    data = SidecarData(
        notebook="lin.py", run_counter=1, cells=[CellRecord("h", 0, 1, outputs=[output])]
    )
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        save_sidecar(path, data, output_cap=len(text))
        best = min(best, time.perf_counter() - start)
    assert load_sidecar(path, "lin.py").data == data
    return best


@pytest.mark.parametrize(
    "unit",
    [
        "plain line of output text\n",
        "line with '''quotes''', a \\backslash and \x1b[31mcolour\x1b[0m\r\n",
        "one very long line without any newline at all " * 2,
    ],
    ids=["literal", "escaped", "single-line"],
)
def test_writing_time_is_linear_in_output_size(tmp_path: Path, unit: str) -> None:
    small = (unit * (640_000 // len(unit) + 1))[:640_000]
    large = small * 10
    ratio = _best_save_seconds(tmp_path, large) / _best_save_seconds(tmp_path, small)
    # Linear gives ~10×, quadratic ~100×; the margin absorbs fsync noise.
    assert ratio < 30, ratio


def test_write_leaves_only_the_sidecar_in_the_users_folder(tmp_path: Path) -> None:
    path = tmp_path / "w.sessions.toml"
    save_sidecar(path, rich_data())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.sessions.toml"]
    lock = lock_path(path)
    assert lock.exists() and lock.parent != tmp_path
    assert lock.parent.stat().st_mode & 0o777 == 0o700
    # Every writer of the same sidecar derives the same lock, whatever its working folder.
    assert lock_path(tmp_path / "." / "w.sessions.toml") == lock
    assert lock_path(tmp_path / "other.sessions.toml") != lock


def test_rewrite_keeps_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "p.sessions.toml"
    save_sidecar(path, rich_data())
    path.chmod(0o600)
    save_sidecar(path, rich_data())
    assert path.stat().st_mode & 0o777 == 0o600


def test_update_sidecar_merges_with_what_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "m.sessions.toml"

    def add(name: str) -> Callable[[SidecarData], None]:
        def change(data: SidecarData) -> None:
            data.run_counter += 1
            data.cells.append(CellRecord(hash=name, index=0, run=data.run_counter, id=name))

        return change

    update_sidecar(path, "m.py", add("a"))
    save_sidecar(path, dataclasses.replace(load_sidecar(path, "m.py").data, kernel=KernelInfo("k")))
    written = update_sidecar(path, "m.py", add("b"))
    assert [(c.id, c.run) for c in written.cells] == [("a", 1), ("b", 2)]
    assert written.kernel.python == "k"
    assert load_sidecar(path, "m.py").data == written


# --- SidecarStore -----------------------------------------------------------------


def _add_record(name: str, text: str = "out\n") -> Callable[[SidecarData], None]:
    def change(data: SidecarData) -> None:
        data.run_counter += 1
        output = {"output_type": "stream", "name": "stdout", "text": text}
        data.cells.append(
            CellRecord(
                hash=name, index=len(data.cells), run=data.run_counter, id=name, outputs=[output]
            )
        )

    return change


def test_store_writes_what_a_fresh_encoder_writes(tmp_path: Path) -> None:
    """The per-record cache never serves stale text, even for in-place changes."""
    path = tmp_path / "s.sessions.toml"
    store = SidecarStore(path, "s.py")
    for name in "abcd":
        store.update(_add_record(name))

    def mutate(data: SidecarData) -> None:
        data.cells[0].outputs[0]["text"] += "more\n"  # in place, same dict
        data.cells[1].index = 7
        data.cells[2].outputs.append(
            {"output_type": "display_data", "data": {"application/json": {"v": 1}}, "metadata": {}}
        )
        data.cells[3].duration = 1.0

    written = store.update(mutate)

    def mutate_json(data: SidecarData) -> None:
        data.cells[2].outputs[1]["data"]["application/json"]["v"] = True  # 1 == True in Python
        data.cells[3].duration = 1

    written = store.update(mutate_json)
    assert path.read_bytes() == encode_sidecar(written).encode("utf-8")
    reloaded = load_sidecar(path, "s.py").data
    assert reloaded.cells[0].outputs[0]["text"] == "out\nmore\n"
    assert reloaded.cells[1].index == 7
    assert reloaded.cells[2].outputs[1]["data"]["application/json"] == {"v": True}
    assert reloaded == written


def test_store_notices_an_external_write(tmp_path: Path) -> None:
    path = tmp_path / "s.sessions.toml"
    store = SidecarStore(path, "s.py")
    store.update(_add_record("mine"))
    assert store.last_written_hash == bytes_hash(path.read_bytes())
    update_sidecar(path, "s.py", _add_record("theirs"))  # another process, say
    assert [c.id for c in store.load().data.cells] == ["mine", "theirs"]
    written = store.update(_add_record("mine2"))
    assert [c.id for c in written.cells] == ["mine", "theirs", "mine2"]
    assert store.last_written_hash == bytes_hash(path.read_bytes())


def test_store_notices_a_same_size_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "s.sessions.toml"
    store = SidecarStore(path, "s.py")
    store.update(_add_record("a", "value 1\n"))
    raw = path.read_bytes()
    changed = raw.replace(b"value 1", b"value 2")
    assert len(changed) == len(raw) and changed != raw
    with open(path, "r+b") as handle:  # in place: same inode and size
        handle.write(changed)
    assert store.load().data.cells[0].outputs[0]["text"] == "value 2\n"


class CountedReads:
    """Counts the sidecar store's reads of the file (the real read, counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        real = sidecar_module._read_file

        def counted(path: Path) -> bytes:
            self.reads += 1
            return real(path)

        monkeypatch.setattr(sidecar_module, "_read_file", counted)


def test_a_settled_unchanged_sidecar_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sessions.toml"
    SidecarStore(path, "s.py").update(_add_record("a", "value 1\n"))
    store = SidecarStore(path, "s.py")
    counted = CountedReads(monkeypatch)
    monkeypatch.setattr(sidecar_module, "SETTLED_SECONDS", 0.0)  # settled at once
    for _ in range(3):
        assert store.load().data.cells[0].outputs[0]["text"] == "value 1\n"
    assert counted.reads == 1
    # A same-size rewrite in place, one clock tick later (the settling time is
    # what guarantees the tick): its ctime moved, so it is read.
    time.sleep(0.05)
    raw = path.read_bytes()
    with open(path, "r+b") as handle:
        handle.write(raw.replace(b"value 1", b"value 2"))
    assert store.load().data.cells[0].outputs[0]["text"] == "value 2\n"
    assert counted.reads == 2


def test_a_sidecar_written_just_now_is_read_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within its clock tick a rewrite could leave ``stat`` as it was: until
    the file settles, every use reads it and compares its bytes."""
    path = tmp_path / "s.sessions.toml"
    SidecarStore(path, "s.py").update(_add_record("a"))
    store = SidecarStore(path, "s.py")
    counted = CountedReads(monkeypatch)
    for _ in range(3):
        store.load()
    assert counted.reads == 3
    store.update(_add_record("b"))  # our own write: read again after it too
    monkeypatch.setattr(sidecar_module, "SETTLED_SECONDS", 0.0)
    assert [c.id for c in store.load().data.cells] == ["a", "b"]
    assert counted.reads == 5  # the update's read under the lock, then this one


def test_store_recovers_when_the_file_is_deleted_or_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "s.sessions.toml"
    store = SidecarStore(path, "s.py")
    store.update(_add_record("a"))
    path.unlink()
    assert store.load().data.cells == []
    path.write_text("not toml [")
    result = store.load()
    assert result.data.cells == [] and "s.sessions.toml.bak" in result.problems[0]
    written = store.update(_add_record("b"))
    assert [c.id for c in written.cells] == ["b"]


def test_failed_change_does_not_leak_into_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "s.sessions.toml"
    store = SidecarStore(path, "s.py")
    store.update(_add_record("a"))
    before = path.read_bytes()

    def half_then_fail(data: SidecarData) -> None:
        data.cells.clear()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.update(half_then_fail)
    assert path.read_bytes() == before
    written = store.update(_add_record("b"))
    assert [c.id for c in written.cells] == ["a", "b"]


def test_corrupt_file_in_a_read_only_folder_is_reported_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "c.sessions.toml"
    path.write_bytes(b"broken [")
    lock_path(path).mkdir()  # the lock cannot be opened, even by root
    result = load_sidecar(path, "c.py")
    assert result.data.cells == []
    (problem,) = result.problems
    assert "could not be used" in problem
    assert path.read_bytes() == b"broken ["
    with pytest.raises(OSError):
        update_sidecar(path, "c.py", lambda data: None)  # cannot lock: nothing destroyed
    assert path.read_bytes() == b"broken ["


def test_merge_conflict_markers_show_both_sides_records(tmp_path: Path) -> None:
    """A committed sidecar changed on two branches: ``status`` must still show outputs."""
    path = tmp_path / "m.sessions.toml"
    header = 'format = 1\nnotebook = "m.py"\n'
    path.write_text(
        header
        + "<<<<<<< HEAD\nrun_counter = 4\n=======\nrun_counter = 7\n>>>>>>> other\n"
        + '[[cells]]\nhash = "h0"\nindex = 0\nrun = 1\n'
        + "<<<<<<< HEAD\n"
        + '[[cells]]\nhash = "h1"\nindex = 1\nrun = 4\n'
        + "||||||| base\n"
        + '[[cells]]\nhash = "h1"\nindex = 1\nrun = 2\n'
        + "=======\n"
        + '[[cells]]\nhash = "h2"\nindex = 1\nrun = 7\n'
        + ">>>>>>> other\n"
    )
    original = path.read_bytes()
    result = load_sidecar(path, "m.py")
    assert [(r.hash, r.run) for r in result.data.cells] == [("h0", 1), ("h1", 4), ("h2", 7)]
    assert result.data.run_counter == 7
    assert any("merge-conflict markers" in p for p in result.problems)
    assert path.read_bytes() == original  # reading changes nothing
    written = update_sidecar(path, "m.py", lambda data: None)
    assert len(written.cells) == 3
    assert (tmp_path / "m.sessions.toml.bak").read_bytes() == original
    assert "<<<<<<<" not in path.read_text()
    assert load_sidecar(path, "m.py").problems == []


def test_deeply_nested_values_are_a_corrupt_file_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "d.sessions.toml"
    path.write_text("format = 1\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    (problem,) = load_sidecar(path, "d.py").problems
    assert "too deeply" in problem
    update_sidecar(path, "d.py", lambda data: None)
    assert (tmp_path / "d.sessions.toml.bak").exists()


def test_run_ids_are_reserved_without_rewriting_the_sidecar_and_never_collide(
    tmp_path: Path,
) -> None:
    """Issue 12: a reservation used to be a second fsynced sidecar write per run."""
    path = tmp_path / "r.sessions.toml"
    update_sidecar(path, "r.py", lambda data: setattr(data, "run_counter", 7))
    before = path.read_bytes(), path.stat().st_mtime_ns
    first, second = SidecarStore(path, "r.py"), SidecarStore(path, "r.py")  # two processes
    taken = [first.reserve_run_ids(3), second.reserve_run_ids(2), first.reserve_run_ids(4)]
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    ranges = [(taken[0], 3), (taken[1], 2), (taken[2], 4)]
    ids = [start + k for start, count in ranges for k in range(count)]
    assert len(set(ids)) == len(ids) and min(ids) == 8
    assert taken[2] == taken[0] + 3  # from the block the first store already holds
    assert first.take_reserved(1) == taken[2] + 4
