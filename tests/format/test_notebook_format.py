"""Table tests for the percent format: headers, magics, markdown, edge cases of edits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.format.magics import comment_magics, is_magic_line, magic_line_mask, uncomment_magics
from sessions.format.markdown import encode_markdown, uncomment_markdown
from sessions.format.markers import CellHeader, CellType, format_header, parse_header, split_lines
from sessions.format.notebook import (
    delete_cell,
    insert_cell,
    move_cell,
    parse,
    serialize,
    set_source,
)


@pytest.mark.parametrize(
    ("line", "title", "kind", "metadata"),
    [
        ("# %%", "", "code", {}),
        ("#%%", "", "code", {}),
        ("# %% Load data", "Load data", "code", {}),
        ("# %% [markdown]", "", "markdown", {}),
        ("# %% [md]", "", "markdown", {}),
        ("# %% [raw]", "", "raw", {}),
        ("# %% [markdown] My title", "My title", "markdown", {}),
        (
            '# %% Load data [markdown] tags=["setup"] id="load"',
            "Load data",
            "markdown",
            {"tags": ["setup"], "id": "load"},
        ),
        (
            '# %% key={"a": [1, 2]} flag=true n=3',
            "",
            "code",
            {"key": {"a": [1, 2]}, "flag": True, "n": 3},
        ),
        ('# %% Plot {"tags": ["figure"]}', "Plot", "code", {"tags": ["figure"]}),
        ("# %% x = 1", "", "code", {"x": 1}),
        ("# %% a == b", "a == b", "code", {}),
        ("# %% bad=json{", "bad=json{", "code", {}),
        ("# %%%% Sub section", "Sub section", "code", {}),
        ("# %%\tTabbed\r\n", "Tabbed", "code", {}),
    ],
)
def test_parse_header(line: str, title: str, kind: CellType, metadata: dict[str, object]) -> None:
    assert parse_header(line) == CellHeader(title=title, cell_type=kind, metadata=metadata)


def test_format_header_parses_back() -> None:
    header = CellHeader(title="Load", cell_type="markdown", metadata={"tags": ["a b"], "id": "x"})
    line = format_header(header)
    assert line == '# %% Load [markdown] tags=["a b"] id="x"'
    assert parse_header(line) == header


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("# %%\na\n# %%time\nb\n", [0]),  # a commented cell magic is not a marker
        ("# %%%\na\n", []),  # Jupytext needs whitespace after extra %
        ("x = '''\n# %%\n'''\n# %%\n", [3]),
        ('x = """\n# %% in string\n"""\n# %%\n', [3]),
        ('s = "\\"""\n# %%\n', [1]),  # an escaped quote does not open a triple string
        ("s = '# %%'\n  # %% indented\n", [1]),
        ('# """\n# %%\n', [1]),  # quotes in comments do not count
    ],
)
def test_marker_lines(text: str, starts: list[int]) -> None:
    nb = parse(text)
    assert [c.start_line for c in nb.cells if not c.is_preamble] == starts


@pytest.mark.parametrize(
    ("file_form", "ui_form"),
    [
        ("# %matplotlib inline", "%matplotlib inline"),
        ("# !pip install x", "!pip install x"),
        ("# %%time", "%%time"),
        ("#%time f()", "%time f()"),
        ("    # %timeit f()", "    %timeit f()"),
        ("# files = !ls", "files = !ls"),
        ("# t = %timeit -o f()", "t = %timeit -o f()"),
        ("# # %time g()", "# %time g()"),  # a commented magic in the UI
        ("#!/usr/bin/env python", "#!/usr/bin/env python"),  # a shebang is not `!`
        ("# %d items", "# %d items"),  # unknown name: a comment
        ("# 100% sure", "# 100% sure"),
        ("# !=", "# !="),
        ("# %time-consuming step", "# %time-consuming step"),
        ("# %time a = \\\n#     b\nc", "%time a = \\\n    b\nc"),
        ("s = '''\n# %time x\n'''", "s = '''\n# %time x\n'''"),  # inside a string
    ],
)
def test_magics(file_form: str, ui_form: str) -> None:
    assert uncomment_magics(file_form) == ui_form
    assert uncomment_magics(comment_magics(ui_form)) == ui_form


def test_comment_magics_writes_jupytext_style() -> None:
    assert comment_magics("%matplotlib inline\n!pip install x\nx = 1") == (
        "# %matplotlib inline\n# !pip install x\nx = 1"
    )


def test_magic_mask_for_analysis() -> None:
    code = "%time a = \\\n    b\nx = 1\n!ls\n# %time c\ns = '''\n%time\n'''"
    assert magic_line_mask(code) == [True, True, False, True, False, False, False, False]
    assert is_magic_line("%pip install x") and not is_magic_line("# %pip install x")


def test_shebang_preamble_stays_a_comment() -> None:
    nb = parse("#!/usr/bin/env python\n# !ls\n\n# %%\nx = 1\n")
    assert nb.cells[0].is_preamble
    assert nb.cells[0].code == "#!/usr/bin/env python\n!ls"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("# Title\n#\n# text", "Title\n\ntext"),
        ("#tight\nplain", "tight\nplain"),
        ('"""\nQuoted *text*\n"""', "Quoted *text*"),
        ("'''\nSingle\n'''", "Single"),
        ('r"""\nRaw \\d\n"""', "Raw \\d"),
        ('"""inline"""', "inline"),
    ],
)
def test_markdown_styles(body: str, text: str) -> None:
    assert uncomment_markdown(body) == text
    nb = parse(f"# %% [markdown]\n{body}\n")
    assert nb.cells[0].kind == "markdown" and nb.cells[0].source == text


def test_markdown_keeps_its_quote_style_when_edited() -> None:
    nb = parse('# %% [markdown]\n"""\nOld\n"""\n\n# %%\nx\n')
    edited = set_source(nb, 0, "New\n\ntext")
    assert serialize(edited) == '# %% [markdown]\n"""\nNew\n\ntext\n"""\n\n# %%\nx\n'


def test_markdown_line_that_would_become_a_marker_is_quoted() -> None:
    assert encode_markdown("%% mermaid note") == '"""\n%% mermaid note\n"""'
    nb = insert_cell(parse("# %%\nx\n"), 1, "```mermaid\n%% note\n```", kind="markdown")
    assert len(nb) == 2 and nb.cells[1].source == "```mermaid\n%% note\n```"


def test_whitespace_prefix_is_not_a_cell() -> None:
    nb = parse("\n  \n# %%\nx\n")
    assert nb.prefix == "\n  \n" and len(nb) == 1 and nb.cells[0].start_line == 2
    assert parse("\n\n").cells == () and parse("").cells == ()


def test_crlf_edits_use_the_files_line_ending() -> None:
    nb = parse("# %%\r\na = 1\r\n\r\n# %%\r\nb = 2\r\n")
    text = serialize(set_source(nb, 0, "a = 10\nc = 3"))
    assert text == "# %%\r\na = 10\r\nc = 3\r\n\r\n# %%\r\nb = 2\r\n"
    text = serialize(insert_cell(nb, 1, "new"))
    assert text == "# %%\r\na = 1\r\n\r\n# %%\r\nnew\r\n\r\n# %%\r\nb = 2\r\n"


def test_missing_final_newline_stays_missing() -> None:
    nb = parse("# %%\na = 1\n\n# %%\nb = 2")
    assert serialize(set_source(nb, 1, "b = 3\nc = 4")) == "# %%\na = 1\n\n# %%\nb = 3\nc = 4"
    assert serialize(insert_cell(nb, 2, "c")) == "# %%\na = 1\n\n# %%\nb = 2\n\n# %%\nc\n"


def test_insert_append_delete_and_empty_notebook() -> None:
    nb = insert_cell(parse(""), 0, "x = 1", title="First")
    assert serialize(nb) == "# %% First\nx = 1\n"
    nb = insert_cell(nb, 1, "Notes", kind="markdown")
    assert serialize(nb) == "# %% First\nx = 1\n\n# %% [markdown]\n# Notes\n"
    assert serialize(delete_cell(nb, 0)) == "# %% [markdown]\n# Notes\n"
    assert serialize(delete_cell(delete_cell(nb, 0), 0)) == ""


def test_nothing_goes_above_the_preamble() -> None:
    nb = parse("import os\n\n# %%\nx\n\n# %%\ny\n")
    with pytest.raises(ValueError):
        insert_cell(nb, 0, "z")
    with pytest.raises(ValueError):
        move_cell(nb, 2, 0)
    with pytest.raises(ValueError):
        move_cell(nb, 0, 1)
    assert serialize(insert_cell(nb, 1, "z")) == "import os\n\n# %%\nz\n\n# %%\nx\n\n# %%\ny\n"


def test_emptying_the_preamble_leaves_no_preamble() -> None:
    nb = set_source(parse("import os\n\n# %%\nx\n"), 0, "")
    assert serialize(nb) == "\n# %%\nx\n"
    assert nb.prefix == "\n" and len(nb) == 1


def test_move_last_cell_keeps_the_file_ending() -> None:
    nb = parse("# %%\na\n\n# %%\nb\n\n# %%\nc")
    moved = move_cell(nb, 2, 0)
    assert serialize(moved) == "# %%\nc\n\n# %%\na\n\n# %%\nb"
    assert [c.start_line for c in moved.cells] == [0, 3, 6]


def test_source_with_a_marker_splits_the_cell_honestly() -> None:
    nb = set_source(parse("# %%\na\n\n# %%\nb\n"), 0, "a\n# %% surprise\nc")
    assert [c.source for c in nb.cells] == ["a", "c", "b"]


def test_cell_lines_and_lookup() -> None:
    nb = parse("import os\n\n# %% A\nx = 1\ny = 2\n\n# %%\nz\n")
    assert [(c.start_line, c.body_line, c.end_line) for c in nb.cells] == [
        (0, 0, 2),
        (2, 3, 6),
        (6, 7, 8),
    ]
    assert [nb.cell_at_line(line) for line in range(9)] == [0, 0, 1, 1, 1, 1, 2, 2, None]
    assert nb.cells[1].display_name() == "A" and nb.cells[2].display_name() == "z"


def test_split_lines_only_breaks_on_cr_and_lf() -> None:
    assert split_lines("a\x0cb\u2028c\r\nd\re\nf") == ["a\x0cb\u2028c\r\n", "d\r", "e\n", "f"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["", "# %%\nx = 1\n", "a = 1\n\n# %% t\nb = 2", "# %% [markdown]\n# hi\n"]),
        max_size=3,
    ).map("".join),
    st.lists(
        st.tuples(
            st.sampled_from(["x = 1", "", "# note", "%%bash\necho hi", "s = '''\nmulti\n'''"]),
            st.sampled_from(["code", "markdown", "raw"]),
        ),
        min_size=1,
        max_size=4,
    ),
    st.data(),
)
def test_inserting_several_cells_at_once_equals_inserting_them_one_by_one(
    text: str, new: list[tuple[str, str]], data: st.DataObject
) -> None:
    from sessions.format.notebook import NewCell, insert_cells

    notebook = parse(text)
    fixed = sum(1 for c in notebook.cells if c.is_preamble or c.is_frontmatter)
    index = data.draw(st.integers(min_value=fixed, max_value=len(notebook.cells)))
    one_by_one = notebook
    for offset, (source, kind) in enumerate(new):
        one_by_one = insert_cell(one_by_one, index + offset, source, kind=kind)  # type: ignore[arg-type]
    together = insert_cells(notebook, index, [NewCell(s, k) for s, k in new])  # type: ignore[arg-type]
    assert serialize(together) == serialize(one_by_one)
    assert [c.raw for c in together.cells] == [c.raw for c in parse(serialize(together)).cells]
    # Unplaced (the notebook view's keystrokes): the same cells and text, on the old lines.
    unplaced = insert_cells(notebook, index, [NewCell(s, k) for s, k in new], placed=False)  # type: ignore[arg-type]
    assert serialize(unplaced) == serialize(together)
    assert [c.raw for c in unplaced.cells] == [c.raw for c in together.cells]


def test_a_move_that_would_turn_cells_into_a_yaml_header_is_refused() -> None:
    # Found by hypothesis: the preamble opens "# ---"; moving the last cell,
    # whose code is "# ---", up would close it into a header of three cells.
    from sessions.format.notebook import move_cell

    text = "# ---\n# jupyter:\n#   a: 1\n# %%\n# %%\n# %%%\n\n\n\n# %%\n# %%\n# ---\n"
    notebook = parse(text)
    with pytest.raises(ValueError, match="read back as other cells"):
        move_cell(notebook, 2, 4)
    assert serialize(notebook) == text
    assert [c.source for c in move_cell(notebook, 1, 3).cells] == [
        c.source
        for c in (
            notebook.cells[0],
            notebook.cells[2],
            notebook.cells[3],
            notebook.cells[1],
            notebook.cells[4],
        )
    ]
