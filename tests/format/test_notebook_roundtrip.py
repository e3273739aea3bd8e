"""Property tests for the percent format: exact round trip and honest edits (DESIGN §2)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sessions.format.markers import line_ending, marker_lines, split_lines
from sessions.format.notebook import (
    CellKind,
    ParsedNotebook,
    delete_cell,
    insert_cell,
    move_cell,
    parse,
    reuse_unchanged_cells,
    serialize,
    set_source,
    set_sources,
    set_sources_text,
)

# At least 500 examples everywhere, CI included: a named profile used by every test here.
settings.register_profile(
    "notebook-format",
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FORMAT = settings.get_profile("notebook-format")

MARKERS = [
    "# %%",
    "#%%",
    "  # %%",
    "# %%   ",
    "# %%\t",
    "# %% Load data",
    "# %% [markdown]",
    "# %% [md]",
    "# %% [raw]",
    '# %% tags=["a", "b"] id="x"',
    '# %% Title [markdown] tags=["setup"] id="load"',
    '# %% key={"a": [1, 2]} flag=true',
    '# %% title {"tags": ["x"]}',
    "# %%%% sub cell",
    "# %%%",
    "# %%time",
    "# %% x = 1",
]
LINES = [
    "",
    "   ",
    "\t",
    "x = 1",
    "\tif x:",
    "def broken(:",
    "# a comment",
    "# markdown *text*",
    "#",
    "# %matplotlib inline",
    "# !pip install x",
    "#!/usr/bin/env python",
    "# %d items",
    "%time f()",
    "# %%time",
    "# # %time g()",
    '"""',
    "'''",
    'x = """',
    "s = '''abc",
    '"""Docstring."""',
    'r"""',
    "y = 'it''s'",
    'z = "a \\" b"',
    "path = 'C:\\\\'",
    "# /// script",
    '# dependencies = ["numpy"]',
    "# ///",
    "# -*- coding: utf-8 -*-",
    "%%capture",
    "\x0c",
    "é ☃ \u2028 x",
    # A Jupytext YAML header, its root-level YAML and language= cells.
    "# ---",
    "#---",
    "# jupyter:",
    "#   kernelspec:",
    "#     name: python3",
    "#   - broken: [",
    "# title: Tides",
    '# %% language="bash"',
    '# %% magic_args="-x" language="bash"',
    '# %% language="python"',
    "%%bash",
    "# echo hi",
]
EOLS = ["\n", "\n", "\n", "\r\n", "\r"]
# YAML headers at the top: plain, with root-level YAML, shebang and coding
# line, no blank line after, invalid YAML, and almost-headers (no closing).
HEADERS = [
    "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n",
    "# ---\n# title: x\n# jupyter:\n#   a: 1\n#\n# more: 2\n# ---\n",
    "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n#\n# ---\n# jupyter:\n#   a: [\n# ---\n#\n",
    "# ---\n# ---\n",
    "# ---\n# banner only\n# ---\n\n\n",
    "# ---\n# jupyter:\n#   a: 1\n",
]


@st.composite
def notebook_texts(draw: st.DrawFn) -> str:
    """Text mixing markers, magics, strings, odd whitespace and mixed line endings."""
    line = st.one_of(st.sampled_from(MARKERS), st.sampled_from(LINES), st.text(max_size=12))
    lines = draw(st.lists(line, max_size=30))
    endings = draw(st.lists(st.sampled_from(EOLS), min_size=len(lines), max_size=len(lines)))
    text = "".join(a + b for a, b in zip(lines, endings, strict=True))
    if draw(st.booleans()):
        text = draw(st.sampled_from(HEADERS)).replace("\n", draw(st.sampled_from(EOLS))) + text
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # missing final newline
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


any_text = st.one_of(notebook_texts(), st.text(), st.text(alphabet="#% \n\r\"'x[]=", max_size=60))


def structure(nb: ParsedNotebook) -> tuple[Any, ...]:
    # ``newline`` is left out: an edited notebook keeps the file's preference
    # even when the text it now has shows no (or another first) line ending.
    return (
        nb.bom,
        nb.header,
        nb.prefix,
        [(c.raw, c.start_line, c.is_preamble, c.frontmatter) for c in nb.cells],
    )


def leading_cells_without_marker(nb: ParsedNotebook) -> int:
    """Frontmatter and preamble: nothing goes above them."""
    count = 0
    while count < len(nb) and not nb.cells[count].has_marker:
        count += 1
    return count


def assert_consistent(nb: ParsedNotebook) -> None:
    """What an edit returns is exactly what parsing its text gives."""
    assert structure(parse(serialize(nb))) == structure(nb)


@FORMAT
@given(any_text)
def test_serialize_parse_is_exact(text: str) -> None:
    nb = parse(text)
    assert serialize(nb) == text
    assert structure(parse(serialize(nb))) == structure(nb)


@FORMAT
@given(any_text)
def test_cells_cover_the_file_in_order(text: str) -> None:
    nb = parse(text)
    body = text[1:] if nb.bom else text
    lines = split_lines(body)
    line = len(split_lines(nb.header)) + len(split_lines(nb.prefix))
    assert nb.prefix == "" or nb.prefix.isspace()
    assert body.startswith(nb.header)
    for index, cell in enumerate(nb.cells):
        if cell.is_frontmatter:  # the header's root-level YAML: no bytes of its own
            assert index == 0 and cell.raw == "" and cell.start_line == 0 and nb.header
            continue
        assert cell.start_line == line
        first_line = split_lines(cell.raw)[:1]
        first = index == 0 or (index == 1 and nb.cells[0].is_frontmatter)
        assert cell.is_preamble == (first and not marker_lines(first_line)[0])
        if not cell.is_preamble:
            assert marker_lines(split_lines(cell.raw))[0] == [0]
        assert cell.source == cell.source.replace("\r", "")
        line += cell.line_count
    assert line == len(lines) == nb.line_count


# Sources as a notebook UI produces them: LF, no trailing blank line, no line
# that reads as a marker, no triple quote (which could swallow the next cell).
SAFE_CODE_LINES = [
    "x = 1",
    "  y = x + 1",
    "\tz = 'q'",
    "%time f()",
    "%%time",
    "!pip install x",
    "files = !ls",
    "# %time commented in the UI",
    "# a comment",
    "%d not a magic",
    "#!/usr/bin/env python",
    "print('é')",
    "",
    "   ",
    "def broken(:",
    "%time a = \\",
    "    b",
]
SAFE_TEXT_LINES = [
    "Some *markdown*",
    "",
    "# Heading",
    "#",
    "  indented",
    "%% mermaid comment",
    "%%",
    '"""',
    "- item",
    "\\",
]


def _no_trailing_blank(source: str) -> bool:
    return not source.split("\n")[-1].isspace() and not source.endswith("\n")


code_sources = (
    st.lists(st.sampled_from(SAFE_CODE_LINES), max_size=6).map("\n".join).filter(_no_trailing_blank)
)
text_sources = st.lists(st.sampled_from(SAFE_TEXT_LINES), max_size=6).map("\n".join)


@FORMAT
@given(notebook_texts(), st.data())
def test_set_source_changes_only_that_cell(text: str, data: st.DataObject) -> None:
    nb = parse(text)
    assume(len(nb) > 0)
    index = data.draw(st.integers(0, len(nb) - 1))
    cell = nb.cells[index]
    source = data.draw(code_sources if cell.kind == "code" else text_sources)
    assume(not (cell.is_preamble and source.strip() == ""))
    # The frontmatter is the header's; a language= header follows its magic (tested apart).
    assume(not cell.is_frontmatter and cell.language is None)
    # A blank first line right after a header belongs to the header (as in Jupytext).
    assume(not (cell.is_preamble and nb.header and source.split("\n")[0].strip() == ""))
    assume(index == len(nb) - 1 or marker_lines(split_lines(cell.raw))[1] is None)

    edited = set_source(nb, index, source)

    assert_consistent(edited)
    assert len(edited) == len(nb)
    assert edited.cells[index].source == source
    assert parse(serialize(edited)).cells[index].source == source
    for other, (before, after) in enumerate(zip(nb.cells, edited.cells, strict=True)):
        if other != index:
            assert after.raw == before.raw
    head = serialize(nb)[: len(serialize(nb)) - len("".join(c.raw for c in nb.cells[index:]))]
    tail = "".join(c.raw for c in nb.cells[index + 1 :])
    assert serialize(edited).startswith(head)
    assert serialize(edited).endswith(tail)
    assert edited.cells[index].header_line == cell.header_line
    assert edited.cells[index].separator == cell.separator


@FORMAT
@given(any_text, st.data())
def test_set_source_same_source_is_a_no_op(text: str, data: st.DataObject) -> None:
    nb = parse(text)
    assume(len(nb) > 0)
    index = data.draw(st.integers(0, len(nb) - 1))
    assert set_source(nb, index, nb.cells[index].source) is nb


@FORMAT
@given(any_text, st.data())
def test_every_edit_reads_back_as_itself(text: str, data: st.DataObject) -> None:
    """Whatever the source (markers, open strings, blank preamble), results are honest."""
    nb = parse(text)
    source = data.draw(st.one_of(st.text(max_size=40), code_sources, text_sources))
    if len(nb):
        index = data.draw(st.integers(0, len(nb) - 1))
        assert_consistent(set_source(nb, index, source))
        assert_consistent(delete_cell(nb, index))
    position = data.draw(st.integers(0, len(nb)))
    kind: CellKind = data.draw(st.sampled_from(["code", "markdown", "raw"]))
    if position >= leading_cells_without_marker(nb):
        assert_consistent(insert_cell(nb, position, source, kind=kind))


@FORMAT
@given(notebook_texts(), st.data())
def test_insert_adds_one_cell_and_one_blank_line(text: str, data: st.DataObject) -> None:
    nb = parse(text)
    assume(not nb.cells or marker_lines(split_lines(nb.cells[-1].raw))[1] is None)
    first = leading_cells_without_marker(nb)
    index = data.draw(st.integers(first, len(nb)))
    kind: CellKind = data.draw(st.sampled_from(["code", "markdown"]))
    source = data.draw(code_sources if kind == "code" else text_sources)
    nl = nb.newline

    edited = insert_cell(nb, index, source, kind=kind)

    assert_consistent(edited)
    assert len(edited) == len(nb) + 1
    new = edited.cells[index]
    assert new.kind == kind
    assert new.source == source
    before, after = serialize(nb), serialize(edited)
    if index < len(nb):
        at = len(before) - len("".join(c.raw for c in nb.cells[index:]))
        assert new.separator == nl
        assert after == before[:at] + new.raw + before[at:]
    else:
        assert after.endswith(new.raw)
        glue = after[: len(after) - len(new.raw)]
        assert glue.startswith(before)
        added = glue[len(before) :]
        ends_blank = bool(nb.cells) and nb.cells[-1].separator != "" and before[-1:] in "\r\n"
        if nb.cells:
            assert added in ("", nl, nl + nl)
            assert added == "" if ends_blank else added.endswith(nl)
    assert [c.raw for i, c in enumerate(edited.cells) if i not in (index, index - 1)] == [
        c.raw for i, c in enumerate(nb.cells) if i != index - 1
    ]


@FORMAT
@given(notebook_texts(), st.data())
def test_delete_removes_exactly_that_cells_bytes(text: str, data: st.DataObject) -> None:
    nb = parse(text)
    assume(len(nb) > 0)
    index = data.draw(st.integers(0, len(nb) - 1))
    assume(not nb.cells[index].is_frontmatter)  # that edits the header (tested apart)
    edited = delete_cell(nb, index)
    assert_consistent(edited)
    assert len(edited) == len(nb) - 1
    raws = [c.raw for c in nb.cells]
    del raws[index]
    assert [c.raw for c in edited.cells] == raws
    assert serialize(edited) == ("\ufeff" if nb.bom else "") + nb.header + nb.prefix + "".join(raws)


@FORMAT
@given(notebook_texts(), st.data())
def test_move_reorders_cells(text: str, data: st.DataObject) -> None:
    nb = parse(text)
    first = leading_cells_without_marker(nb)
    assume(len(nb) - first >= 2)
    assume(marker_lines(split_lines(nb.cells[-1].raw))[1] is None)
    source_index = data.draw(st.integers(first, len(nb) - 1))
    target_index = data.draw(st.integers(first, len(nb) - 1))

    try:
        edited = move_cell(nb, source_index, target_index)
    except ValueError as error:
        # Only when the moved text would read as other cells (found by this
        # test: a preamble opening "# ---" and a moved cell's "# ---" closing
        # it into a YAML header); the notebook is left as it was.
        assert "read back as other cells" in str(error)
        return

    assert_consistent(edited)
    expected = [(c.header_line, c.source) for c in nb.cells]
    expected.insert(target_index, expected.pop(source_index))
    assert [(c.header_line, c.source) for c in edited.cells] == expected
    assert serialize(edited).endswith(nb.cells[-1].separator)


def derived(nb: ParsedNotebook) -> list[tuple[Any, ...]]:
    return [
        (
            c.raw,
            c.start_line,
            c.body_line,
            c.is_preamble,
            c.kind,
            c.title,
            dict(c.metadata),
            c.source,
            c.hash,
        )
        for c in nb.cells
    ]


@FORMAT
@given(any_text, any_text)
def test_reusing_unchanged_cells_equals_a_fresh_parse(before: str, after: str) -> None:
    previous = parse(before)
    derived(previous)  # derive everything, as the language server has by then
    fresh = parse(after)
    reused = reuse_unchanged_cells(previous, parse(after))
    assert derived(reused) == derived(fresh)
    assert serialize(reused) == after


@FORMAT
@given(notebook_texts(), st.data())
def test_reusing_cells_after_an_edit_keeps_them_right(text: str, data: st.DataObject) -> None:
    previous = parse(text)
    assume(len(previous.cells) > 1)
    derived(previous)
    index = data.draw(st.integers(min_value=0, max_value=len(previous.cells) - 1))
    insertable = index >= max(1, leading_cells_without_marker(previous))
    edited = (
        serialize(insert_cell(previous, index, "moved = 1"))
        if insertable
        else text + "\n# %%\nz = 2\n"
    )
    assert derived(reuse_unchanged_cells(previous, parse(edited))) == derived(parse(edited))


def test_a_blank_first_line_after_a_cr_marker_line_is_kept() -> None:
    """Found by the property above: a marker line ending in a lone CR, then a
    source starting with a blank line; the CR and the body's LF fused into
    one CRLF and the blank line was lost."""
    text = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\r# %%\nx = 2\n"
    nb = parse(text)
    edited = set_source(nb, 0, "\nx = 1")
    assert edited.cells[0].source == "\nx = 1"
    assert parse(serialize(edited)).cells[0].source == "\nx = 1"
    assert edited.cells[1].raw == nb.cells[1].raw


@FORMAT
@given(any_text, st.data())
def test_sources_set_one_after_another_read_back(text: str, data: st.DataObject) -> None:
    """The notebook view sets the source of every cell edited so far on each
    keystroke, each time on the result of the last: every step reads back as
    itself, and the per-cell columns kept along the way are the cells'."""
    nb = parse(text)
    if not len(nb):
        return
    assert len(nb.raws) == len(nb.raw_offsets) - 1 == len(nb._starts)  # read: edits splice them
    for _ in range(data.draw(st.integers(1, 5))):
        if not len(nb):
            break  # the preamble was emptied: no cell is left
        index = data.draw(st.integers(0, len(nb) - 1))
        source = data.draw(st.one_of(st.text(max_size=30), code_sources, text_sources))
        nb = set_source(nb, index, source)
        assert_consistent(nb)
        fresh = parse(serialize(nb))
        for column in ("raws", "raw_offsets", "_starts"):
            if column in nb.__dict__:
                assert getattr(nb, column) == getattr(fresh, column)


def _drawn_edits(nb: ParsedNotebook, data: st.DataObject) -> list[tuple[int, str]]:
    """Up to five (index, source) edits of distinct cells of ``nb``."""
    indexes = data.draw(st.lists(st.integers(0, len(nb) - 1), max_size=5, unique=True))
    return [
        (index, data.draw(st.one_of(st.text(max_size=30), code_sources, text_sources)))
        for index in indexes
    ]


def _folded(nb: ParsedNotebook, edits: list[tuple[int, str]]) -> str:
    for index, source in edits:
        nb = set_source(nb, index, source)
    return serialize(nb)


@FORMAT
@given(any_text, st.data())
def test_sources_set_at_once_write_what_setting_them_in_turn_writes(
    text: str, data: st.DataObject
) -> None:
    """``set_sources_text`` is ``set_source`` folded over the edits, then
    ``serialize``; or None, when a step would rewrite more than its cell."""
    nb = parse(text)
    if not len(nb):
        return
    edits = _drawn_edits(nb, data)
    written = set_sources_text(nb, edits)
    if written is not None:
        assert written == _folded(nb, edits)


@FORMAT
@given(notebook_texts(), st.data())
def test_sources_set_at_once_are_written_whenever_each_cell_reads_back(
    text: str, data: st.DataObject
) -> None:
    """Sources that keep every cell a cell of its own (the notebook view's
    typing) take the fast path: None is not the common answer."""
    nb = parse(text)
    candidates = [
        i
        for i, cell in enumerate(nb.cells)
        if not cell.is_preamble
        and not cell.is_frontmatter
        and cell.language is None
        and marker_lines(split_lines(cell.raw))[1] is None
        and line_ending(cell.raw)
    ]
    assume(candidates)
    indexes = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4, unique=True))
    edits = [
        (i, data.draw(code_sources if nb.cells[i].kind == "code" else text_sources))
        for i in indexes
    ]
    written = set_sources_text(nb, edits)
    assert written is not None
    assert written == _folded(nb, edits)


def test_sources_set_at_once_see_the_earlier_edits_when_the_header_is_read() -> None:
    """Each edit's header check reads the cells as the edits before it left
    them: here the two together start a YAML header (set in turn, the second
    ``set_source`` reads the text again), so the fast path must step aside."""
    nb = parse("x = 1\n# %%\ny = 2\n")
    edits = [(0, "# ---\n# a: 1"), (1, "# ---\ny = 2")]
    assert set_source(set_source(nb, *edits[0]), *edits[1]).header != ""
    assert set_sources_text(nb, edits) is None
    assert set_sources_text(nb, edits[:1]) == _folded(nb, edits[:1])


@FORMAT
@given(any_text, st.data())
def test_sources_set_together_make_the_notebook_setting_them_in_turn_makes(
    text: str, data: st.DataObject
) -> None:
    """``set_sources`` is ``set_source`` folded over the edits (the same cells
    at the same lines), or None when ``set_sources_text`` is."""
    nb = parse(text)
    if not len(nb):
        return
    edits = _drawn_edits(nb, data)
    together = set_sources(nb, edits)
    assert (together is None) == (set_sources_text(nb, edits) is None)
    if together is not None:
        in_turn = nb
        for index, source in edits:
            in_turn = set_source(in_turn, index, source)
        assert structure(together) == structure(in_turn)  # cells compare by identity
        assert together.newline == in_turn.newline
        assert_consistent(together)
    unplaced = set_sources(nb, edits, placed=False)
    assert (unplaced is None) == (together is None)
    if unplaced is not None and together is not None:
        assert [c.raw for c in unplaced.cells] == [c.raw for c in together.cells]
        assert serialize(unplaced) == serialize(together)
