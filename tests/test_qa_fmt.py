"""QA: ``sessions fmt`` with an invalid ruff configuration says which file to fix.

Found as a user: ``line-length = "long"`` in ``[tool.ruff]`` gave
``ruff format failed: invalid type: string "long", expected i64 (is the `ruff`
package installed in ...?)``: no file named, and a wrong hint (ruff was
installed; the configuration was wrong).
"""

from __future__ import annotations

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
