"""``$/progress`` for a running queue, created by the server with
``window/workDoneProgress/create`` — only for clients that support it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)


class RunProgress:
    """One work-done progress from begin to end; a no-op for clients without support."""

    def __init__(self, server: Any, enabled: bool) -> None:
        self._server = server
        self._enabled = enabled
        self._token: str | None = None

    async def begin(self, title: str) -> None:
        if not self._enabled:
            return
        token = f"sessions-run-{uuid.uuid4()}"
        try:
            await self._server.work_done_progress.create_async(token)
        except Exception as exc:  # the client refused: run without progress
            log.info("client refused work done progress: %s", exc)
            return
        self._token = token
        self._server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, cancellable=False, percentage=0)
        )

    def report(self, message: str, done: int, total: int) -> None:
        if self._token is None:
            return
        percentage = int(100 * done / total) if total else None
        self._server.work_done_progress.report(
            self._token, types.WorkDoneProgressReport(message=message, percentage=percentage)
        )

    def end(self, message: str) -> None:
        if self._token is None:
            return
        token, self._token = self._token, None
        self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        self._server.work_done_progress.tokens.pop(token, None)
