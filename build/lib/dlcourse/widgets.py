"""Interactive figures: ipywidgets controls live in Jupyter, a static snapshot on the site.

A chapter writes one function that draws a matplotlib Figure from a few parameters, and
wraps it with the controls that set them:

    interactive_figure(draw, steps=IntSlider(0, 0, 20), show_margin=Checkbox(True))

In live Jupyter the reader moves the controls and the figure is redrawn. The built book
has no kernel, so the same object also offers a ``text/html`` rendering: the figure
drawn at the controls' initial values as an inline PNG, with a note on how to run the
page live. ``_config.yml`` makes the html builder prefer that over the widget view.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from IPython.display import display
from matplotlib.figure import Figure

Draw = Callable[..., Figure]

STATIC_NOTE = (
    "A snapshot of an interactive figure. Run this page in Jupyter (download it with the "
    "button at the top, or use a launch button) to move the controls."
)


def figure_png(fig: Figure, dpi: int = 96) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


CHECK_ENV = "DLCOURSE_CHECK_WIDGETS"


def _trial_values(control: w.ValueWidget) -> list[Any]:
    """A few values worth trying: the ends of a range, the first/last options, both booleans."""
    if isinstance(control, w.Checkbox | w.ToggleButton):
        return [not control.value]
    options = getattr(control, "options", None)
    if options:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        return list(dict.fromkeys([values[0], values[len(values) // 2], values[-1]]))
    if hasattr(control, "min") and hasattr(control, "max"):
        return [control.min, control.max]
    return []


class InteractiveFigure:
    """Controls + a figure redrawn by ``draw(**values)`` whenever a control changes."""

    def __init__(self, draw: Draw, title: str = "", **controls: w.ValueWidget) -> None:
        if not controls:
            raise ValueError("interactive_figure needs at least one control, e.g. steps=IntSlider(...)")
        self.draw = draw
        self.controls = controls
        self.title = title
        self.output = w.Output()
        self.figure: Figure = draw(**self.values)
        for control in controls.values():
            control.observe(self._redraw, names="value")
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox([*header, w.HBox(list(controls.values()),
                                              layout=w.Layout(flex_flow="row wrap")), self.output])
        with self.output:
            display(self.figure)
        if os.environ.get(CHECK_ENV) == "1":
            self.check_controls()

    def check_controls(self) -> None:
        """Drive every control through a few values (ends, options), then restore them.

        The book build sets ``DLCOURSE_CHECK_WIDGETS=1`` so every chapter's widget has its
        callbacks run from Python at build time: a draw function that fails for some
        setting fails the build instead of failing a reader in Jupyter.
        """
        initial = self.values
        for name, control in self.controls.items():
            for value in _trial_values(control):
                control.value = value
                if not isinstance(self.figure, Figure):
                    raise TypeError(f"draw() returned {type(self.figure).__name__} for {name}={value!r}")
            control.value = initial[name]

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _redraw(self, change: dict[str, Any] | None = None) -> None:
        self.figure = self.draw(**self.values)
        self.output.clear_output(wait=True)
        with self.output:
            display(self.figure)

    def static_html(self) -> str:
        """The figure at the current values, as a self-contained ``<figure>``."""
        png = base64.b64encode(figure_png(self.figure)).decode("ascii")
        settings = ", ".join(f"{k} = {v!r}" for k, v in self.values.items())
        return (
            '<figure class="dlc-interactive">'
            f'<img src="data:image/png;base64,{png}" alt="{html.escape(self.title or "interactive figure")}'
            f' ({html.escape(settings)})" style="max-width:100%">'
            f"<figcaption>{html.escape(STATIC_NOTE)} Shown with {html.escape(settings)}.</figcaption>"
            "</figure>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        if isinstance(bundle, tuple):  # (data, metadata) form
            bundle = bundle[0]
        return {**bundle, "text/html": self.static_html(),
                "text/plain": f"InteractiveFigure({self.title or self.draw.__name__}: {self.values})"}


def interactive_figure(draw: Draw, title: str = "", **controls: w.ValueWidget) -> InteractiveFigure:
    """Wrap ``draw(**values) -> Figure`` with ipywidgets controls (see module docstring)."""
    return InteractiveFigure(draw, title, **controls)
