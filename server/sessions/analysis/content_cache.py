"""A cache of values computed from content (a cell's code), keyed by its hash,
whose memory is bounded by what it was computed from, not by an entry count.

The analysis caches used to keep the last 4,096 cells' results whatever
their size: a closed notebook's cells stayed (a closed 10 MB notebook kept
2.2 GB), and each keystroke in a large cell left one more large analysis
behind. Here a value lives

* as long as something else uses it — the snapshot of an open document holds
  its cells' analyses, so they are found again through a weak reference
  however large the notebook, and freed with the snapshot when it is closed;
* and, for a short while after that, among the most recently used values,
  held strongly within both an entry count and a ``cost`` budget (callers
  count characters of code, or statements): an undo, a re-opened notebook or
  a cell shared by two notebooks still costs nothing.

Values that cannot be weakly referenced (tuples) get only the strong part.
Thread-safe: analyses run in worker threads.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

_caches: weakref.WeakSet[ContentCache[Any]] = weakref.WeakSet()


def forget_everywhere(keys: Iterable[str]) -> None:
    """:meth:`ContentCache.forget` in every cache: what a closed notebook's cells
    left in the analysis, meaning and flow caches goes with it."""
    wanted = frozenset(keys)
    for cache in list(_caches):
        cache.forget(wanted)


class ContentCache(Generic[V]):
    """Values by content hash: alive ones always, recent ones within a budget."""

    def __init__(self, *, max_entries: int, max_cost: int) -> None:
        _caches.add(self)
        self.max_entries = max_entries
        self.max_cost = max_cost
        self._recent: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._cost = 0
        self._alive: weakref.WeakValueDictionary[str, V] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            held = self._recent.get(key)
            if held is not None:
                self._recent.move_to_end(key)
                return held[0]
            # In use elsewhere: found, but not held again here (whoever uses it
            # holds it; once nobody does, it goes).
            return self._alive.get(key)

    def put(self, key: str, value: V, cost: int) -> None:
        """Keep ``value``; ``cost`` is what it was computed from (e.g. characters of code)."""
        cost = max(1, cost)
        with self._lock:
            # A value that cannot be weakly referenced is kept by the strong part only.
            with contextlib.suppress(TypeError):
                self._alive[key] = value
            old = self._recent.pop(key, None)
            if old is not None:
                self._cost -= old[1]
            if cost > self.max_cost:
                return  # too large to keep for later; found while in use
            self._recent[key] = (value, cost)
            self._cost += cost
            while len(self._recent) > self.max_entries or self._cost > self.max_cost:
                _, (_, dropped) = self._recent.popitem(last=False)
                self._cost -= dropped

    def forget(self, keys: Iterable[str]) -> None:
        """Stop holding these values (a closed notebook's cells); any still in
        use elsewhere stay findable through their weak reference."""
        with self._lock:
            for key in keys:
                held = self._recent.pop(key, None)
                if held is not None:
                    self._cost -= held[1]

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()
            self._alive.clear()
            self._cost = 0

    def __len__(self) -> int:
        """Values held strongly (the recent ones)."""
        with self._lock:
            return len(self._recent)

    @property
    def cost(self) -> int:
        with self._lock:
            return self._cost
