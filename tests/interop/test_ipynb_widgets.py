"""Widget state across .ipynb: ``sessions export`` writes what the sidecar
keeps per output into nbformat's notebook-level ``metadata.widgets`` (what
JupyterLab and nbviewer read), and import gives it back to each output."""

from __future__ import annotations

from pathlib import Path

import nbformat

from sessions.ipynb import from_ipynb
from tests.support.cli import cli, cli_env

STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def test_export_embeds_the_widget_state_of_a_real_run(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text(
        "# %%\nimport ipywidgets as widgets\nslider = widgets.IntSlider(value=6)\nslider\n"
    )
    assert cli("run", str(path), cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    assert cli("export", str(path), cwd=tmp_path, env=cli_env(tmp_path)).returncode == 0
    exported = nbformat.read(str(tmp_path / "w.ipynb"), as_version=4)
    nbformat.validate(exported)
    [output] = exported.cells[0].outputs
    model_id = output.data[VIEW_MIME]["model_id"]
    assert STATE_MIME not in output.metadata  # notebook-level only, as Jupyter keeps it
    saved = exported.metadata.widgets[STATE_MIME]
    assert (saved["version_major"], saved["version_minor"]) == (2, 0)
    assert saved["state"][model_id]["model_name"] == "IntSliderModel"
    assert saved["state"][model_id]["state"]["value"] == 6
    layout = saved["state"][model_id]["state"]["layout"].removeprefix("IPY_MODEL_")
    assert saved["state"][layout]["model_name"] == "LayoutModel"

    # And back: an import gives each widget output its models again.
    _, sidecar = from_ipynb(dict(exported), notebook_name="again.py")
    [record] = sidecar.cells
    back = record.outputs[0]["metadata"][STATE_MIME]["state"]
    assert set(back) == set(saved["state"])


def test_import_without_widget_state_leaves_outputs_as_they_are() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "w",
            execution_count=1,
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={VIEW_MIME: {"model_id": "m"}, "text/plain": "W()"}
                )
            ],
        )
    )
    _, sidecar = from_ipynb(dict(nb), notebook_name="w.py")
    assert STATE_MIME not in sidecar.cells[0].outputs[0].get("metadata", {})
