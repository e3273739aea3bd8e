"""``widget_text``: the terminal text of widget states, on the shapes
ipywidgets and tqdm really produce."""

from __future__ import annotations

from typing import Any

from sessions.run.widget_text import output_widget_text, progress_bar, widget_text


def model(name: str, **state: Any) -> dict[str, Any]:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def test_progress_bar_is_clamped_and_proportional() -> None:
    assert progress_bar(5, 0, 10, width=10) == "|█████     |"
    assert progress_bar(-3, 0, 10, width=4) == "|    |"
    assert progress_bar(30, 0, 10, width=4) == "|████|"
    assert progress_bar(1, 1, 1, width=2) == "|  |"  # an empty range draws empty


def test_a_tqdm_row_reads_like_tqdm_in_a_terminal() -> None:
    models = {
        "row": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]),
        "left": model("HTMLModel", value="train:\u2007&nbsp;50%"),
        "bar": model("FloatProgressModel", value=25.0, min=0, max=50.0),
        "right": model("HTMLModel", value="\u200725/50 [00:01&lt;00:01]"),
    }
    assert (
        widget_text("row", models) == "train:  50%|" + "█" * 10 + " " * 10 + "| 25/50 [00:01<00:01]"
    )


def test_controls_show_their_description_and_value() -> None:
    models = {
        "box": model("VBoxModel", children=["IPY_MODEL_s", "IPY_MODEL_d", "IPY_MODEL_missing"]),
        "s": model("IntSliderModel", value=3, description="n"),
        "d": model("DropdownModel", value="b", description="<b>pick</b>"),
    }
    assert widget_text("box", models) == "n 3\npick b"


def test_outputs_without_a_saved_state_fall_back() -> None:
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "X()"}
    assert output_widget_text({"output_type": "display_data", "data": view}) is None
    assert output_widget_text({"output_type": "stream", "text": "x"}) is None
    saved = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"m": model("LabelModel", value="hi")}
        }
    }
    assert output_widget_text({"data": view, "metadata": saved}) == "hi"


def test_the_api_and_inlay_text_of_a_widget_output_is_its_state() -> None:
    from sessions.api.views import output_text
    from sessions.run.outputs import short_result

    view = {
        "application/vnd.jupyter.widget-view+json": {"model_id": "m"},
        "text/plain": "IntSlider(value=3)",
    }
    saved = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"m": model("IntSliderModel", value=9, description="n")}
        }
    }
    output = {"output_type": "execute_result", "data": view, "metadata": saved}
    assert output_text(output) == "n 9"
    assert short_result([output]) == "n 9"
