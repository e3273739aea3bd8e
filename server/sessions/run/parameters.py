"""Parameters: running a notebook with other inputs, papermill's way (docs/cli.md). Pure.

The cell tagged ``parameters`` (``# %% tags=["parameters"]``; papermill's
convention, so papermill users' notebooks run unchanged) holds the defaults.
A run with parameters (``sessions run NB -p n 10``) executes that cell's code
followed by one assignment per parameter, as papermill's injected cell does,
without touching the file. Values are Python literals (``10``, ``'"x"'``,
``[1, 2]``), kept as their canonical ``repr``.

The parameters cell's record keeps the parameters (``parameters`` in the
sidecar), and the keys of the names they set say which values they had: the
cells below were produced with them and stay fresh while those parameters are
in effect; a run with other values marks them stale (they run again in the
same ``run --stale``). Parameters stay in effect — also when the cell runs
again in a new kernel — until other ones are given or they are cleared.
"""

from __future__ import annotations

import ast
import hashlib
import keyword
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sessions.cache.records import CellRecord
from sessions.format.notebook import ParsedNotebook

PARAMETERS_TAG = "parameters"
_MARK = "~param:"


class ParameterError(ValueError):
    """A parameter that cannot be used; the message says how to write it."""


def parameters_cell(notebook: ParsedNotebook) -> int | None:
    """The first code cell tagged ``parameters``, or None."""
    for index, cell in enumerate(notebook.cells):
        if cell.kind != "code":
            continue
        tags = cell.metadata.get("tags")
        if isinstance(tags, list | tuple) and PARAMETERS_TAG in tags:
            return index
    return None


def _check_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(f"parameter name {name!r} is not a Python name")


def literal(name: str, text: str) -> str:
    """The canonical text of one ``-p NAME VALUE``: VALUE must be a Python literal."""
    _check_name(name)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ParameterError(
            f"parameter {name}: {text!r} is not a Python literal; numbers, True/False/None, "
            f"lists and dicts are written as in Python, and text is quoted: -p {name} '\"{text}\"'"
        ) from None
    return repr(value)


def from_values(values: Mapping[str, Any], where: str) -> dict[str, str]:
    """Parameters from already-parsed values (a params file, the API, MCP)."""
    found: dict[str, str] = {}
    for name, value in values.items():
        name = str(name)
        _check_name(name)
        text = repr(value)
        try:
            same = ast.literal_eval(text) == value
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            same = False
        if not same:
            raise ParameterError(
                f"parameter {name} in {where}: {type(value).__name__} values cannot be written "
                "as a Python literal (use numbers, text, booleans, None, lists and mappings)"
            )
        found[name] = text
    return found


def read_params_file(path: Path) -> dict[str, str]:
    """``--params-file params.yaml``: a YAML (or JSON) mapping of name -> value."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(
            f"cannot read the parameters file {path}: {exc.strerror or exc}"
        ) from exc
    except yaml.YAMLError as exc:
        raise ParameterError(f"the parameters file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"the parameters file {path} must be a mapping of name: value")
    return from_values(data, str(path))


def parse_pairs(pairs: Sequence[Sequence[str]]) -> dict[str, str]:
    """``-p NAME VALUE`` pairs, later ones winning."""
    return {name: literal(name, text) for name, text in pairs}


def injection(parameters: Mapping[str, str]) -> str:
    """The code run right after the parameters cell's own."""
    lines = [f"{name} = {text}" for name, text in parameters.items()]
    return "\n# Parameters of this run (sessions run -p)\n" + "\n".join(lines) + "\n"


def parameter_key(key: str | None, text: str) -> str:
    """The version key of a name a parameter set: the cell's own key for it
    (None when the cell does not set it) and the value."""
    base = (key or "").split(_MARK, 1)[0]
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()
    return f"{base}{_MARK}{digest}"


def with_parameters(provides: Mapping[str, str], parameters: Mapping[str, str]) -> dict[str, str]:
    """The keys a run of the parameters cell gives, with these parameters."""
    keys = dict(provides)
    for name, text in parameters.items():
        keys[name] = parameter_key(provides.get(name), text)
    return keys


def in_effect(notebook: ParsedNotebook, records: Sequence[CellRecord | None]) -> dict[str, str]:
    """The parameters the cached outputs were produced with ({} for defaults)."""
    index = parameters_cell(notebook)
    if index is None:
        return {}
    record = records[index]
    return dict(record.parameters) if record is not None else {}


def undefined(notebook: ParsedNotebook, index: int, parameters: Mapping[str, str]) -> list[str]:
    """Parameters the parameters cell does not assign (papermill warns of them too)."""
    try:
        tree = ast.parse(notebook.cells[index].code)
    except SyntaxError:
        return []
    assigned: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assigned.add(node.id)
    return sorted(name for name in parameters if name not in assigned)
