"""``sessions.bind``: the one name a notebook imports from Sessions, in the kernel.

``slider = sessions.bind(widgets.IntSlider(5, 0, 10))`` marks a widget whose
value changes re-run, at once, the cells that read ``slider`` (as Pluto's
``@bind`` and marimo's UI elements do); an unbound widget only makes them
stale, unless the setting ``sessions.onRun`` is ``"autorun"``. The mark is a
plain attribute the server reads from the kernel, so a notebook that sets it
by hand (``widget._sessions_bind = True``) works in kernels that do not have
Sessions installed; this module imports nothing.
"""

from __future__ import annotations

from typing import TypeVar

W = TypeVar("W")


def bind(widget: W) -> W:
    """Returns ``widget``, marked so that changing its value in the notebook
    re-runs the cells that use the name it is assigned to."""
    try:
        widget._sessions_bind = True  # type: ignore[attr-defined]
    except AttributeError as error:  # slots, a frozen object: not a widget
        raise TypeError(f"sessions.bind takes an ipywidgets widget, not {widget!r}") from error
    return widget
