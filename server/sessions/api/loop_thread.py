"""An asyncio event loop running in a background thread, for blocking facades.

A kernel's ZeroMQ sockets belong to the loop they were made on, so a
synchronous API cannot use ``asyncio.run`` per call; it keeps one loop alive
in a daemon thread and submits coroutines to it. The calling thread only
waits, which also lets another thread submit an interrupt meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "sessions-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def is_current(self) -> bool:
        """Whether the caller runs on this loop's thread (where waiting would deadlock)."""
        return threading.current_thread() is self._thread

    def submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``work`` on the loop and wait for its result (its exception is re-raised)."""
        return self.submit(work).result(timeout)

    def stop(self) -> None:
        """Stop the loop and wait for the thread; pending work is abandoned."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            if threading.current_thread() is not self._thread:
                self._thread.join()
