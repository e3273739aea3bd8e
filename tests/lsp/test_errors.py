"""``sessions.lsp.errors``: refusals (InvalidParams, RequestFailed) are told
apart from faults, and pygls's crash-style log of them is made one line."""

from __future__ import annotations

import logging
import sys

import pytest
from pygls.exceptions import JsonRpcInternalError

from sessions.lsp.errors import RefusalLogFilter, failed, invalid, is_refusal


def _record(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        return logging.LogRecord(
            "pygls.protocol.json_rpc",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("m",),
            sys.exc_info(),
        )


@pytest.mark.parametrize("error", [failed("cell 2 is not the file's"), invalid("bad index")])
def test_a_refusal_is_logged_as_one_line_without_its_traceback(error: Exception) -> None:
    assert is_refusal(error)
    record = _record(error)
    assert RefusalLogFilter().filter(record)
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == f"request refused: {error}"


@pytest.mark.parametrize("error", [JsonRpcInternalError("boom"), RuntimeError("boom")])
def test_a_fault_keeps_its_traceback(error: Exception) -> None:
    assert not is_refusal(error)
    record = _record(error)
    assert RefusalLogFilter().filter(record)
    assert record.levelno == logging.ERROR and record.exc_info is not None
