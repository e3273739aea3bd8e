"""Widgets as text: what ``sessions run`` in a terminal, the API's and the
MCP tools' output text show for a widget output.

A widget's ``text/plain`` is its constructor call
(``HBox(children=(HTML(value=''), FloatProgress(value=0.0, max=50.0), …))``),
frozen at the moment it was displayed — for a ``tqdm.auto`` bar, an empty
bar forever. The widget's state says what a reader would see: this module
draws it as a line of text (a progress bar as ``42%|████      | 21/50``,
labels and HTML as their text, boxes side by side or one per line), from
nbformat's widget state (``{model_id: {model_name, state, ...}}``). Pure.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

BAR_WIDTH = 20
_TAG = re.compile(r"<[^>]*>")
_REFERENCE = "IPY_MODEL_"
_PROGRESS = frozenset({"FloatProgressModel", "IntProgressModel"})
_TEXT_VALUED = frozenset({"HTMLModel", "HTMLMathModel", "LabelModel"})
_ROW_BOXES = frozenset({"HBoxModel", "GridBoxModel"})
_COLUMN_BOXES = frozenset({"VBoxModel", "BoxModel", "AccordionModel", "TabModel"})


def _plain(value: object) -> str:
    text = html.unescape(_TAG.sub("", str(value)))
    return text.replace("\xa0", " ").replace("\u2007", " ")  # tqdm pads with figure spaces


def progress_bar(value: float, low: float, high: float, width: int = BAR_WIDTH) -> str:
    """``|████      |`` for ``value`` between ``low`` and ``high``."""
    span = high - low
    fraction = 0.0 if span <= 0 else min(max((value - low) / span, 0.0), 1.0)
    filled = round(fraction * width)
    return "|" + "█" * filled + " " * (width - filled) + "|"


def _number(value: object, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def widget_text(model_id: str, models: Mapping[str, Mapping[str, Any]], depth: int = 0) -> str:
    """The text of widget ``model_id`` (and its children); "" when it has none."""
    model = models.get(model_id)
    if model is None or depth > 20:
        return ""
    name = str(model.get("model_name", ""))
    state: Mapping[str, Any] = model.get("state") or {}
    description = _plain(state.get("description", "")).strip()
    if name in _PROGRESS:
        bar = progress_bar(
            _number(state.get("value"), 0.0),
            _number(state.get("min"), 0.0),
            _number(state.get("max"), 100.0),
        )
        return f"{description} {bar}".strip()
    if name in _TEXT_VALUED:
        return " ".join(part for part in (description, _plain(state.get("value", ""))) if part)
    if name in _ROW_BOXES or name in _COLUMN_BOXES:
        children = [
            widget_text(child[len(_REFERENCE) :], models, depth + 1)
            for child in state.get("children") or []
            if isinstance(child, str) and child.startswith(_REFERENCE)
        ]
        shown = [child for child in children if child]
        if name in _ROW_BOXES:
            return "".join(shown) if _is_progress_row(shown) else " ".join(shown)
        return "\n".join(shown)
    if "value" in state and not isinstance(state["value"], dict | list):
        return " ".join(part for part in (description, _plain(state["value"])) if part)
    return ""


def _is_progress_row(parts: list[str]) -> bool:
    """tqdm's row: its texts sit right against the bar (``42%|███|  21/50``)."""
    return any(part.startswith("|") or part.endswith("|") for part in parts)


def output_widget_text(output: Mapping[str, Any]) -> str | None:
    """The text of the widget a display output shows, from the state saved in
    its metadata; None when it shows no widget or its state is not there."""
    data = output.get("data")
    view = data.get("application/vnd.jupyter.widget-view+json") if isinstance(data, dict) else None
    if not isinstance(view, dict) or not isinstance(view.get("model_id"), str):
        return None
    metadata = output.get("metadata")
    saved = (
        metadata.get("application/vnd.jupyter.widget-state+json")
        if isinstance(metadata, dict)
        else None
    )
    models = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(models, dict) or view["model_id"] not in models:
        return None
    return widget_text(view["model_id"], models)
