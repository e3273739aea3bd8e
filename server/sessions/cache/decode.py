"""Turning a parsed sidecar document into ``SidecarData``, checking every field.

Two levels of failure, so one bad record never costs the others:

* ``SidecarFormatError``: the document as a whole is unusable (an unknown
  ``format``, a top-level field of the wrong type); the caller moves the file
  aside and starts empty;
* a record with a bad field is dropped alone and described in a problem
  message; the rest are kept.

The inverse of ``sidecar_toml``: multi-line text given as a list is joined,
JSON-valued fields stored as JSON text are decoded.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from sessions.cache.encode import (
    FORMAT_VERSION,
    JSON_VALUED_OUTPUT_FIELDS,
    PICTURES_KEY,
    from_pictures,
    is_json_mime,
)
from sessions.cache.records import CellRecord, KernelInfo, Output, RunStatus, SidecarData

_STATUSES: tuple[RunStatus, ...] = ("ok", "error", "interrupted")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class SidecarFormatError(Exception):
    """The whole document cannot be used; the message says why, for a person."""


class _BadField(Exception):
    pass


def decode_sidecar(
    document: dict[str, Any], notebook_name: str, file_name: str
) -> tuple[SidecarData, list[str]]:
    """Checked data plus one problem message per dropped record."""
    version = document.get("format")
    if version is None:
        raise SidecarFormatError(f"it has no 'format' field (format = {FORMAT_VERSION})")
    if type(version) is not int:
        raise SidecarFormatError(f"its 'format' is {version!r}, expected {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        raise SidecarFormatError(
            f"it was written by a newer version of Sessions (format {version}, this version "
            f"reads format {FORMAT_VERSION}); upgrade Sessions to use it"
        )
    if version != FORMAT_VERSION:
        raise SidecarFormatError(f"its 'format' is {version}, expected {FORMAT_VERSION}")
    notebook = document.get("notebook", notebook_name)
    if not isinstance(notebook, str):
        raise SidecarFormatError(f"its 'notebook' is {notebook!r}, expected a string")
    run_counter = document.get("run_counter", 0)
    if type(run_counter) is not int or run_counter < 0:
        raise SidecarFormatError(f"its 'run_counter' is {run_counter!r}, expected an integer ≥ 0")
    kernel = _decode_kernel(document.get("kernel", {}))
    cells = document.get("cells", [])
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise SidecarFormatError("its 'cells' is not an array of tables ([[cells]])")

    records: list[CellRecord] = []
    problems: list[str] = []
    for number, table in enumerate(cells, start=1):
        try:
            records.append(decode_record(table))
        except _BadField as error:
            problems.append(
                f"{file_name}: dropped cached record {number} ({_describe(table)}): {error}. "
                "Run that cell again to cache its output anew."
            )
    highest_run = max((record.run for record in records), default=0)
    # Run ids must stay unique even if the counter was edited down by hand.
    data = SidecarData(
        notebook=notebook_name,
        run_counter=max(run_counter, highest_run),
        kernel=kernel,
        cells=records,
    )
    return data, problems


def _decode_kernel(table: Any) -> KernelInfo:
    if not isinstance(table, dict):
        raise SidecarFormatError("its [kernel] is not a table")
    python = table.get("python", "")
    language = table.get("language", "")
    if not isinstance(python, str) or not isinstance(language, str):
        raise SidecarFormatError("its [kernel] python/language are not strings")
    return KernelInfo(python=python, language=language)


def _describe(table: dict[str, Any]) -> str:
    parts = []
    for key in ("id", "index", "run"):
        if key in table:
            parts.append(f"{key} {table[key]!r}")
    return ", ".join(parts) or "no id"


def _field(
    table: dict[str, Any], key: str, kinds: type | tuple[type, ...], *, required: bool
) -> Any:
    if key not in table:
        if required:
            raise _BadField(f"field '{key}' is missing")
        return None
    value = table[key]
    # bool is an int subclass, but never a valid int field here.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _as_tuple(kinds)):
        raise _BadField(f"field '{key}' is {value!r}, of the wrong type")
    # tomllib reads integers of any size, but TOML's are 64-bit and writing
    # one back would make an invalid file. Run ids are the exception: they are
    # renumbered before the next write (``sidecar_run_ids``).
    if type(value) is int and key != "run" and not _INT_MIN <= value <= _INT_MAX:
        raise _BadField(f"field '{key}' is {value}, larger than TOML integers allow")
    return value


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _version_keys(table: dict[str, Any], key: str) -> dict[str, str]:
    """A name -> version key table. Sidecars written before version keys
    recorded run ids (integers): those read as keys that match nothing, so
    the cells are ``upstream`` once and fresh again after one run."""
    found = _field(table, key, dict, required=False) or {}
    keys: dict[str, str] = {}
    for name, value in found.items():
        if isinstance(value, str):
            keys[str(name)] = value
        elif type(value) is int:
            keys[str(name)] = f"run:{value}"
        else:
            raise _BadField(f"{key} {name!r} is {value!r}, expected a version key (text)")
    return keys


def decode_record(table: dict[str, Any]) -> CellRecord:
    status = table.get("status", "ok")
    if status not in _STATUSES:
        raise _BadField(f"field 'status' is {status!r}, expected one of {', '.join(_STATUSES)}")
    started = _field(table, "started", datetime, required=False)
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    duration = _field(table, "duration", (int, float), required=False)
    inputs = _version_keys(table, "inputs")
    provides = _version_keys(table, "provides")
    outputs = _field(table, "outputs", list, required=False) or []
    return CellRecord(
        hash=_field(table, "hash", str, required=True),
        index=_field(table, "index", int, required=True),
        run=_field(table, "run", int, required=True),
        status=cast(RunStatus, status),
        execution_count=_field(table, "execution_count", int, required=False),
        started=started,
        duration=None if duration is None else float(duration),
        inputs=inputs,
        provides=provides,
        outputs=[decode_output(output, number) for number, output in enumerate(outputs, 1)],
        id=_field(table, "id", str, required=False),
        code=_field(table, "code", str, required=False),
        parameters=_texts(table, "parameters"),
    )


def _texts(table: dict[str, Any], key: str) -> dict[str, str]:
    """A name -> text table (the parameters of a run)."""
    found = _field(table, key, dict, required=False) or {}
    texts: dict[str, str] = {}
    for name, value in found.items():
        if not isinstance(value, str):
            raise _BadField(f"{key} {name!r} is {value!r}, expected a Python literal as text")
        texts[str(name)] = value
    return texts


def _joined(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(PICTURES_KEY), str):
        # ``{ pictures = '''...''' }``: control characters shown as control pictures.
        return from_pictures(str(value[PICTURES_KEY]))
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    raise _BadField(f"{where} is {type(value).__name__}, expected text")


def _from_json(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value  # edited by hand as a TOML table/array: take it as it is
    try:
        return json.loads(value)
    except ValueError as error:
        raise _BadField(f"{where} is not valid JSON ({error})") from None


def decode_output(table: Any, number: int) -> Output:
    where = f"output {number}"
    if not isinstance(table, dict):
        raise _BadField(f"{where} is not a table")
    kind = table.get("output_type")
    if not isinstance(kind, str):
        raise _BadField(f"{where} has no 'output_type'")
    output: Output = {}
    for key, value in table.items():
        if key == "text":
            output[key] = _joined(value, f"{where} text")
        elif key == "data":
            if not isinstance(value, dict):
                raise _BadField(f"{where} 'data' is not a table")
            output[key] = {
                mime: _from_json(item, f"{where} {mime}")
                if is_json_mime(mime)
                else _joined(item, f"{where} {mime}")
                for mime, item in value.items()
            }
        elif key in JSON_VALUED_OUTPUT_FIELDS:
            output[key] = _from_json(value, f"{where} {key}")
        elif key == "traceback":
            if not isinstance(value, list):
                raise _BadField(f"{where} traceback is not a list of strings")
            output[key] = [_joined(frame, f"{where} traceback") for frame in value]
        else:
            output[key] = value
    if kind in ("display_data", "execute_result"):
        output.setdefault("data", {})
        output.setdefault("metadata", {})
    if kind == "execute_result":
        output.setdefault("execution_count", None)
    return output
