"""The Python API on a kernel of a real ``jupyter server``: ``Notebook.open(...,
server=...)`` runs, caches and reports exactly as on a local kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessions import Notebook
from tests.support.jupyter_server import JupyterServer

pytestmark = [pytest.mark.kernel]


def test_the_api_runs_on_a_remote_kernel(jupyter: JupyterServer, tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text("# %% a\nx = 20\n\n# %% b\nprint(x + 1)\n")
    with Notebook.open(path, server=jupyter.server()) as nb:
        summary = nb.run("all")
        assert summary.ok
        assert [c.status for c in nb.cells()] == ["fresh", "fresh"]
        assert nb.output_text("b") == "21"
        assert len(jupyter.kernels()) == 1
    assert jupyter.kernels() == []  # closing the notebook deleted the remote kernel
