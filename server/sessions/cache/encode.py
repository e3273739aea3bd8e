"""The sidecar's TOML text (DESIGN §3), generated in time linear in its size.

We write the text ourselves instead of going through tomlkit: tomlkit escapes
strings in quadratic time (a 640 KB output takes 20 s). Each string is written
in the cheapest form its text allows, found by one linear scan:

* short text that needs no escape: ``"..."`` (what a person expects to see);
* otherwise a literal string, ``'...'`` or ``'''...'''``, when the text has no
  control character other than tab and newline and no ``'''``. Literal
  strings are also the form ``tomllib`` reads fastest (it walks basic strings
  one character at a time in Python, about 7× slower);
* otherwise a basic string escaped in one pass by ``json.dumps`` (JSON's
  escapes are a subset of TOML's), multi-line when the text has newlines.
  Carriage returns are always escaped: TOML readers may turn CRLF into LF.

Text with control characters (ANSI colours in every traceback and coloured
log, ``\\r`` in progress bars) cannot be a literal string, and an escaped one
reads slowly. Such a text (a stream's ``text``, a mime bundle's text value, a
traceback frame) is written as ``{ pictures = '''...''' }``: a literal string
in which each control character is shown as its Unicode *control picture*
(ESC as ``␛``, CR as ``␍``), which reads as fast as plain text and shows where
the colours are. Loading maps the pictures back. A text that already holds
control pictures (or ``'''``) cannot use this; nbformat's multi-line fields
may be a list of strings, which loading joins, so a long one is written as an
array of segments instead: literal strings for the plain runs and short
escaped strings for the control characters between them.

JSON-valued fields are stored as JSON text in a TOML string, because TOML has
no null and JSON objects may use any key: the values of JSON mime types
(``application/json``, ``application/*+json``) and the ``metadata`` and
``transient`` fields of an output. Loading decodes them back to the same
Python value. Other output fields are written as native TOML values; a
``None`` field is left out (``execute_result.execution_count`` is restored as
``None`` on load), and a mime value that is neither text nor a list of text
under a non-JSON mime type is stored (and comes back) as its JSON text.

Datetimes are written in UTC with a ``Z`` offset; a naive datetime is taken
to be UTC already.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from sessions.cache.records import CellRecord, Output, SidecarData

FORMAT_VERSION = 1

JSON_VALUED_OUTPUT_FIELDS = frozenset({"metadata", "transient"})
"""Output fields whose value is arbitrary JSON, stored as JSON text."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')
# Characters TOML allows raw in a multi-line string: fullmatch over a positive
# class is the fastest scan the re module offers (a 10 KB text in ~15 µs).
_RAW_ALLOWED = re.compile(r"[\t\n\x20-\x7e\x80-\U0010ffff]*")
_UNSAFE_RUN = re.compile(r"(?:[\x00-\x08\x0b-\x1f\x7f]|'''+)+")
_COMMENT_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")

_SHORT = 200
"""Up to this length a string needing no escape is written as ``"..."``."""
_SEGMENT_FROM = 2000
"""From this length a text field that cannot be literal is split in segments."""
_LITERAL_RUN = 64
"""Shortest plain run worth a literal segment of its own."""


def is_json_mime(mime: str) -> bool:
    """nbformat stores these mime types as JSON values rather than text."""
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def join_text(value: Any) -> Any:
    """nbformat's multi-line string: a str, or a list of str to be joined."""
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return value


# --- strings -----------------------------------------------------------------


def basic_string(text: str) -> str:
    """``"..."`` escaped in one linear pass."""
    escaped = json.dumps(text, ensure_ascii=False)
    # JSON leaves DEL unescaped; TOML forbids it raw.
    return escaped.replace("\x7f", "\\u007f") if "\x7f" in escaped else escaped


def _multiline_basic_string(text: str) -> str:
    # Escape each line on its own so newlines stay real newlines (readable).
    body = "\n".join(basic_string(line)[1:-1] for line in text.split("\n"))
    return '"""\n' + body + '"""'


def _literal_ok(text: str) -> bool:
    """Whether a multi-line literal string can hold ``text``."""
    return "'''" not in text and _RAW_ALLOWED.fullmatch(text) is not None


def toml_string(text: str) -> str:
    """One TOML string holding ``text`` exactly, in the cheapest form that fits."""
    if "\n" not in text:
        if len(text) <= _SHORT and not _NEEDS_ESCAPE.search(text):
            return '"' + text + '"'
        if "'" not in text and _RAW_ALLOWED.fullmatch(text) is not None:
            return "'" + text + "'"
        return basic_string(text)
    if _literal_ok(text):
        # The newline right after the opening delimiter is dropped by readers.
        return "'''\n" + text + "'''"
    return _multiline_basic_string(text)


def _literal_segment(text: str) -> str:
    if "\n" not in text and "'" not in text:
        return "'" + text + "'"
    return "'''\n" + text + "'''"


def toml_text(text: str) -> str:
    """A multi-line text field: one string, or an array of segments when long
    text would otherwise need a (slow to read) escaped string.

    Plain runs of at least ``_LITERAL_RUN`` characters become literal strings;
    everything between them (control characters and short plain gaps) goes
    into escaped strings, so dense ANSI colouring stays a few segments.
    """
    if len(text) < _SEGMENT_FROM:
        return toml_string(text)
    if _literal_ok(text):
        return _literal_segment(text)
    parts: list[str] = []
    escaped_from = 0  # start of text not yet written, to be escaped
    plain_from = 0  # start of the current plain run
    for match in _UNSAFE_RUN.finditer(text):
        if match.start() - plain_from >= _LITERAL_RUN:
            if plain_from > escaped_from:
                parts.append(_escaped_segment(text[escaped_from:plain_from]))
            parts.append(_literal_segment(text[plain_from : match.start()]))
            escaped_from = match.start()
        plain_from = match.end()
    if len(text) - plain_from >= _LITERAL_RUN:
        if plain_from > escaped_from:
            parts.append(_escaped_segment(text[escaped_from:plain_from]))
        parts.append(_literal_segment(text[plain_from:]))
    elif escaped_from < len(text):
        parts.append(_escaped_segment(text[escaped_from:]))
    return "[\n" + ",\n".join(parts) + ",\n]"


_CONTROLS = [code for code in range(0x20) if code not in (0x09, 0x0A)] + [0x7F]
_TO_PICTURES = {code: 0x2400 + code if code < 0x20 else 0x2421 for code in _CONTROLS}
_PAIRS = [(chr(code), chr(picture)) for code, picture in _TO_PICTURES.items()]
# ESC and CR first: nearly every coloured output and progress bar has only those.
_PAIRS.sort(key=lambda pair: pair[0] not in "\x1b\r")


def from_pictures(text: str) -> str:
    """Control pictures back to the control characters they show. One C-speed
    ``replace`` per picture present: ``str.translate`` with a mapping looks up
    every character in Python objects, about 3x slower on large outputs."""
    for control, picture in _PAIRS:
        if picture in text:
            text = text.replace(picture, control)
    return text


def _to_pictures(text: str) -> str:
    for control, picture in _PAIRS:
        if control in text:
            text = text.replace(control, picture)
    return text


_PICTURE = re.compile("[\u2400-\u241f\u2421]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
PICTURES_KEY = "pictures"


def _pictures(text: str) -> str | None:
    """``{ pictures = '''...''' }`` for a text with control characters, or None
    when it cannot be written so (it holds a control picture or ``'''``)."""
    if "'''" in text or _PICTURE.search(text) is not None:
        return None
    shown = _to_pictures(text)
    if "'" not in shown and "\n" not in shown:
        return "{ " + PICTURES_KEY + " = '" + shown + "' }"
    return "{ " + PICTURES_KEY + " = '''\n" + shown + "''' }"


def toml_shown_text(text: str) -> str:
    """A text field or traceback frame: control characters as pictures when
    there are any (and that is possible), else the cheapest string or segments."""
    if _CONTROL.search(text) is not None:
        shown = _pictures(text)
        if shown is not None:
            return shown
    return toml_text(text)


def _escaped_segment(text: str) -> str:
    return _multiline_basic_string(text) if "\n" in text else basic_string(text)


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else basic_string(key)


# --- scalars and generic values -----------------------------------------------


_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
"""TOML integers are signed 64-bit; Python's are not, so writing checks."""


def toml_int(value: int, field: str) -> str:
    if type(value) is not int:
        raise TypeError(f"sidecar field {field!r} must be an int, got {value!r}")
    if not _INT_MIN <= value <= _INT_MAX:
        # Callers keep values in range (run ids are renumbered, decoding drops
        # records with larger numbers): reaching this is a bug, not a user error.
        raise ValueError(f"sidecar field {field!r} is {value}, outside TOML's 64-bit integers")
    return str(value)


def toml_float(value: float) -> str:
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return repr(number)  # e.g. 0.123, 1e-05, 1e+16: all valid TOML floats


def toml_datetime(value: datetime) -> str:
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def toml_value(value: Any) -> str | None:
    """A JSON-like value as TOML; ``None`` when TOML cannot hold it (null)."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return toml_float(value)
    if isinstance(value, datetime):
        return toml_datetime(value)
    if isinstance(value, list | tuple):
        items = [toml_value(item) for item in value]
        if any(item is None for item in items):
            return toml_string(json_text(value))
        return "[" + ", ".join(item for item in items if item is not None) + "]"
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            encoded = toml_value(item)
            if encoded is not None:
                pairs.append(f"{toml_key(str(key))} = {encoded}")
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    if value is None:
        return None
    return toml_string(json_text(value))


# --- the document -------------------------------------------------------------


def encode_header(data: SidecarData) -> str:
    """Everything before the first ``[[cells]]``."""
    name = _COMMENT_UNSAFE.sub("?", data.notebook)
    return (
        f"# Outputs cached by Sessions for {name}. Safe to delete.\n"
        f"format = {FORMAT_VERSION}\n"
        f"notebook = {toml_string(data.notebook)}\n"
        f"run_counter = {toml_int(data.run_counter, 'run_counter')}\n"
        "\n[kernel]\n"
        f"python = {toml_string(data.kernel.python)}\n"
        f"language = {toml_string(data.kernel.language)}\n"
    )


def _key_table(keys: dict[str, str]) -> str:
    """``{ df = "3f9a...", "rng:numpy" = "..." }``: names to version keys, on one line."""
    pairs = ", ".join(f"{toml_key(name)} = {toml_string(key)}" for name, key in keys.items())
    return f"{{ {pairs} }}" if pairs else "{}"


def encode_record(record: CellRecord) -> str:
    """One ``[[cells]]`` table with its outputs, starting with a blank line."""
    lines = ["", "[[cells]]"]
    if record.id is not None:
        lines.append(f"id = {toml_string(record.id)}")
    lines.append(f"hash = {toml_string(record.hash)}")
    lines.append(f"index = {toml_int(record.index, 'index')}")
    lines.append(f"run = {toml_int(record.run, 'run')}")
    if record.execution_count is not None:
        lines.append(f"execution_count = {toml_int(record.execution_count, 'execution_count')}")
    lines.append(f"status = {toml_string(record.status)}")
    if record.started is not None:
        lines.append(f"started = {toml_datetime(record.started)}")
    if record.duration is not None:
        lines.append(f"duration = {toml_float(record.duration)}")
    lines.append(f"inputs = {_key_table(record.inputs)}")
    if record.provides:
        lines.append(f"provides = {_key_table(record.provides)}")
    if record.parameters:
        lines.append(f"parameters = {_key_table(record.parameters)}")
    if record.code is not None:
        lines.append(f"code = {toml_string(record.code)}")
    for output in record.outputs:
        lines.append(encode_output(output))
    return "\n".join(lines) + "\n"


def encode_output(output: Output) -> str:
    """One ``[[cells.outputs]]`` table in nbformat's output dict shape."""
    lines = ["", "[[cells.outputs]]"]
    kind = output.get("output_type")
    if isinstance(kind, str):
        lines.append(f"output_type = {toml_string(kind)}")
    bundle: dict[str, Any] | None = None
    for key, value in output.items():
        if key == "output_type":
            continue
        if key == "data" and isinstance(value, dict):
            bundle = value
            continue
        if key in JSON_VALUED_OUTPUT_FIELDS:
            if value is not None:
                lines.append(f"{toml_key(key)} = {toml_string(json_text(value))}")
            continue
        if key == "text":
            text = join_text(value)
            if isinstance(text, str):
                lines.append(f"text = {toml_shown_text(text)}")
                continue
        if key == "traceback" and isinstance(value, list):
            frames = [
                toml_shown_text(frame) if isinstance(frame, str) else toml_value(frame)
                for frame in value
            ]
            body = "".join(f"  {frame},\n" for frame in frames if frame is not None)
            lines.append(f"traceback = [\n{body}]" if body else "traceback = []")
            continue
        encoded = toml_value(value)
        if encoded is not None:
            lines.append(f"{toml_key(key)} = {encoded}")
    if bundle is not None:
        lines.append(_encode_bundle(bundle))
    return "\n".join(lines)


def _encode_bundle(bundle: dict[str, Any]) -> str:
    pairs = [(toml_key(mime), _encode_mime_value(mime, value)) for mime, value in bundle.items()]
    inline = "{ " + ", ".join(f"{key} = {value}" for key, value in pairs) + " }"
    if not pairs:
        return "data = {}"
    if len(inline) <= 100 and "\n" not in inline:
        return f"data = {inline}"
    # A sub-table keeps big values on lines of their own; must come last.
    return "[cells.outputs.data]\n" + "\n".join(f"{key} = {value}" for key, value in pairs)


def _encode_mime_value(mime: str, value: Any) -> str:
    if is_json_mime(mime):
        return toml_string(json_text(value))
    text = join_text(value)
    if isinstance(text, str):
        return toml_shown_text(text)
    return toml_string(json_text(value))


def encode_sidecar(data: SidecarData) -> str:
    return encode_header(data) + "".join(encode_record(record) for record in data.cells)
