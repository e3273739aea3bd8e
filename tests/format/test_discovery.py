"""Which files are notebooks (``format.discovery``): a ``# %%`` marker the
parser reads as one, also on the first line of a file with a byte order mark."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions.format.discovery import find_notebooks, has_cell_marker
from sessions.lsp.documents import has_cell_marker as may_be_notebook
from sessions.workspace_scope import _has_markers

WITH_BOM = "\ufeff# %%\nvalue = 1\n"


@pytest.mark.parametrize(
    ("text", "notebook"),
    [
        (WITH_BOM, True),
        ("# %%\nvalue = 1\n", True),
        ("\ufeffvalue = 1\n# %% later\n", True),
        ("\ufeffvalue = 1\n", False),
        ('"""\n# %% in a string\n"""\n', False),
    ],
)
def test_a_marker_is_found_where_the_parser_finds_it(text: str, notebook: bool) -> None:
    assert has_cell_marker(text) is notebook
    if notebook:  # the language server's cheap pre-check never misses one
        assert may_be_notebook(text)


def test_a_notebook_saved_with_a_byte_order_mark_is_listed(tmp_path: Path) -> None:
    (tmp_path / "bom.py").write_bytes(WITH_BOM.encode("utf-8"))
    (tmp_path / "plain.py").write_text("value = 1\n")
    assert find_notebooks(tmp_path) == [tmp_path / "bom.py"]
    assert _has_markers(tmp_path / "bom.py")
    assert not _has_markers(tmp_path / "plain.py")
