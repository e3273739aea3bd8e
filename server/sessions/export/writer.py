"""Exporting one analysed notebook to a file: the checks, the conversion, the writes.

The CLI (``sessions export``) and the language server (``sessions.export``)
both call :func:`export_notebook`, so they refuse the same things the same
way: an output that is the notebook or its sidecar, a folder, an existing
file without ``force`` (nothing is ever overwritten silently), and, with
``only_fresh``, a notebook whose cells are not all fresh. Only the output
(and, for Markdown, its images) is written, each file atomically, the images
first so a ``.md`` never points at images that are not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sessions.analysis.snapshot import Snapshot
from sessions.cache.atomic import describe_write_error, write_atomic
from sessions.cache.sidecar import sidecar_path
from sessions.export.convert import Converted, ConvertError, convert
from sessions.export.freshness import UnfreshCell, unfresh_cells
from sessions.export.report import report_notebook
from sessions.ipynb import IpynbError, ipynb_text, to_ipynb

FORMATS = ("ipynb", "html", "md", "script")
SUFFIXES = {"ipynb": ".ipynb", "html": ".html", "md": ".md", "script": "_script.py"}
"""What the default output adds to the notebook's stem (a script cannot be ``NB.py``)."""


class ExportError(Exception):
    """The export cannot be done as asked (a usage or setup error); the message says how to fix it."""


class NotFresh(Exception):
    """``only_fresh`` and some cells are not fresh: nothing was written."""

    def __init__(self, cells: list[UnfreshCell]) -> None:
        super().__init__(f"{len(cells)} cell(s) not fresh")
        self.cells = cells


@dataclass
class Written:
    path: Path
    files: list[Path] = field(default_factory=list)
    """Files written beside it (Markdown's images)."""
    cells: int = 0
    with_outputs: int = 0


def default_output(notebook: Path, to: str) -> Path:
    """``NB.ipynb``, ``NB.html``, ``NB.md`` or ``NB_script.py`` beside the notebook."""
    return notebook.with_name(notebook.stem + SUFFIXES[to])


def export_notebook(
    snapshot: Snapshot,
    to: str,
    output: Path | None = None,
    *,
    force: bool = False,
    only_fresh: bool = False,
) -> Written:
    """Write ``snapshot`` as ``to`` to ``output`` (default: :func:`default_output`).

    Raises :class:`ExportError` for bad input or a file that cannot be
    written, :class:`NotFresh` when ``only_fresh`` refuses.
    """
    if to not in FORMATS:
        raise ExportError(f"unknown format {to!r}; use one of {', '.join(FORMATS)}")
    target = output if output is not None else default_output(snapshot.path, to)
    _check_target(snapshot.path, target, force)
    if only_fresh and (cells := unfresh_cells(snapshot)):
        raise NotFresh(cells)
    converted = _convert(snapshot, to, target)
    side = {target.parent / relative: data for relative, data in converted.files.items()}
    for path in side:
        if path.exists() and not force:
            raise ExportError(f"{path}: already exists; pass --force to overwrite it")
    for path, data in side.items():
        try:
            path.parent.mkdir(exist_ok=True)  # NB_files/, beside the output
            write_atomic(path, data)
        except OSError as exc:
            raise ExportError(
                f"{path}: cannot be written: {describe_write_error(path, exc)}"
            ) from exc
    try:
        write_atomic(target, converted.text.encode("utf-8"))
    except OSError as exc:
        raise ExportError(
            f"{target}: cannot be written: {describe_write_error(target, exc)}"
        ) from exc
    with_outputs = sum(
        1
        for cell, record in zip(snapshot.notebook.cells, snapshot.records, strict=True)
        if cell.kind == "code" and record is not None and record.outputs
    )
    return Written(target, sorted(side), len(snapshot.notebook.cells), with_outputs)


def _check_target(notebook: Path, target: Path, force: bool) -> None:
    resolved = target.resolve()
    if resolved == notebook.resolve():
        raise ExportError(f"{target}: is the notebook itself; choose another output with -o")
    if resolved == sidecar_path(notebook).resolve():
        raise ExportError(
            f"{target}: is the notebook's output cache; choose another output with -o"
        )
    if target.is_dir():
        raise ExportError(f"{target}: is a directory; pass a file name with -o")
    if not target.parent.is_dir():
        raise ExportError(f"{target}: its folder {target.parent} does not exist; create it first")
    if target.exists() and not force:
        raise ExportError(f"{target}: already exists; pass --force to overwrite it")


def _convert(snapshot: Snapshot, to: str, target: Path) -> Converted:
    try:
        if to == "ipynb":
            data = to_ipynb(
                snapshot.notebook, snapshot.records, language=snapshot.sidecar.kernel.language
            )
            return Converted(ipynb_text(data))
        report = report_notebook(snapshot)
        return convert(report, to, name=target.stem, folder=snapshot.path.parent)
    except (IpynbError, ConvertError) as exc:
        raise ExportError(f"{snapshot.path}: {exc}") from exc
