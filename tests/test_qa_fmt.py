"""QA: ``sessions fmt`` with an invalid ruff configuration says which file to fix.

Found as a user: ``line-length = "long"`` in ``[tool.ruff]`` gave
``ruff format failed: invalid type: string "long", expected i64 (is the `ruff`
package installed in ...?)``: no file named, and a wrong hint (ruff was
installed; the configuration was wrong).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = "# %% a\nx=1\n"


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
    (tmp_path / name).write_text(config)
    (tmp_path / "nb.py").write_text(NOTEBOOK)
    result = subprocess.run(
        [sys.executable, "-m", "sessions.cli", "fmt", "nb.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1  # one line
    assert result.stderr.startswith("sessions: ruff format failed: ")
    assert name in result.stderr
    assert "expected" in result.stderr  # ruff's own reason is kept
    assert "is the `ruff` package installed" not in result.stderr
    assert (tmp_path / "nb.py").read_text() == NOTEBOOK


def fmt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessions.cli", "fmt", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_fmt_on_a_symlinked_notebook_formats_the_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    """Issue 11: fmt replaced the link with a formatted copy, leaving the real
    notebook unformatted (MCP ``set_source`` already wrote through the link)."""
    real = tmp_path / "shared" / "nb.py"
    real.parent.mkdir()
    real.write_text(NOTEBOOK)
    real.chmod(0o640)
    link = tmp_path / "nb.py"
    link.symlink_to("shared/nb.py")

    result = fmt("nb.py", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "shared/nb.py"
    assert real.read_text() == "# %% a\nx = 1\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["nb.py"]  # no temporary left


def test_fmt_leaves_a_read_only_notebook_alone_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text(NOTEBOOK)
    path.chmod(0o444)

    result = fmt("nb.py", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "nb.py is read-only" in result.stderr and "chmod u+w nb.py" in result.stderr
    assert path.read_text() == NOTEBOOK and path.stat().st_mode & 0o777 == 0o444


def test_fmt_on_a_255_byte_notebook_name(tmp_path: Path) -> None:
    name = "n" * 252 + ".py"  # the longest name Linux allows; its temporary name is longer
    (tmp_path / name).write_text(NOTEBOOK)
    result = fmt(name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_text() == "# %% a\nx = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == [name]
