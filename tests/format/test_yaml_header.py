"""The Jupytext YAML header: notebook metadata kept byte-exact, never a cell (DESIGN §2)."""

from __future__ import annotations

import pytest

from sessions.format.notebook import (
    HeaderError,
    delete_cell,
    insert_cell,
    move_cell,
    parse,
    serialize,
    set_source,
)
from sessions.lsp.notebook_json import PayloadError, parse_payload, serialize_payload

HEADER = (
    "# ---\n"
    "# jupyter:\n"
    "#   jupytext:\n"
    "#     formats: ipynb,py:percent\n"
    "#   kernelspec:\n"
    "#     display_name: Python 3\n"
    "#     language: python\n"
    "#     name: python3\n"
    "# ---\n"
    "\n"
)
BODY = "# %% [markdown]\n# Title\n\n# %%\nx = 1\nundefined_name\n"


def test_the_header_is_metadata_and_cells_keep_their_file_lines() -> None:
    notebook = parse(HEADER + BODY)
    assert notebook.header == HEADER
    assert [c.kind for c in notebook.cells] == ["markdown", "code"]
    assert [c.start_line for c in notebook.cells] == [10, 13]
    assert notebook.cells[1].body_line == 14
    assert notebook.metadata() == {
        "jupytext": {"formats": "ipynb,py:percent"},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    }
    assert notebook.cell_at_line(3) is None
    assert notebook.cell_at_line(14) == 1
    assert notebook.line_count == 16
    assert serialize(notebook) == HEADER + BODY


@pytest.mark.parametrize(
    "text",
    [
        "# ---\n# jupyter: {}\n",  # no closing line
        "# ---\njupyter:\n# ---\n",  # a line that is not a comment
        "\n# ---\n# jupyter: {}\n# ---\n",  # not at the top
        "# note\n# ---\n# jupyter: {}\n# ---\n",  # text before the opening line
        "#  ---\n# a: 1\n# ---\n",  # the rule is "---" once one "# " is removed
    ],
)
def test_what_is_not_a_header_stays_in_the_preamble(text: str) -> None:
    notebook = parse(text + "# %%\nx = 1\n")
    assert notebook.header == ""
    assert notebook.cells[0].is_preamble
    assert serialize(notebook) == text + "# %%\nx = 1\n"


def test_shebang_coding_and_blank_comments_belong_to_a_header_below_them() -> None:
    text = "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n#\n# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n# %%\n"
    notebook = parse(text)
    assert notebook.header == text.removesuffix("# %%\n")
    assert notebook.metadata() == {
        "kernelspec": {"name": "python3"},
        "jupytext": {"executable": "/usr/bin/env python", "encoding": "# -*- coding: utf-8 -*-"},
    }
    assert [c.start_line for c in notebook.cells] == [8]


def test_only_one_blank_line_after_the_header_is_part_of_it() -> None:
    notebook = parse(HEADER + "\n" + BODY)
    assert notebook.header == HEADER
    assert notebook.prefix == "\n"
    assert notebook.cells[0].start_line == 11


def test_a_jupyter_key_with_an_inline_value_is_root_level_yaml_as_in_jupytext() -> None:
    notebook = parse("# ---\n# jupyter: {}\n# ---\n# %%\n")
    assert notebook.cells[0].source == "---\njupyter: {}\n---"
    assert notebook.metadata() == {}


def test_root_level_yaml_is_a_raw_cell_on_top() -> None:
    text = "# ---\n# title: Tides\n#\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx = 1\n"
    notebook = parse(text)
    front = notebook.cells[0]
    assert (front.kind, front.source, front.raw, front.start_line) == (
        "raw",
        "---\ntitle: Tides\n\n---",
        "",
        0,
    )
    assert front.is_frontmatter and front.code == ""
    assert notebook.metadata() == {"kernelspec": {"name": "python3"}}
    assert notebook.cells[1].start_line == 8
    assert serialize(notebook) == text


def test_editing_the_frontmatter_rewrites_only_that_part_of_the_header() -> None:
    text = "# ---\n# title: Tides\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx = 1\n"
    edited = set_source(parse(text), 0, "---\ntitle: Waves\nauthor: Ana\n---")
    assert serialize(edited) == text.replace("# title: Tides\n", "# title: Waves\n# author: Ana\n")
    assert edited.cells[0].source == "---\ntitle: Waves\nauthor: Ana\n---"
    # Text that is no frontmatter leaves the header and becomes an ordinary raw cell.
    demoted = set_source(parse(text), 0, "plain words")
    assert [c.kind for c in demoted.cells] == ["raw", "code"]
    assert not demoted.cells[0].is_frontmatter and demoted.cells[0].source == "plain words"
    assert demoted.metadata() == {"kernelspec": {"name": "python3"}}
    # Deleting it keeps the notebook metadata.
    deleted = delete_cell(parse(text), 0)
    assert serialize(deleted) == text.replace("# title: Tides\n", "")
    with pytest.raises(ValueError, match="frontmatter"):
        insert_cell(parse(text), 0, "y = 2")
    with pytest.raises(ValueError, match="frontmatter"):
        move_cell(parse(text + "\n# %%\ny = 2\n"), 2, 0)


def test_edits_below_a_header_keep_it() -> None:
    notebook = parse(HEADER + BODY)
    first = insert_cell(notebook, 0, "import os")
    assert serialize(first) == HEADER + "# %%\nimport os\n\n" + BODY
    assert first.header == HEADER and first.cells[0].start_line == 10
    assert serialize(delete_cell(notebook, 0)) == HEADER + "# %%\nx = 1\nundefined_name\n"
    assert (
        serialize(set_source(notebook, 1, "y = 2"))
        == HEADER + "# %% [markdown]\n# Title\n\n# %%\ny = 2\n"
    )


def test_a_header_without_a_final_newline_gets_one_when_a_cell_is_added() -> None:
    text = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---"
    notebook = insert_cell(parse(text), 0, "x = 1")
    assert serialize(notebook) == text + "\n# %%\nx = 1\n"
    assert notebook.header == text + "\n"


def test_a_preamble_edited_into_a_header_reads_honestly() -> None:
    notebook = set_source(
        parse("import os\n# %%\nx = 1\n"),
        0,
        "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---",
    )
    assert notebook.header == "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n"
    assert [c.kind for c in notebook.cells] == ["code"]


@pytest.mark.parametrize(
    ("yaml_lines", "message"),
    [
        ("# jupyter:\n#   kernelspec: [unclosed\n", "line 3: the YAML header does not parse"),
        ("# jupyter:\n#   - 3\n", "line 2: `jupyter:` in the YAML header is not a mapping"),
        ("# jupyter:\n#   day: 2024-01-01\n", "cannot store"),
    ],
)
def test_bad_yaml_is_a_clear_error_and_loses_nothing(yaml_lines: str, message: str) -> None:
    text = "# ---\n" + yaml_lines + "# ---\n\n# %%\nx = 1\n"
    notebook = parse(text)
    assert serialize(notebook) == text
    assert [c.kind for c in notebook.cells] == ["code"]
    with pytest.raises(HeaderError, match=message):
        notebook.metadata()


def test_sessions_parse_and_serialize_carry_the_header_outside_the_cells() -> None:
    payload = parse_payload(HEADER + BODY)
    assert payload["header"] == HEADER
    assert [c["source"] for c in payload["cells"]] == ["Title", "x = 1\nundefined_name"]
    assert serialize_payload(payload) == HEADER + BODY
    payload["cells"][1]["source"] = "x = 2"
    assert serialize_payload(payload) == HEADER + BODY.replace("x = 1\nundefined_name", "x = 2")
    payload["cells"] = [{"kind": "code", "source": "z = 0"}]
    assert serialize_payload(payload) == HEADER + "# %%\nz = 0\n"
    with pytest.raises(PayloadError, match="header"):
        serialize_payload({"cells": [], "header": "x = 1\n"})


def test_serialize_payload_edits_and_drops_the_frontmatter() -> None:
    text = "# ---\n# title: Tides\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx = 1\n"
    payload = parse_payload(text)
    assert payload["cells"][0]["frontmatter"] is True
    assert serialize_payload(payload) == text
    payload["cells"][0]["source"] = "---\ntitle: Waves\n---"
    assert serialize_payload(payload) == text.replace("Tides", "Waves")
    del payload["cells"][0]
    assert serialize_payload(payload) == text.replace("# title: Tides\n", "")


def test_demoting_the_frontmatter_above_a_preamble_gives_the_preamble_a_marker() -> None:
    text = "# ---\n# title: Tides\n# ---\n\nimport os\n\n# %%\nx = 1\n"
    notebook = set_source(parse(text), 0, "no longer yaml")
    assert [(c.kind, c.source) for c in notebook.cells] == [
        ("raw", "no longer yaml"),
        ("code", "import os"),
        ("code", "x = 1"),
    ]
    assert serialize(notebook).startswith("# ---\n# ---\n\n# %% [raw]\n# no longer yaml\n\n# %%\n")
