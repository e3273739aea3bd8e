"""Pause CPython's cyclic garbage collector while a whole notebook is analysed.

A cold analysis (a notebook read or opened, not an edit of one already
analysed) makes hundreds of thousands of long-lived objects: syntax trees,
name tables, the graph. None of them is cyclic garbage (measured: a
collection after the build of a 50,000-line notebook finds 0 objects), but
the collector cannot know that; its full passes walk every object made so far,
again and again as the build grows them, and cost 190 of the 690 ms of a cold
50,000-line analysis (with young passes, 29 %). That is the one cost in the
scaling table that grew faster than the notebook.

Pausing is process-wide, so it is kept as short as the build: nested and
concurrent pauses (the language server analyses in a worker thread while the
CLI's ``run`` or another document may do the same) count their depth, and the
collector comes back when the last one ends, only if it was on when the first
began. Cyclic garbage other threads make meanwhile waits those few hundred
milliseconds; nothing is lost.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False
"""Whether the collector was on when the outermost pause began."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the ``with`` body with the cyclic collector off (reference counting
    still frees everything acyclic at once)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
