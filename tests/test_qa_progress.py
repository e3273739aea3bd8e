"""QA: an error without a message is echoed as its name alone.

Found as a user: an interrupted cell (``--timeout``, Ctrl-C in ``watch``) was
echoed as ``KeyboardInterrupt: `` with a dangling colon.
"""

from __future__ import annotations

from sessions.cli.progress import output_text


def test_an_error_without_a_value_is_shown_as_its_name() -> None:
    output = {"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": []}
    assert output_text(output) == "KeyboardInterrupt"


def test_an_error_with_a_value_keeps_name_and_value() -> None:
    output = {"output_type": "error", "ename": "KeyError", "evalue": "'x'", "traceback": []}
    assert output_text(output) == "KeyError: 'x'"
