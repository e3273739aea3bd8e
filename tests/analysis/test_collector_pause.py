"""The cyclic collector is paused while a whole notebook is analysed, and only then.

The pause is safe because a cold analysis makes no cyclic garbage (what the
collector would have looked for): checked here on every real notebook of the
corpora, so a change that starts making cycles fails here, not as a slow leak.
"""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

import pytest

from sessions.analysis.collector_pause import collector_paused
from sessions.analysis.snapshot import analyse, load_snapshot
from sessions.cache.records import SidecarData
from sessions.format.notebook import parse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from workloads import edit_cell, sized_reference  # noqa: E402

DEFAULT_THRESHOLDS = gc.get_threshold()

REAL_NOTEBOOKS = sorted(
    [*(ROOT / "bench" / "corpus").glob("*.py.txt"), *(ROOT / "tests" / "corpus").rglob("*.py")]
)


def test_the_collector_is_off_inside_and_back_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_end_with_the_outermost() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_brings_the_collector_back() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("analysis failed")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_two_threads_end_with_the_last() -> None:
    first_in = threading.Event()
    second_out = threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_out.wait(10)
            seen.append(gc.isenabled())  # the other thread's pause ended: still off

    worker = threading.Thread(target=first)
    worker.start()
    assert first_in.wait(10)
    with collector_paused():
        pass
    second_out.set()
    worker.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_a_cold_analysis_runs_no_collection(collections: list[int]) -> None:
    text = sized_reference(5000)  # enough objects for dozens of young collections
    notebook = parse(text)
    collections.clear()
    analyse(Path("reference.py"), notebook, SidecarData("reference.py"))
    # Unpaused: 38 young collections, 3 middle and a full one. Paused: at most
    # the young one that catches up when the collector comes back.
    assert collections in ([], [0])
    assert gc.isenabled()


def test_reading_a_notebook_from_disk_analyses_it_paused_too(
    tmp_path: Path, collections: list[int]
) -> None:
    path = tmp_path / "reference.py"
    path.write_text(sized_reference(5000))
    collections.clear()
    load_snapshot(path)
    assert collections in ([], [0])


def test_an_edit_analysed_from_the_last_snapshot_leaves_the_collector_on() -> None:
    text = sized_reference(1000)
    notebook = parse(text)
    path = Path("reference.py")
    before = analyse(path, notebook, SidecarData("reference.py"))
    edited = parse(edit_cell(text, notebook, 3, "frame_3", 1))
    paused: list[bool] = []

    def record(phase: str, info: dict[str, int]) -> None:
        paused.append(True)

    # An edit's analysis is small and must not pause the process: it runs
    # with the collector on, so a forced young collection inside it happens.
    gc.callbacks.append(record)
    try:
        gc.set_threshold(1)
        analyse(path, edited, SidecarData("reference.py"), previous=before)
    finally:
        gc.set_threshold(*DEFAULT_THRESHOLDS)
        gc.callbacks.remove(record)
    assert paused


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
def test_a_cold_analysis_of_a_real_notebook_makes_no_cyclic_garbage(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    gc.collect()
    analyse(Path(path.name), parse(text), SidecarData(path.name))
    assert gc.collect() == 0
