"""Per-cell formatting with the real ruff: only code cells change, markers/markdown/magics keep their bytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sessions.cli import main
from sessions.format.notebook import parse, serialize
from sessions.formatting import (
    CellSyntaxError,
    FormatterUnavailable,
    format_cell_code,
    format_notebook,
)
from tests.support.cli import cli

MIXED = """\
\"\"\"A notebook.\"\"\"
import os

# %% Already fine tags=["keep"]
x = [1, 2, 3]

# %% Needs work id="work"
y=dict( a = 1 )

# %% Notes [markdown]
# Some text with code-like bits: x=1,  y = 2
#
#   indented  markdown

# %% Broken
def f( :
    pass

# %% Also needs work
def g(a,b):
  return a+b
"""


def cell_raws(text: str) -> list[str]:
    return [cell.raw for cell in parse(text).cells]


def test_only_badly_formatted_code_cells_change() -> None:
    notebook = parse(MIXED)
    result = format_notebook(notebook, path=None)

    assert result.changed == [2, 5]
    assert set(result.errors) == {4}
    assert "syntax error" in result.errors[4]
    before, after = cell_raws(MIXED), cell_raws(serialize(result.notebook))
    assert len(after) == len(before)
    for index in (0, 1, 3, 4):  # preamble, well formatted, markdown, syntax error
        assert after[index] == before[index]
    assert after[2] == '# %% Needs work id="work"\ny = dict(a=1)\n\n'
    assert after[5] == "# %% Also needs work\ndef g(a, b):\n    return a + b\n"


def test_formatting_is_idempotent() -> None:
    once = serialize(format_notebook(parse(MIXED), path=None).notebook)
    again = format_notebook(parse(once), path=None)
    assert again.changed == []
    assert serialize(again.notebook) == once


def test_magic_lines_survive_unchanged() -> None:
    text = (
        "# %%\n"
        "# %time  result = f( 1 )\n"
        "#%timeit   g()\n"
        "# !pip   install  thing\n"
        "value=1\n"
        "\n"
        "# %%\n"
        "if value:\n"
        "  # %time  h( 2 )\n"
        "  other=2\n"
    )
    result = format_notebook(parse(text), path=None)
    assert result.errors == {}
    assert serialize(result.notebook) == (
        "# %%\n"
        "# %time  result = f( 1 )\n"
        "#%timeit   g()\n"
        "# !pip   install  thing\n"
        "value = 1\n"
        "\n"
        "# %%\n"
        "if value:\n"
        "    # %time  h( 2 )\n"
        "    other = 2\n"
    )
    # What the kernel receives still has the magics, uncommented.
    assert result.notebook.cells[0].code.splitlines()[:2] == [
        "%time  result = f( 1 )",
        "%timeit   g()",
    ]


def test_cell_magic_cell_keeps_its_magic_line() -> None:
    text = "# %%\n# %%time\ntotal=sum( range(10) )\n"
    result = format_notebook(parse(text), path=None)
    assert serialize(result.notebook) == "# %%\n# %%time\ntotal = sum(range(10))\n"


def test_crlf_and_missing_final_newline_are_kept() -> None:
    text = "# %% a\r\nx=1\r\n\r\n# %% b\r\ny=2"
    result = format_notebook(parse(text), path=None)
    assert serialize(result.notebook) == "# %% a\r\nx = 1\r\n\r\n# %% b\r\ny = 2"


def test_cells_selects_what_is_formatted() -> None:
    result = format_notebook(parse(MIXED), path=None, cells=[5])
    assert result.changed == [5]
    after = cell_raws(serialize(result.notebook))
    assert after[2] == cell_raws(MIXED)[2]
    with pytest.raises(IndexError):
        format_notebook(parse(MIXED), path=None, cells=[6])


LONG = "# %%\nresult = some_function(first_argument, second_argument)\n"


def test_project_ruff_config_next_to_the_notebook_is_respected(tmp_path: Path) -> None:
    configured = tmp_path / "configured"
    configured.mkdir()
    (configured / "pyproject.toml").write_text("[tool.ruff]\nline-length = 40\n")
    plain = tmp_path / "plain"
    plain.mkdir()

    narrow = format_notebook(parse(LONG), path=configured / "nb.py")
    wide = format_notebook(parse(LONG), path=plain / "nb.py")

    assert narrow.changed == [0]
    assert all(len(line) <= 40 for line in serialize(narrow.notebook).splitlines())
    assert wide.changed == []
    assert serialize(wide.notebook) == LONG


def test_format_cell_code() -> None:
    assert format_cell_code("x=1", path=None) == "x = 1"
    assert format_cell_code("x=1\n", path=None) == "x = 1\n"
    assert format_cell_code("%time  f( 1 )\ny=2", path=None) == "%time  f( 1 )\ny = 2"
    with pytest.raises(CellSyntaxError) as caught:
        format_cell_code("x = (\n", path=None)
    assert caught.value.line >= 1


def test_a_broken_ruff_configuration_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ruff.toml").write_text('line-length = "wide"\n')
    with pytest.raises(FormatterUnavailable, match="ruff"):
        format_notebook(parse(LONG), path=tmp_path / "nb.py")


# --- sessions fmt --------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nb.py"
    path.write_bytes(text.encode())
    return path


def test_fmt_check_reports_cells_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "# %% a\nx=1\n\n# %% b\ny = 2\n")
    assert main(["fmt", str(path), "--check"]) == 1
    assert "cell 0" in capsys.readouterr().out
    assert path.read_text() == "# %% a\nx=1\n\n# %% b\ny = 2\n"

    path.write_text("# %% a\nx = 1\n")
    assert main(["fmt", str(path), "--check"]) == 0


def test_fmt_rewrites_the_file_keeping_its_mode(tmp_path: Path) -> None:
    path = write(tmp_path, MIXED)
    path.chmod(0o640)
    assert main(["fmt", str(path)]) == 1  # cell 4 has a syntax error: a problem, reported
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_text() == serialize(format_notebook(parse(MIXED), path=None).notebook)
    assert main(["fmt", str(path), "--cell", "5"]) == 0


def test_fmt_cell_option_limits_the_rewrite(tmp_path: Path) -> None:
    path = write(tmp_path, "# %%\na=1\n\n# %%\nb=2\n")
    assert main(["fmt", str(path), "--cell", "1"]) == 0
    assert path.read_text() == "# %%\na=1\n\n# %%\nb = 2\n"


def test_fmt_diff_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "# %%\na=1\n")
    assert main(["fmt", str(path), "--diff"]) == 1
    out = capsys.readouterr().out
    assert "-a=1" in out and "+a = 1" in out
    assert path.read_text() == "# %%\na=1\n"


@pytest.mark.parametrize("argv", [["nope.py"], ["{dir}"], ["{nb}", "--cell", "7"]])
def test_fmt_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    notebook = write(tmp_path, "# %%\na=1\n")
    args = [a.format(dir=tmp_path, nb=notebook) for a in argv]
    if args[0] == "nope.py":
        args[0] = str(tmp_path / "nope.py")
    assert main(["fmt", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert notebook.read_text() == "# %%\na=1\n"


UNFORMATTED = "# %% a\nx=1\n"


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("pyproject.toml", '[tool.ruff]\nline-length = "long"\n'),
        ("ruff.toml", 'line-length = "wide"\n'),
    ],
)
def test_an_invalid_ruff_config_names_the_file_and_gives_no_install_hint(
    tmp_path: Path, name: str, config: str
) -> None:
    """QA: ``sessions fmt`` with an invalid ruff configuration says which file to fix.

    Found as a user: ``line-length = "long"`` in ``[tool.ruff]`` gave
    ``ruff format failed: invalid type: string "long", expected i64 (is the `ruff`
    package installed in ...?)``: no file named, and a wrong hint (ruff was
    installed; the configuration was wrong)."""
    (tmp_path / name).write_text(config)
    (tmp_path / "nb.py").write_text(UNFORMATTED)
    result = cli("fmt", "nb.py", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1  # one line
    assert result.stderr.startswith("sessions: ruff format failed: ")
    assert name in result.stderr
    assert "expected" in result.stderr  # ruff's own reason is kept
    assert "is the `ruff` package installed" not in result.stderr
    assert (tmp_path / "nb.py").read_text() == UNFORMATTED


def test_fmt_on_a_symlinked_notebook_formats_the_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    """QA, issue 11: fmt replaced the link with a formatted copy, leaving the real
    notebook unformatted (MCP ``set_source`` already wrote through the link)."""
    real = tmp_path / "shared" / "nb.py"
    real.parent.mkdir()
    real.write_text(UNFORMATTED)
    real.chmod(0o640)
    link = tmp_path / "nb.py"
    link.symlink_to("shared/nb.py")

    result = cli("fmt", "nb.py", cwd=tmp_path, timeout=60)

    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "shared/nb.py"
    assert real.read_text() == "# %% a\nx = 1\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["nb.py"]  # no temporary left


def test_fmt_leaves_a_read_only_notebook_alone_and_says_why(tmp_path: Path) -> None:
    """QA: ``sessions fmt`` on a read-only notebook writes nothing and says, in one
    line, how to make it writable."""
    path = tmp_path / "nb.py"
    path.write_text(UNFORMATTED)
    path.chmod(0o444)

    result = cli("fmt", "nb.py", cwd=tmp_path, timeout=60)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "nb.py is read-only" in result.stderr and "chmod u+w nb.py" in result.stderr
    assert path.read_text() == UNFORMATTED and path.stat().st_mode & 0o777 == 0o444


def test_fmt_on_a_255_byte_notebook_name(tmp_path: Path) -> None:
    """QA: ``sessions fmt`` on a notebook whose name is as long as Linux allows
    (its temporary file's name would be longer) formats it and leaves nothing behind."""
    name = "n" * 252 + ".py"  # the longest name Linux allows; its temporary name is longer
    (tmp_path / name).write_text(UNFORMATTED)
    result = cli("fmt", name, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_text() == "# %% a\nx = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == [name]
