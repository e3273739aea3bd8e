"""``sessions.parse`` / ``sessions.serialize`` payloads: exact round trip through JSON,
and an edit rewrites only the edited cell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.format.notebook import insert_cells, parse, serialize, set_source, set_sources
from sessions.lsp import notebook_json
from sessions.lsp.notebook_json import (
    PayloadError,
    notebook_fields,
    parse_payload,
    serialize_cells,
    serialize_payload,
    wanted_cell,
)

LINES = st.sampled_from(
    [
        "# %%",
        "# %% Load data",
        "# %% [markdown]",
        '# %% [raw] id="c1"',
        "#%%",
        "x = 1",
        "print(x)",
        "    return y",
        "# a comment",
        "# %time f()",
        "%matplotlib inline",
        '"""',
        "",
        "   ",
        "é ünïcode = '✓'",
        "\x0c",
        "# ---",
        "# jupyter:",
        "#   kernelspec:",
        "# title: Tides",
        '# %% language="bash"',
        "# echo hi",
    ]
)
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
HEADERS = [
    "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n",
    "# ---\n# title: x\n# jupyter:\n#   a: 1\n# ---\n",
    "# ---\n# banner\n# ---",
]


@st.composite
def notebook_texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.tuples(LINES, ENDINGS), max_size=25))
    text = "".join(line + ending for line, ending in lines)
    if draw(st.booleans()):
        text = draw(st.sampled_from(HEADERS)) + text
    if draw(st.booleans()) and text:
        text = text.rstrip("\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


def through_json(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(payload))
    return result


@given(notebook_texts())
@settings(max_examples=300)
def test_untouched_payload_serializes_to_the_same_bytes(text: str) -> None:
    assert serialize_payload(through_json(parse_payload(text))) == text


@given(notebook_texts())
def test_payload_cells_describe_the_parser_cells(text: str) -> None:
    payload = parse_payload(text)
    notebook = parse(text)
    assert [c["raw"] for c in payload["cells"]] == [c.raw for c in notebook.cells]
    assert [c["source"] for c in payload["cells"]] == [c.source for c in notebook.cells]
    assert [c["preamble"] for c in payload["cells"]] == [c.is_preamble for c in notebook.cells]
    assert payload["bom"] == notebook.bom and payload["prefix"] == notebook.prefix
    assert payload["header"] == notebook.header
    assert [c["frontmatter"] for c in payload["cells"]] == [
        c.is_frontmatter for c in notebook.cells
    ]


SAFE_SOURCE = st.lists(
    st.sampled_from(["a = 1", "print(a)", "def f():", "    return 2", "b = [1,", " 2]"]),
    min_size=1,
    max_size=4,
).map("\n".join)


@given(notebook_texts(), st.data())
@settings(max_examples=300)
def test_editing_one_code_cell_changes_only_that_cell(text: str, data: st.DataObject) -> None:
    payload = through_json(parse_payload(text))
    code_cells = [i for i, c in enumerate(payload["cells"]) if c["kind"] == "code"]
    if not code_cells:
        return
    index = data.draw(st.sampled_from(code_cells))
    source = data.draw(SAFE_SOURCE)
    payload["cells"][index]["source"] = source
    old = parse(text)
    new = parse(serialize_payload(payload))
    if '"""' in old.cells[index].raw:
        return  # the edit may close or open a string: the honest re-parse differs
    assert len(new.cells) == len(old.cells)
    assert new.cells[index].source == source
    for position, (before, after) in enumerate(zip(old.cells, new.cells, strict=True)):
        if position != index:
            assert after.raw == before.raw


def test_new_cell_gets_a_header_and_others_keep_bytes() -> None:
    text = "import os\r\n\r\n# %% Load\r\nx = 1\r\n"
    payload = through_json(parse_payload(text))
    payload["cells"].append({"kind": "markdown", "source": "# Title\nsome *text*"})
    out = serialize_payload(payload)
    assert out.startswith(text)
    cells = parse(out).cells
    assert [c.kind for c in cells] == ["code", "code", "markdown"]
    assert cells[2].source == "# Title\nsome *text*"
    assert "\r\n" in cells[2].raw and "\n" not in cells[2].raw.replace("\r\n", "")


def test_deleting_and_reordering_cells() -> None:
    text = "# %% a\nx = 1\n\n# %% b\ny = 2\n\n# %% c\nz = 3"
    payload = through_json(parse_payload(text))
    a, _, c = payload["cells"]
    payload["cells"] = [c, a]
    out = serialize_payload(payload)
    assert [cell.title for cell in parse(out).cells] == ["c", "a"]
    assert parse(out).cells[1].raw == "# %% a\nx = 1\n\n"


def test_changing_a_cell_kind_rewrites_its_header() -> None:
    payload = through_json(parse_payload("# %% intro\nhello = 1\n"))
    payload["cells"][0]["kind"] = "markdown"
    payload["cells"][0]["source"] = "hello"
    cells = parse(serialize_payload(payload)).cells
    assert [(c.kind, c.source) for c in cells] == [("markdown", "hello")]


@pytest.mark.parametrize(
    "bad",
    [
        {"cells": "nope"},
        {"cells": [1]},
        {"cells": [{"kind": "python"}]},
        {"cells": [{"source": 3}]},
    ],
)
def test_bad_payloads_raise_a_clear_error(bad: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        serialize_payload(bad)


def _fresh(payload: dict[str, Any]) -> str:
    """``serialize_payload`` with nothing kept from earlier calls."""
    from sessions.lsp import notebook_json

    for cached in (notebook_json._reading, notebook_json._kind_after, notebook_json._base_of):
        cached.cache_clear()
    return serialize_payload(payload)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(LINES, min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["edit", "undo", "kind"])), max_size=8),
)
def test_what_serializing_keeps_between_calls_changes_no_result(
    lines: list[str], steps: list[tuple[int, str]]
) -> None:
    """The notebook view sends the cells' original ``raw`` with every
    keystroke; what each raw reads as is kept between calls. Edits of a
    cell's source, undoing them (the raw is used again, byte for byte) and
    kind changes give what a first call gives."""
    text = "\n".join(lines) + "\n"
    payload = parse_payload(text)
    assert serialize_payload(payload) == _fresh(payload) == text
    cells = payload["cells"]
    originals = [cell["source"] for cell in cells]
    for where, step in steps if cells else []:
        position = where % len(cells)
        cell = cells[position]
        if step == "edit":
            cell["source"] = cell["source"] + "\nz = 2"
        elif step == "undo":
            cell["source"] = originals[position]
        elif not cell.get("frontmatter"):
            cell["kind"] = "markdown" if cell["kind"] == "code" else "code"
        warm = serialize_payload(payload)
        assert warm == _fresh(payload)
        assert serialize_payload(payload) == warm


REAL_NOTEBOOKS = sorted(
    [
        *(Path(__file__).resolve().parents[2] / "bench" / "corpus").glob("*.py.txt"),
        *(Path(__file__).resolve().parents[2] / "tests" / "corpus").rglob("*.py"),
    ]
)


def _one_after_another(text: str, sources: list[str]) -> str:
    """What serializing wrote before it could write all edited cells at once:
    ``set_source`` for each edited cell in turn, on the result of the last."""
    notebook = parse(text)
    originals = [cell.source for cell in notebook.cells]
    position = 0
    for source, original in zip(sources, originals, strict=True):
        before = len(notebook)
        if source.replace("\r\n", "\n").replace("\r", "\n") != original:
            notebook = set_source(notebook, position, source)
        position += 1 + (len(notebook) - before)
    return serialize(notebook)


TYPING = st.sampled_from(["x", " ", "\n", "\n\n", "\n    y = 1", "# note", "\n# %% not a marker"])


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_typing_in_real_notebooks_writes_what_setting_each_cell_in_turn_writes(
    path: Path, data: st.DataObject
) -> None:
    """The notebook view's keystrokes on real notebooks: after each, the
    payload (every cell with its raw) serializes to what setting each edited
    cell's source in turn gave."""
    text = path.read_text(encoding="utf-8")
    payload = through_json(parse_payload(text))
    cells = payload["cells"]
    editable = [i for i, c in enumerate(cells) if not c["frontmatter"]]
    if not editable:
        return
    for _ in range(data.draw(st.integers(1, 12))):
        cell = cells[data.draw(st.sampled_from(editable))]
        cell["source"] = cell["source"] + data.draw(TYPING)
        sources = [c["source"] for c in cells]
        assert serialize_payload(payload) == _one_after_another(text, sources)


def test_an_open_string_typed_above_a_cell_whose_kind_changed_loses_no_cell() -> None:
    """An edit that opens a string makes the cells below it read as that string
    (the file says so); serializing then still writes every cell, edited or
    not, once and in order. On this real notebook it raised IndexError: the
    cells' positions were lost when the cells below merged into the string."""
    text = (Path(__file__).resolve().parents[2] / "bench/corpus/statsmodels_glm.py.txt").read_text()
    payload = through_json(parse_payload(text))
    cells = payload["cells"]
    cells[2]["source"] += '"""'  # ends `plt.rc("font", size=14)`: opens a string
    cells[3]["kind"] = "code"  # was markdown
    written = serialize_payload(payload)
    head = text[: text.index(cells[2]["raw"])]  # the YAML header and cells 0 and 1
    assert written.startswith(head + cells[2]["raw"].rstrip("\n"))
    assert 'plt.rc("font", size=14)"""\n' in written
    assert "\n# %%\n# ## GLM: Binomial response data\n" not in written  # code now: no `#`
    assert "\n# %%\n## GLM: Binomial response data\n" in written
    assert written.endswith("".join(cell["raw"] for cell in cells[4:]))


def test_cells_kept_between_calls_are_read_again_after_another_header() -> None:
    """What serializing found out about a cell is kept for the next call, and
    is only good for the header it was found with: a preamble of ``# ---``
    lines is a cell after a YAML header, and the header itself without one."""
    header = "# ---\n# jupyter:\n#   a: 1\n# ---\n\n"
    text = header + "# ---\n# b: 2\n# ---\n\n# %%\nx = 1\n"
    payload = parse_payload(text)
    wanted = [wanted_cell(cell, i) for i, cell in enumerate(payload["cells"])]
    assert serialize_cells(wanted, notebook_fields(payload)) == text
    without = {**payload, "header": ""}
    fresh = [wanted_cell(cell, i) for i, cell in enumerate(payload["cells"])]
    assert serialize_cells(wanted, notebook_fields(without)) == serialize_cells(
        fresh, notebook_fields(without)
    )


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_new_cells_and_typing_write_what_one_cell_at_a_time_writes(
    path: Path, data: st.DataObject
) -> None:
    """With cells VS Code made (no raw) and cells whose kind changed among them,
    the edited cells between two new ones are set together: the text is the
    one setting them one at a time gives (both shortcuts turned off)."""
    text = path.read_text(encoding="utf-8")
    payload = through_json(parse_payload(text))
    cells = payload["cells"]
    for _ in range(data.draw(st.integers(1, 8))):
        step = data.draw(st.sampled_from(["type", "type", "new", "kind"]))
        position = data.draw(st.integers(0, len(cells) - 1))
        cell = cells[position]
        if step == "type" and not cell.get("frontmatter"):
            cell["source"] = cell["source"] + data.draw(TYPING)
        elif step == "new":
            new = {"kind": "code", "source": data.draw(st.sampled_from(["", "z = 1", "# c\n"]))}
            cells.insert(position + 1, new)
        elif step == "kind" and not cell.get("frontmatter") and "raw" in cell:
            cell["kind"] = "markdown" if cell["kind"] == "code" else "code"
        written = serialize_payload(payload)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(notebook_json, "set_sources", lambda *_, **__: None)
            patch.setattr(notebook_json, "set_sources_text", lambda *_: None)
            assert written == serialize_payload(payload)
        with pytest.MonkeyPatch.context() as patch:  # every cell placed on its line each step
            patch.setattr(notebook_json, "set_sources", lambda *a, **_: set_sources(*a))
            patch.setattr(notebook_json, "insert_cells", lambda *a, **_: insert_cells(*a))
            assert written == serialize_payload(payload)


def _as_shown(cell: dict[str, Any]) -> tuple[str, str]:
    """A cell as the notebook view shows it; trailing blank space is the file's
    to keep (a cell's last blank lines are its separator)."""
    kind = "raw" if cell.get("frontmatter") else cell["kind"]
    return kind, cell["source"].rstrip()


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_cells_added_moved_and_deleted_read_back_in_the_view_order(
    path: Path, data: st.DataObject
) -> None:
    """Whatever the notebook view does to the order of whole cells (add one
    anywhere, the top included; move one; delete one), the file it saves
    reads back as those cells in that order: the view addresses cells by
    position, so a cell read back elsewhere would run, format and show
    another's. Adding a cell above a preamble (the text before the first
    marker, as every scikit-learn example starts) put it below instead."""
    payload = through_json(parse_payload(path.read_text(encoding="utf-8")))
    cells: list[dict[str, Any]] = payload["cells"]
    for _ in range(data.draw(st.integers(1, 4))):
        step = data.draw(st.sampled_from(["add", "add", "move", "delete"]))
        if step == "add":
            kind = data.draw(st.sampled_from(["code", "markdown"]))
            new = {"kind": kind, "source": "added = 1" if kind == "code" else "Added"}
            cells.insert(data.draw(st.integers(0, len(cells))), new)
        elif step == "move":
            moved = cells.pop(data.draw(st.integers(0, len(cells) - 1)))
            cells.insert(data.draw(st.integers(0, len(cells))), moved)
        elif len(cells) > 1:
            del cells[data.draw(st.integers(0, len(cells) - 1))]
    written = parse_payload(serialize_payload(payload))["cells"]
    assert [_as_shown(c) for c in written] == [_as_shown(c) for c in cells]


VIEW_TYPING = st.sampled_from(['"""', "'''", "(", "x = 1", "\n", "\n\n", "# note", '"""doc"""'])


def _in_order(text: str, sources: list[str]) -> list[int]:
    """The cells whose lines are not all found in ``text`` after the cells before it."""
    missing, at = [], 0
    for position, source in enumerate(sources):
        for line in source.rstrip().split("\n"):
            if line.lstrip().startswith(("%", "!")):
                continue  # magics are written commented or as a cell's language
            found = text.find(line.rstrip(), at)
            if found < 0:
                missing.append(position)
                break
            at = found + len(line.rstrip())
    return missing


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_the_notebook_view_loses_no_cell_text_even_with_strings_left_open(
    path: Path, data: st.DataObject
) -> None:
    """What the notebook view sends (cells typed into, added, deleted, some
    opening strings that take in the cells below them in the file) is all in
    the text it saves, in order: every line of every cell. Typing into a cell
    after a string was opened in a cell added above it wrote the typed cell
    over another one, whose code was lost."""
    payload = through_json(parse_payload(path.read_text(encoding="utf-8")))
    cells: list[dict[str, Any]] = payload["cells"]
    for _ in range(data.draw(st.integers(1, 8))):
        step = data.draw(st.sampled_from(["type", "type", "add", "delete"]))
        if step == "add":
            new = {"kind": "code", "source": data.draw(VIEW_TYPING)}
            cells.insert(data.draw(st.integers(0, len(cells))), new)
        elif step == "delete" and len(cells) > 1:
            del cells[data.draw(st.integers(0, len(cells) - 1))]
        else:
            editable = [i for i, c in enumerate(cells) if not c.get("frontmatter")]
            if not editable:
                continue
            cell = cells[data.draw(st.sampled_from(editable))]
            source = cell["source"]
            at = data.draw(st.integers(0, len(source)))
            cell["source"] = source[:at] + data.draw(VIEW_TYPING) + source[at:]
        shown = [c["source"] for c in cells if not c.get("frontmatter")]
        assert _in_order(serialize_payload(payload), shown) == []
