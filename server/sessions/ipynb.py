"""Converting between a Sessions notebook (``.py`` + sidecar) and Jupyter's ``.ipynb``.

The sidecar keeps outputs in nbformat's own dict shape (DESIGN §3), so export
copies them; import writes the cells as percent-format text the way Jupytext
writes it (magics commented, ``%%bash``-like cells as ``language=`` cells with
a commented body, markdown and raw cells commented, so running the ``.py``
with ``python`` never runs anything but code cells; the notebook metadata in
a YAML header, see ``ipynb_metadata``), and turns the outputs into sidecar
records whose
``inputs`` are consistent with the dependency graph, so an imported notebook
whose cells all ran shows them ``fresh`` — exactly as far as the dependency
analysis can vouch for, no further.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sessions.analysis.graph import build_graph
from sessions.analysis.staleness import record_versions
from sessions.cache.records import CellRecord, KernelInfo, Output, RunStatus, SidecarData
from sessions.format.language_cells import comment_body, magic_of_source
from sessions.format.magics import comment_magics
from sessions.format.markdown import encode_markdown
from sessions.format.notebook import Cell, CellKind, HeaderError, ParsedNotebook, make_header, parse
from sessions.ipynb_metadata import (
    export_metadata,
    exported_cell_metadata,
    import_header,
    kernel_language,
)
from sessions.kernel.comms import WIDGET_STATE_MIME, references, widget_view_ids

NBFORMAT = 4
NBFORMAT_MINOR = 5

# nbformat 4.5 cell ids: 1-64 characters of letters, digits, ``-`` and ``_``.
_VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_OUTPUT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "stream": ("name", "text"),
    "display_data": ("data", "metadata"),
    "execute_result": ("data", "metadata", "execution_count"),
    "error": ("ename", "evalue", "traceback"),
}
# Per-cell metadata that Jupyter front ends keep for their own UI or timing;
# it would only clutter the cell headers of the .py file.
_VOLATILE_METADATA = frozenset(
    {"collapsed", "scrolled", "trusted", "execution", "ExecuteTime", "autoscroll"}
)
_SESSIONS_KEY = "sessions"
"""Cell metadata namespace we own in the .ipynb (``{"preamble": true}``)."""
# Lines that are blank to the parser: they end a cell's body, so they cannot end a source.
_BLANK_CHARS = " \t\f\v"


class IpynbError(ValueError):
    """The .ipynb cannot be converted; the message says which cell and why."""


# --- export ---------------------------------------------------------------------------


def to_ipynb(
    nb: ParsedNotebook, records: Sequence[CellRecord | None], *, language: str = ""
) -> dict[str, Any]:
    """An nbformat v4.5 notebook for ``nb``; ``records[i]`` is the record matched to cell ``i``.

    Outputs and execution counts come from the records (stale ones included:
    Jupyter keeps outputs of edited cells too); the notebook metadata from the
    YAML header; ``language`` ("python 3.11.7", the sidecar's) fills
    ``language_info``. The result is validated with ``nbformat.validate``.
    Raises :class:`IpynbError` when the header's YAML cannot be read.
    """
    if len(records) != len(nb.cells):
        raise ValueError(f"{len(records)} records for {len(nb.cells)} cells")
    used_ids: set[str] = set()
    cells = [_export_cell(nb, index, records[index], used_ids) for index in range(len(nb.cells))]
    try:
        metadata = export_metadata(nb, [cell["metadata"] for cell in cells], language)
    except HeaderError as exc:
        raise IpynbError(str(exc)) from exc
    widgets = _gather_widget_state(cells)
    if widgets:
        metadata["widgets"] = {WIDGET_STATE_MIME: widgets}
    data: dict[str, Any] = {
        "cells": cells,
        "metadata": metadata,
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
    }
    import nbformat

    nbformat.validate(data, version=NBFORMAT)
    return data


def _export_cell(
    nb: ParsedNotebook, index: int, record: CellRecord | None, used_ids: set[str]
) -> dict[str, Any]:
    cell = nb.cells[index]
    metadata = exported_cell_metadata(cell)
    if cell.is_preamble:
        metadata[_SESSIONS_KEY] = {"preamble": True}
    exported: dict[str, Any] = {
        "cell_type": cell.kind,
        "id": _cell_id(cell, index, used_ids),
        "metadata": metadata,
        "source": cell.source,
    }
    if cell.kind == "code":
        count = record.execution_count if record is not None else None
        exported["execution_count"] = count
        exported["outputs"] = [
            exported_output
            for output in (record.outputs if record is not None else [])
            if (exported_output := _export_output(output, count)) is not None
        ]
    return exported


def _gather_widget_state(cells: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The widget state the outputs carry (each in its metadata, as the
    sidecar keeps it), merged into nbformat's notebook-level shape and taken
    off the outputs: JupyterLab and nbviewer read it from
    ``metadata.widgets``. Later outputs win for a model shown twice."""
    models: dict[str, Any] = {}
    for cell in cells:
        for output in cell.get("outputs", ()):
            metadata = output.get("metadata")
            if not isinstance(metadata, dict):
                continue
            saved = metadata.pop(WIDGET_STATE_MIME, None)
            if isinstance(saved, dict) and isinstance(saved.get("state"), dict):
                models.update(saved["state"])
    if not models:
        return None
    return {"version_major": 2, "version_minor": 0, "state": models}


def _cell_id(cell: Cell, index: int, used_ids: set[str]) -> str:
    """The header's ``id`` when nbformat accepts it, else one derived from the cell.

    Derived ids are deterministic, so exporting an unchanged notebook twice
    gives the same file.
    """
    candidate = cell.id
    if candidate is None or not _VALID_ID.match(candidate) or candidate in used_ids:
        seed = f"{index}\0{cell.kind}\0{cell.source}".encode()
        candidate = hashlib.blake2b(seed, digest_size=4).hexdigest()
        salt = 0
        while candidate in used_ids:
            salt += 1
            candidate = hashlib.blake2b(seed + str(salt).encode(), digest_size=4).hexdigest()
    used_ids.add(candidate)
    return candidate


def _export_output(output: Output, execution_count: int | None) -> dict[str, Any] | None:
    """The output with exactly the fields nbformat allows (the sidecar may hold extras)."""
    kind = output.get("output_type")
    fields = _OUTPUT_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return None
    exported: dict[str, Any] = {"output_type": kind}
    for name in fields:
        if name in output:
            exported[name] = copy.deepcopy(output[name])
    if kind in ("execute_result", "display_data"):
        exported.setdefault("data", {})
        exported.setdefault("metadata", {})
    if kind == "execute_result":
        exported.setdefault("execution_count", execution_count)
    if kind == "stream":
        exported.setdefault("name", "stdout")
        exported.setdefault("text", "")
    elif kind == "error":
        exported.setdefault("ename", "")
        exported.setdefault("evalue", "")
        exported.setdefault("traceback", [])
    return exported


def ipynb_text(data: Mapping[str, Any]) -> str:
    """The .ipynb file text for ``data``, as Jupyter writes it (indented JSON, final newline)."""
    import nbformat

    text: str = nbformat.writes(nbformat.from_dict(data))  # type: ignore[no-untyped-call]
    return text if text.endswith("\n") else text + "\n"


def read_ipynb(path: Path) -> dict[str, Any]:
    """A .ipynb file as an nbformat v4 dict (older versions upgraded by nbformat).

    Raises :class:`IpynbError` saying what is wrong with the file.
    """
    if not path.is_file():
        raise IpynbError("no such file" if not path.exists() else "is not a file")
    import nbformat

    try:
        node = nbformat.read(str(path), as_version=NBFORMAT)  # type: ignore[no-untyped-call]
    except (OSError, UnicodeDecodeError) as exc:
        raise IpynbError(f"cannot be read ({exc})") from exc
    except Exception as exc:  # nbformat raises several unrelated types for bad JSON or schema
        raise IpynbError(f"is not a valid Jupyter notebook ({type(exc).__name__}: {exc})") from exc
    return dict(node)


# --- import ---------------------------------------------------------------------------


def from_ipynb(
    data: Mapping[str, Any], *, notebook_name: str = "notebook.py", ids: bool = False
) -> tuple[str, SidecarData]:
    """Percent-format text and sidecar data for an nbformat v4 notebook (as a dict).

    Titles (``metadata.title``), other cell metadata and, with ``ids``, cell
    ids go into the cell headers. Code cells with outputs or an execution
    count become records, run ids assigned in file order, ``inputs`` from the
    dependency graph. Raises :class:`IpynbError` when a cell cannot be written
    in the percent format (e.g. it contains a line that reads as a cell marker).
    """
    if data.get("nbformat") != NBFORMAT:
        raise IpynbError(
            f"only nbformat {NBFORMAT} notebooks can be imported (this is {data.get('nbformat')!r})"
        )
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise IpynbError("the notebook has no list of cells")
    cells = [_ImportedCell.read(position, raw) for position, raw in enumerate(raw_cells)]
    metadata = data.get("metadata")
    header = import_header(metadata)
    text = header + _percent_text(cells, ids=ids)
    notebook = parse(text)
    _check_header(notebook, header, metadata)
    _check_round_trip(notebook, cells)
    return text, _sidecar(notebook, cells, notebook_name, metadata)


class _ImportedCell:
    """One .ipynb cell, normalised to what the percent format can hold."""

    def __init__(
        self,
        kind: CellKind,
        source: str,
        metadata: dict[str, Any],
        cell_id: str | None,
        outputs: list[Output],
        execution_count: int | None,
        preamble: bool,
    ) -> None:
        self.kind = kind
        self.source = source
        self.metadata = metadata
        self.cell_id = cell_id
        self.outputs = outputs
        self.execution_count = execution_count
        self.preamble = preamble

    @classmethod
    def read(cls, position: int, raw: Any) -> _ImportedCell:
        if not isinstance(raw, Mapping):
            raise IpynbError(f"cell {position} is not an object")
        kind = raw.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            raise IpynbError(f"cell {position} has an unknown cell_type {kind!r}")
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise IpynbError(f"cell {position} has metadata that is not an object")
        ours = metadata.get(_SESSIONS_KEY)
        preamble = (
            position == 0
            and kind == "code"
            and isinstance(ours, Mapping)
            and ours.get("preamble") is True
        )
        kept = {
            key: copy.deepcopy(value)
            for key, value in metadata.items()
            if key not in _VOLATILE_METADATA and key != _SESSIONS_KEY
        }
        cell_id = raw.get("id")
        count = raw.get("execution_count")
        outputs = raw.get("outputs") or []
        return cls(
            kind=kind,
            source=_trim_source(_joined(raw.get("source", ""))),
            metadata=kept,
            cell_id=cell_id if isinstance(cell_id, str) and cell_id else None,
            outputs=[_import_output(o) for o in outputs if isinstance(o, Mapping)]
            if kind == "code"
            else [],
            execution_count=count if isinstance(count, int) and kind == "code" else None,
            preamble=preamble,
        )

    def header(self, *, ids: bool) -> str:
        metadata = dict(self.metadata)
        language = magic_of_source(self.source) if self.kind == "code" else None
        if language is not None:
            metadata.update(language[0].metadata())
        title = metadata.pop("title", "")
        if not isinstance(title, str):
            metadata["title"] = title  # not a title: keep it as plain metadata
            title = ""
        if ids and self.cell_id is not None:
            metadata.pop("id", None)
            metadata["id"] = self.cell_id
        return make_header(self.kind, " ".join(title.split()), metadata)

    def body(self) -> str:
        if self.kind == "code":
            language = None if self.preamble else magic_of_source(self.source)
            if language is not None:
                return comment_body(language[1])
            return comment_magics(self.source)
        # Raw cells are commented like markdown: the .py must never run them.
        return encode_markdown(self.source)


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def _trim_source(source: str) -> str:
    """LF line endings, no trailing blank lines: those belong to the cell separator."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip(_BLANK_CHARS):
        lines.pop()
    return "\n".join(lines)


def _import_output(output: Mapping[str, Any]) -> Output:
    """nbformat output -> sidecar output: multi-line strings joined, transient data dropped."""
    result: Output = {}
    for key, value in output.items():
        if key == "transient":
            continue
        if key == "text":
            result[key] = _joined(value)
        elif key == "data" and isinstance(value, Mapping):
            result[key] = {
                mime: _joined(v) if isinstance(v, list) else copy.deepcopy(v)
                for mime, v in value.items()
            }
        else:
            result[key] = copy.deepcopy(value)
    return result


def _percent_text(cells: Sequence[_ImportedCell], *, ids: bool) -> str:
    parts: list[str] = []
    for position, cell in enumerate(cells):
        body = cell.body()
        if cell.preamble and body:
            chunk = body + "\n"
        else:
            chunk = cell.header(ids=ids) + "\n" + (body + "\n" if body else "")
        if position < len(cells) - 1:
            chunk += "\n"  # one blank line between cells
        parts.append(chunk)
    return "".join(parts)


def _check_header(notebook: ParsedNotebook, header: str, metadata: Any) -> None:
    """The header must read back as exactly the notebook metadata it was written for."""
    expected = {k: v for k, v in (metadata or {}).items() if k != "language_info"}
    try:
        same = notebook.header == header and (not header or notebook.metadata() == expected)
    except HeaderError:
        same = False
    if not same:
        raise IpynbError(
            "the notebook metadata cannot be written as a YAML header without changing it"
        )


def _check_round_trip(notebook: ParsedNotebook, cells: Sequence[_ImportedCell]) -> None:
    """The written text must read back as the same cells, or the import would lose data."""
    expected = [cell for cell in cells if not (cell.preamble and not cell.body())]
    if len(notebook.cells) != len(expected):
        for position, (parsed, cell) in enumerate(zip(notebook.cells, expected, strict=False)):
            if parsed.kind != cell.kind or parsed.source != cell.source:
                raise IpynbError(_unrepresentable(position))
        raise IpynbError(_unrepresentable(min(len(notebook.cells), len(expected)) - 1))
    for position, (parsed, cell) in enumerate(zip(notebook.cells, expected, strict=True)):
        if parsed.kind != cell.kind or parsed.source != cell.source:
            raise IpynbError(_unrepresentable(position))


def _unrepresentable(position: int) -> str:
    return (
        f"cell {position} cannot be written as a # %% cell without changing it "
        "(a line that reads as a cell marker, an unterminated triple-quoted string, "
        "or `language` metadata on a cell that does not start with its cell magic)"
    )


def _sidecar(
    notebook: ParsedNotebook, cells: Sequence[_ImportedCell], notebook_name: str, metadata: Any
) -> SidecarData:
    imported = [cell for cell in cells if not (cell.preamble and not cell.body())]
    _spread_widget_state(imported, metadata)
    records: list[CellRecord | None] = [None] * len(notebook.cells)
    run = 0
    for index, (cell, source) in enumerate(zip(notebook.cells, imported, strict=True)):
        if cell.kind != "code" or (not source.outputs and source.execution_count is None):
            continue
        run += 1
        records[index] = CellRecord(
            hash=cell.hash,
            index=index,
            run=run,
            status=_run_status(source.outputs),
            execution_count=source.execution_count,
            outputs=source.outputs,
            id=cell.id,
            code=cell.code,
        )
    graph = build_graph(notebook)
    # As if the outputs came from running the cells top to bottom.
    for index, record in enumerate(records):
        if record is not None:
            record.inputs, record.provides = record_versions(notebook, graph, records, index)
    return SidecarData(
        notebook=notebook_name,
        run_counter=run,
        kernel=KernelInfo(language=kernel_language(metadata)),
        cells=[record for record in records if record is not None],
    )


def _spread_widget_state(cells: Sequence[_ImportedCell], metadata: Any) -> None:
    """The notebook-level widget state JupyterLab saved, given to each output
    that shows a widget (its model and what that refers to), the way the
    sidecar keeps it."""
    widgets = metadata.get("widgets") if isinstance(metadata, Mapping) else None
    saved = widgets.get(WIDGET_STATE_MIME) if isinstance(widgets, Mapping) else None
    models = saved.get("state") if isinstance(saved, Mapping) else None
    if not isinstance(models, Mapping):
        return
    for cell in cells:
        for output in cell.outputs:
            shown = widget_view_ids([output])
            if not shown:
                continue
            state: dict[str, Any] = {}
            pending = list(shown)
            while pending:
                model_id = pending.pop()
                model = models.get(model_id)
                if model_id in state or not isinstance(model, Mapping):
                    continue
                state[model_id] = copy.deepcopy(dict(model))
                pending.extend(references(model.get("state")))
            if state:
                output_metadata = dict(output.get("metadata") or {})
                output_metadata[WIDGET_STATE_MIME] = {
                    "version_major": 2,
                    "version_minor": 0,
                    "state": state,
                }
                output["metadata"] = output_metadata


def _run_status(outputs: Iterable[Output]) -> RunStatus:
    return "error" if any(output.get("output_type") == "error" for output in outputs) else "ok"
