"""Watching the folders of open notebooks for sidecar writes by other processes.

A ``sessions run`` in a terminal rewrites ``NAME.sessions.toml``; the server
must show the new statuses and outputs within 100 ms. One ``watchfiles``
watcher (non-recursive, short debounce) covers every folder that holds an
open notebook and is restarted when that set changes. Whether a write is our
own is decided by the caller (content hash, ``SidecarStore.last_written_hash``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import watchfiles

from sessions.cache.sidecar import SIDECAR_SUFFIX

log = logging.getLogger(__name__)

# Rust notify groups events for ``step`` ms after the first one (at most ``debounce``).
_DEBOUNCE_MS = 40
_STEP_MS = 8


def _interesting(change: watchfiles.Change, path: str) -> bool:
    return path.endswith((SIDECAR_SUFFIX, ".py"))


class FolderWatcher:
    """Calls ``on_change(path)`` for each changed sidecar or ``.py`` file in the watched folders."""

    def __init__(self, on_change: Callable[[Path], None]) -> None:
        self._on_change = on_change
        self._folders: frozenset[Path] = frozenset()
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    def watch(self, folders: set[Path]) -> None:
        existing = frozenset(f for f in folders if f.is_dir())
        if existing == self._folders:
            return
        self.stop()
        self._folders = existing
        if existing:
            self._stop = asyncio.Event()
            self._task = asyncio.ensure_future(self._run(existing, self._stop))

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            self._task.cancel()
        self._task = self._stop = None
        self._folders = frozenset()

    async def _run(self, folders: frozenset[Path], stop: asyncio.Event) -> None:
        try:
            async for changes in watchfiles.awatch(
                *folders,
                watch_filter=_interesting,
                debounce=_DEBOUNCE_MS,
                step=_STEP_MS,
                stop_event=stop,
                recursive=False,
                ignore_permission_denied=True,
            ):
                for _change, path in changes:
                    try:
                        self._on_change(Path(path))
                    except Exception:
                        log.exception("handling a change of %s failed", path)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching %s failed; external changes are not followed", sorted(folders))
