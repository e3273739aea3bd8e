"""``sessions lsp`` start-up: no full collections while it starts, the usual
thresholds and a frozen start-up heap once it is ready (cli/lsp.py)."""

from __future__ import annotations

import gc

from sessions.cli import lsp


def test_settling_restores_the_thresholds_and_freezes_the_start_up_heap() -> None:
    saved = gc.get_threshold()
    gc.set_threshold(*lsp.START_THRESHOLDS)
    try:
        lsp._settle_after_start(saved)
        assert gc.get_threshold() == saved
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_the_start_thresholds_keep_young_collections() -> None:
    young, middle, full = lsp.START_THRESHOLDS
    assert 0 < young <= 10_000 and middle > 0  # cyclic garbage of the import is still freed
    assert full >= 100_000  # but no full pass over the growing heap
