"""PEP 723 ``# /// script`` blocks in notebook text (format/script_block.py):
finding and reading them, refusing broken ones, the environment key, and
placing a new block or an edited one without touching any other byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.format.notebook import parse
from sessions.format.script_block import (
    ScriptBlockError,
    env_key,
    find_blocks,
    notebook_script_block,
    preamble_block_span,
    read_script_block,
    with_block_replaced,
    with_empty_script_block,
)

BLOCK = """\
# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "pyjokes==0.8.3",
#   "text-unidecode",
# ]
# ///
"""


@pytest.mark.parametrize(
    ("text", "dependencies", "requires"),
    [
        (BLOCK, ("pyjokes==0.8.3", "text-unidecode"), ">=3.11"),
        (BLOCK.replace("\n", "\r\n"), ("pyjokes==0.8.3", "text-unidecode"), ">=3.11"),
        ("# /// script\n# dependencies = []\n# ///", (), None),
        ('"""Doc."""\n# /// script\n#\n# dependencies = [" six "]\n# ///\nx = 1\n', ("six",), None),
        # Only "# " is taken off: the TOML keeps its own indentation.
        ("# /// script\n#   dependencies = ['a']\n# ///\n", ("a",), None),
        # PEP 723: the last "# ///" of the comment block closes it (here one
        # inside a TOML string comes first).
        ('# /// script\n# dependencies = ["a"]\n# x = """\n# ///\n# """\n# ///\n', ("a",), None),
        # A TOML string may hold a line separator that splitlines() would split at.
        ('# /// script\n# dependencies = ["a"]\n# note = "x\u2028y"\n# ///\n', ("a",), None),
    ],
)
def test_reads_the_script_block(
    text: str, dependencies: tuple[str, ...], requires: str | None
) -> None:
    block = read_script_block(text)
    assert block is not None
    assert block.dependencies == dependencies
    assert block.requires_python == requires
    assert block.text.startswith("# /// script") and block.text.endswith("# ///")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# %%\nx = 1\n",
        "# /// pyproject\n# dependencies = []\n# ///\n",  # another type: not ours
        "# /// script\n# dependencies = []\n",  # never closed
        "# /// script\n\n# dependencies = []\n# ///\n",  # a blank line ends the comment block
        " # /// script\n # dependencies = []\n # ///\n",  # indented: not a block
        "# /// script\n#dependencies = []\n# ///\n",  # "#" then text: not a content line
    ],
)
def test_no_script_block(text: str) -> None:
    assert read_script_block(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (BLOCK + "\n" + BLOCK, "PEP 723 allows one"),
        ("# /// script\n# dependencies = [\n# ///\n", "not valid TOML"),
        ('# /// script\n# dependencies = "pandas"\n# ///\n', "list of strings"),
        ("# /// script\n# dependencies = [1]\n# ///\n", "list of strings"),
        ('# /// script\n# dependencies = ["--index-url=http://x"]\n# ///\n', "not a requirement"),
        ('# /// script\n# dependencies = [""]\n# ///\n', "not a requirement"),
        ("# /// script\n# requires-python = 3.11\n# ///\n", "requires-python"),
    ],
)
def test_a_broken_block_says_what_to_fix(text: str, says: str) -> None:
    with pytest.raises(ScriptBlockError, match=says):
        read_script_block(text)


def test_only_the_preamble_counts() -> None:
    header = "# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
    block, misplaced = notebook_script_block(parse(header + BLOCK + "\n# %%\nx = 1\n"))
    assert block is not None and block.start_line == 6  # file lines, below the header
    # A block inside a cell is not used; where it is comes back so it can be said.
    block, misplaced = notebook_script_block(parse("import os\n\n# %%\nx = 1\n\n# %%\n" + BLOCK))
    assert (block, misplaced) == (None, 2)
    with pytest.raises(ScriptBlockError):
        notebook_script_block(parse("# /// script\n# dependencies = 1\n# ///\n# %%\n"))


def test_env_key_is_the_dependency_set() -> None:
    def key(text: str) -> str:
        block = read_script_block(text)
        assert block is not None
        return env_key(block)

    one = key('# /// script\n# dependencies = ["a", "b==1"]\n# ///\n')
    assert key('# /// script\n# dependencies = [\n#   "b==1",\n#   "a",\n# ]\n# ///\n') == one
    assert key('# /// script\n# dependencies = ["a", "b==2"]\n# ///\n') != one
    assert (
        key('# /// script\n# requires-python = ">=3.12"\n# dependencies = ["a", "b==1"]\n# ///\n')
        != one
    )
    assert len(one) == 16


EMPTY = "# /// script\n# dependencies = []\n# ///\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# %%\nx = 1\n", EMPTY + "\n# %%\nx = 1\n"),
        ("", EMPTY + "\n"),
        ("\n\n# %%\nx\n", "\n\n" + EMPTY + "\n# %%\nx\n"),
        ('"""Doc."""\nimport os\n\n# %%\nx\n', EMPTY + '"""Doc."""\nimport os\n\n# %%\nx\n'),
        ("#!/usr/bin/env python\nimport os\n", "#!/usr/bin/env python\n" + EMPTY + "import os\n"),
        (
            "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nx\n",
            "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n" + EMPTY + "x\n",
        ),
        ("#!/usr/bin/env python", "#!/usr/bin/env python\n" + EMPTY),
        (
            "\ufeffimport os\r\n# %%\r\n",
            "\ufeff" + EMPTY.replace("\n", "\r\n") + "import os\r\n# %%\r\n",
        ),
        (
            "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx\n",
            "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n"
            + EMPTY
            + "\n# %%\nx\n",
        ),
        (
            "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\nimport os\n# %%\n",
            "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n"
            + EMPTY
            + "import os\n# %%\n",
        ),
    ],
)
def test_a_new_block_goes_at_the_top_of_the_preamble(text: str, expected: str) -> None:
    result = with_empty_script_block(text)
    assert result == expected
    block, _ = notebook_script_block(parse(result))
    assert block is not None and block.dependencies == ()
    assert parse(result).header == parse(text).header  # a Jupytext header stays first


LINES = st.sampled_from(
    ["# %%\n", "x = 1\n", '"""doc\n', '"""\n', "#!/bin/py\n", "\n", "# c\n", "\r\n", "y\r\n", "z"]
)


@given(st.lists(LINES, max_size=8).map("".join))
def test_placing_a_block_keeps_every_other_byte(text: str) -> None:
    result = with_empty_script_block(text)
    span = preamble_block_span(result)
    assert span is not None
    start, end = span
    newline = parse(text).newline
    # Only the block went in: its line ending (and, without a preamble, a
    # blank line after it) follow it; the text before and after is the same.
    assert result[:start] == text[:start]
    tail = result[end:]
    for _ in range(2):
        if tail != text[start:]:
            tail = tail.removeprefix(newline)
    assert tail == text[start:]


def test_replacing_a_block_keeps_the_files_line_endings() -> None:
    text = '\ufeff"""D."""\r\n' + EMPTY.replace("\n", "\r\n") + "\r\n# %%\r\nx = 1\r\n"
    span = preamble_block_span(text)
    assert span is not None
    edited = with_block_replaced(
        text, span, '# /// script\n# dependencies = [\n#     "six>=1.17",\n# ]\n# ///'
    )
    assert edited == (
        '\ufeff"""D."""\r\n# /// script\r\n# dependencies = [\r\n#     "six>=1.17",\r\n'
        "# ]\r\n# ///\r\n\r\n# %%\r\nx = 1\r\n"
    )
    block, _ = notebook_script_block(parse(edited))
    assert block is not None and block.dependencies == ("six>=1.17",)


def test_find_blocks_reports_every_type() -> None:
    text = "# /// pyproject\n# a = 1\n# ///\nx\n" + BLOCK
    assert next((b.type, b.content) for b in find_blocks(text)) == ("pyproject", "a = 1\n")
    assert [b.type for b in find_blocks(text)] == ["pyproject", "script"]
