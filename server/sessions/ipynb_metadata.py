"""Notebook-level metadata between the ``.py`` YAML header and the ``.ipynb`` (DESIGN §2).

Export: the header's ``jupyter:`` section becomes the notebook metadata, as
Jupytext reads it: ``jupytext.formats`` and every other key kept (so a
paired notebook stays paired), ``text_representation`` dropped (Jupytext
keeps it in text files only), and the metadata filters completed the way
Jupytext completes them on reading, so that Jupytext writing the ``.py``
back from the ``.ipynb`` keeps the same keys in the header.

Import: every notebook-level key but ``language_info`` goes into the header
(``celltoolbar``, ``toc``, ``widgets``, ``vscode``, ``jupytext``, custom keys),
so deleting the sidecar loses none of it. ``language_info`` describes the
kernel that made the outputs: it goes into the sidecar's ``[kernel]`` table,
beside them. A notebook whose metadata is only what export writes for a file
without a header (the default kernelspec) gets no header.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from sessions.format.notebook import Cell, ParsedNotebook
from sessions.format.yaml_header import header_text

DEFAULT_KERNELSPEC: Mapping[str, str] = {
    "name": "python3",
    "display_name": "Python 3",
    "language": "python",
}
_LANGUAGE_INFO = "language_info"
# Keys Jupytext keeps in a header without being told (its default notebook filter).
_JUPYTEXT_DEFAULT_KEYS = frozenset({"jupytext", "kernelspec", "kernel_info", "orphan", "tocdepth"})
# Cell metadata keys Jupytext uses for layout; never listed in a filter.
_JUPYTEXT_LAYOUT_KEYS = frozenset(
    {"skipline", "noskipline", "cell_marker", "lines_to_next_cell", "lines_to_end_of_cell_marker"}
)


def export_metadata(
    notebook: ParsedNotebook, cell_metadata: Sequence[Mapping[str, Any]], language: str = ""
) -> dict[str, Any]:
    """The ``.ipynb`` notebook metadata; ``cell_metadata`` is each exported cell's.

    ``language`` is the sidecar's ``[kernel] language`` ("python 3.11.7").
    Raises ``HeaderError`` when the header's YAML cannot be read.
    """
    block = notebook.header_block
    if block is None or not block.jupyter:
        metadata: dict[str, Any] = {"kernelspec": dict(DEFAULT_KERNELSPEC)}
    else:
        metadata = copy.deepcopy(notebook.metadata())
        jupytext = metadata.get("jupytext")
        if isinstance(jupytext, dict):
            jupytext.pop("text_representation", None)
            if not jupytext:
                del metadata["jupytext"]
        _complete_filters(metadata, cell_metadata)
        kernelspec = metadata.get("kernelspec")
        if cell_metadata and not (isinstance(kernelspec, dict) and "language" in kernelspec):
            _jupytext(metadata)["main_language"] = "python"
    if _LANGUAGE_INFO not in metadata:
        metadata[_LANGUAGE_INFO] = _language_info(language)
    return metadata


def _jupytext(metadata: dict[str, Any]) -> dict[str, Any]:
    table = metadata.setdefault("jupytext", {})
    if not isinstance(table, dict):
        table = metadata["jupytext"] = {}
    return table


def _complete_filters(metadata: dict[str, Any], cell_metadata: Sequence[Mapping[str, Any]]) -> None:
    """Name in the filters what the header holds beyond Jupytext's defaults, as Jupytext does.

    With a cell filter, the cell metadata keys in use join it; otherwise the
    notebook keys beyond the defaults join the notebook filter (unless it says
    ``all`` or ``-all``).
    """
    jupytext = metadata.get("jupytext")
    jupytext = jupytext if isinstance(jupytext, dict) else {}
    cell_filter = jupytext.get("cell_metadata_filter")
    if isinstance(cell_filter, str):
        entries = [entry.strip() for entry in cell_filter.split(",") if entry.strip()]
        excluded = [entry for entry in entries if entry.startswith("-")]
        additional = [entry.lstrip("+") for entry in entries if not entry.startswith("-")]
        # Jupytext reduces a list that names ``all`` to ``all`` alone.
        excluded = ["-all"] if "-all" in excluded else excluded
        additional = ["all"] if "all" in additional else additional
        used = sorted({key for keys in cell_metadata for key in keys} - _JUPYTEXT_LAYOUT_KEYS)
        if "-all" not in excluded:
            excluded = [entry for entry in excluded if entry[1:] not in used]
        if "all" not in additional:
            additional += [key for key in used if key not in additional]
        jupytext["cell_metadata_filter"] = ",".join([*additional, *excluded])
        return
    if "cell_metadata_filter" in jupytext:
        return  # a filter that is not a string: Jupytext's own rules do not apply
    notebook_filter = jupytext.get("notebook_metadata_filter", "")
    if not isinstance(notebook_filter, str):
        return
    entries = [entry for entry in notebook_filter.split(",") if entry]
    if "all" in entries or "-all" in entries:
        return
    for key in metadata:
        if key not in _JUPYTEXT_DEFAULT_KEYS and key not in entries and "-" + key not in entries:
            entries.append(key)
    if entries:
        _jupytext(metadata)["notebook_metadata_filter"] = ",".join(entries)


def _language_info(language: str) -> dict[str, str]:
    """``{"name": "python", "version": "3.11.7"}`` from the sidecar's ``"python 3.11.7"``."""
    name, _, version = language.partition(" ")
    info = {"name": name or "python"}
    if version.strip():
        info["version"] = version.strip()
    return info


def import_header(metadata: Any, newline: str = "\n") -> str:
    """The YAML header to write for an ``.ipynb``'s notebook metadata ("" for none)."""
    if not isinstance(metadata, Mapping):
        return ""
    kept = {key: value for key, value in metadata.items() if key != _LANGUAGE_INFO}
    if not kept or kept == {"kernelspec": DEFAULT_KERNELSPEC}:
        return ""
    return header_text(kept, newline)


def kernel_language(metadata: Any) -> str:
    """``"python 3.11.7"`` from ``metadata.language_info``, as the sidecar's kernel table has it."""
    info = metadata.get(_LANGUAGE_INFO) if isinstance(metadata, Mapping) else None
    if not isinstance(info, Mapping):
        return ""
    return " ".join(str(info[key]) for key in ("name", "version") if info.get(key))


def exported_cell_metadata(cell: Cell) -> dict[str, Any]:
    """A cell's metadata as Jupytext reads it: header metadata and the title."""
    metadata = {key: copy.deepcopy(value) for key, value in cell.metadata.items() if key != "id"}
    if cell.title:
        metadata["title"] = cell.title
    return metadata
