"""The language server's first analysis of a notebook runs with the cyclic
collector paused (analysis/collector_pause.py: it has no snapshot to update,
so ``analyse`` builds everything), its later ones with it on."""

from __future__ import annotations

import sys
from pathlib import Path

from sessions.lsp.notebook_state import NotebookState
from sessions.lsp.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from workloads import sized_reference


async def test_the_first_analysis_runs_paused_and_the_next_one_does_not(
    tmp_path: Path, collections: list[int]
) -> None:
    path = tmp_path / "reference.py"
    path.write_text(sized_reference(5000))
    state = NotebookState(
        path.as_uri(),
        path,
        settings=Settings,
        workspace_root=tmp_path,
        on_analysed=lambda _state: None,
    )
    try:
        collections.clear()
        await state.current_snapshot()
        # Unpaused, analysing this notebook starts about 40 collections, a
        # full one among them; paused, at most the young ones that catch up after.
        assert 2 not in collections and len(collections) <= 2, collections
        collections.clear()
        await state.current_snapshot()  # closed file: read and analysed again, from the last
        assert collections, "the second analysis paused the collector"
    finally:
        await state.close()
