"""The errors a request answers with (docs/protocol.md, "Errors").

A request the client got wrong is ``InvalidParams``; a valid one that could
not be carried out (the kernel did not start, the file cannot be read) is
LSP's ``RequestFailed``. Either way the message says what to do.
"""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

REQUEST_FAILED = -32803
"""LSP ``RequestFailed``: a valid request that could not be carried out."""


def invalid(message: str) -> JsonRpcInvalidParams:
    """A request the client got wrong; ``message`` says how to fix it."""
    return JsonRpcInvalidParams(message=message)


def failed(message: str) -> JsonRpcException:
    """A valid request that could not be carried out; ``message`` says why."""
    return JsonRpcException(message=message, code=REQUEST_FAILED)


INVALID_PARAMS = JsonRpcInvalidParams.CODE


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` is one of the answers above (the request was refused,
    the message says why), not a fault in the server."""
    return isinstance(error, JsonRpcException) and error.code in (INVALID_PARAMS, REQUEST_FAILED)


class RefusalLogFilter(logging.Filter):
    """pygls logs every error a handler raises with its traceback, as for a
    crash. A refusal is an answer: one line without the traceback (which
    would send users looking for a bug that is not there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_refusal(exc):
            record.msg, record.args = "request refused: %s", (exc,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True
