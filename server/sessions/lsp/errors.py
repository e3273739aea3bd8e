"""The errors a request answers with (docs/protocol.md, "Errors").

A request the client got wrong is ``InvalidParams``; a valid one that could
not be carried out (the kernel did not start, the file cannot be read) is
LSP's ``RequestFailed``. Either way the message says what to do.
"""

from __future__ import annotations

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

REQUEST_FAILED = -32803
"""LSP ``RequestFailed``: a valid request that could not be carried out."""


def invalid(message: str) -> JsonRpcInvalidParams:
    """A request the client got wrong; ``message`` says how to fix it."""
    return JsonRpcInvalidParams(message=message)


def failed(message: str) -> JsonRpcException:
    """A valid request that could not be carried out; ``message`` says why."""
    return JsonRpcException(message=message, code=REQUEST_FAILED)
