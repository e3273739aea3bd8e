"""Rendering a report notebook with nbconvert: HTML, Markdown, a Python script.

nbconvert does the rendering (its templates know every output type); ours in
``templates/`` inherit from its ``lab`` and ``markdown`` templates and add only
what Sessions knows (``report.py``). nbconvert is imported when a conversion
runs: it takes a second or more to import, and the language server and the
other CLI verbs must not pay for it.

- **html**: one self-contained file. Images are inline ``data:`` URIs (as
  nbconvert writes them), and so are images a markdown cell links by a
  relative path (``embed_images``), so the file can be mailed or published
  alone.
- **md**: images go to files in ``NB_files/`` beside the ``.md``
  (nbconvert's layout, which GitHub and most Markdown viewers show; inline
  ``data:`` URIs they do not).
- **script**: nbconvert's ``--to script``: the code cells, magics as
  ``get_ipython()`` calls (so ``ipython NB_script.py`` runs what the notebook
  runs), markdown as comments. Without the ``# In[n]:`` prompts, so the
  script does not change each time the notebook is run, and with the
  preamble's own shebang first when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.export.report import SESSIONS_KEY

TEMPLATES = Path(__file__).resolve().parent / "templates"
"""Our nbconvert templates, shipped in the package (pyproject ``package-data``)."""


class ConvertError(Exception):
    """nbconvert could not render the notebook; the message says why."""


@dataclass
class Converted:
    text: str
    files: dict[str, bytes] = field(default_factory=dict)
    """Side files, by path relative to the output's folder (Markdown's images)."""


def convert(notebook: dict[str, Any], to: str, *, name: str, folder: Path) -> Converted:
    """``notebook`` (an nbformat dict) rendered as ``to`` (``html``, ``md`` or ``script``).

    ``name`` is the output's stem (the HTML title, the images' folder
    ``NAME_files``); ``folder`` is the notebook's, where relative image links
    of markdown cells are found.
    """
    import nbformat
    from nbconvert.exporters import Exporter, HTMLExporter, MarkdownExporter, PythonExporter

    exporter: Exporter
    resources: dict[str, Any] = {"metadata": {"name": name, "path": str(folder)}}
    if to == "html":
        exporter = HTMLExporter(  # type: ignore[no-untyped-call]
            template_name="sessions_html",
            extra_template_basedirs=[str(TEMPLATES)],
            embed_images=True,
        )
    elif to == "md":
        exporter = MarkdownExporter(  # type: ignore[no-untyped-call]
            template_name="sessions_md", extra_template_basedirs=[str(TEMPLATES)]
        )
        resources["output_files_dir"] = f"{name}_files"
        _widget_text_as_plain(notebook)
    elif to == "script":
        exporter = PythonExporter(  # type: ignore[no-untyped-call]
            template_name="sessions_script",
            extra_template_basedirs=[str(TEMPLATES)],
            exclude_input_prompt=True,
        )
    else:
        raise ValueError(f"not an nbconvert format: {to!r}")
    node = nbformat.from_dict(notebook)  # type: ignore[no-untyped-call]
    try:
        text, written = exporter.from_notebook_node(node, resources=resources)
    except Exception as exc:  # a template or filter error: say which, not a traceback
        raise ConvertError(f"nbconvert could not render it as {to}: {exc}") from exc
    outputs = written.get("outputs") or {}
    return Converted(text, {str(path): bytes(data) for path, data in outputs.items()})


def _widget_text_as_plain(notebook: dict[str, Any]) -> None:
    """A widget view's text (``report.py``) as its ``text/plain``, which is what
    nbconvert's Markdown shows of it: what the widget showed, not its constructor."""
    for cell in notebook["cells"]:
        for output in cell.get("outputs", ()):
            text = output.get("metadata", {}).get(SESSIONS_KEY, {}).get("widget_text")
            if text:
                output["data"]["text/plain"] = text
