"""Notification params that are JSON text already, and how they are framed.

A keystroke in a 50,000-line notebook re-sends every diagnostic and every
cell's ``sessions/state`` entry, most of them unchanged: encoding them again
each time cost 13 ms of the 20 the edit may take (issue 12). The publisher
keeps each part's JSON text from the last time and joins the parts
(:func:`join_object`); the server writes the result as the params of a
notification without decoding or encoding it again (``SessionsProtocol``).
Parts are encoded by :func:`encode` (``json.dumps`` with its defaults: ASCII
only, so the ``Content-Length`` that pygls counts in characters is the byte
count too).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class EncodedJson(str):
    """JSON text to send as it is (a notification's params)."""


def encode(value: Any) -> str:
    return json.dumps(value)


def join_array(parts: Iterable[str]) -> str:
    """The JSON array of already-encoded ``parts``."""
    return "[" + ", ".join(parts) + "]"


def join_object(fields: dict[str, str]) -> EncodedJson:
    """The JSON object whose values are the already-encoded texts in ``fields``."""
    return EncodedJson(
        "{" + ", ".join(f"{encode(name)}: {value}" for name, value in fields.items()) + "}"
    )
