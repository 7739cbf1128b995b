"""Interactive figures: ipywidgets controls live in Jupyter, a static snapshot on the site.

A chapter writes one function that draws a matplotlib Figure from a few parameters, and
wraps it with the controls that set them:

    interactive_figure(draw, steps=IntSlider(0, 0, 20), show_margin=Checkbox(True))

In live Jupyter the reader moves the controls and the figure is redrawn. The built book
has no kernel, so the same object also offers a ``text/html`` rendering: the figure
drawn at the controls' initial values as an inline PNG, with a note on how to run the
page live. ``_config.yml`` makes the html builder prefer that over the widget view.

``frame_player(figures)`` shows a sequence of figures as an animation: the frames are
PNGs inside the HTML, with a small play/step/slider player in plain JavaScript, so it
runs on the static site as well as in Jupyter.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
from IPython.display import display

from .lang import tr
from matplotlib.figure import Figure

__all__ = ["FramePlayer", "InteractiveFigure", "figure_png", "frame_player", "interactive_figure"]

Draw = Callable[..., Figure]

STATIC_NOTE = (
    "A snapshot of an interactive figure. Run this page in Jupyter (download it with the "
    "button at the top, or use a launch button) to move the controls."
)
STATIC_NOTE_ZH = "交互式图形的一张快照。在 Jupyter 中运行本页（用页面顶部的按钮下载，或用启动按钮），即可拖动控件。"


def figure_png(fig: Figure, dpi: int = 96) -> bytes:
    """The figure as PNG bytes."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi < 1:
        raise ValueError(f"dpi must be a positive int, got {dpi!r}")
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
        if not callable(draw):
            raise TypeError(f"draw must be a function returning a Figure, got {type(draw).__name__}")
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, got {title!r}")
        for name, control in controls.items():
            if not isinstance(control, w.ValueWidget):
                raise TypeError(
                    f"control {name}= must be an ipywidgets control with a value (IntSlider, "
                    f"Checkbox, ...), got {type(control).__name__}"
                )
        self.draw = draw
        self.controls = controls
        self.title = title
        self.output = w.Output()
        self.figure: Figure = draw(**self.values)
        if not isinstance(self.figure, Figure):
            raise TypeError(f"draw() must return a matplotlib Figure, got {type(self.figure).__name__}")
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
            f"<figcaption>{html.escape(tr(STATIC_NOTE, STATIC_NOTE_ZH))} "
            f"{html.escape(tr(f'Shown with {settings}.', f'图中取值：{settings}。'))}</figcaption>"
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


# ------------------------------------------------------------------ frame-by-frame animation

PLAYER_SCRIPT = """(function () {
  var root = document.getElementById(%(id)s), frames = %(frames)s;
  var img = root.querySelector("img"), slider = root.querySelector("input");
  var label = root.querySelector(".dlc-frame"), play = root.querySelector("[data-play]");
  var timer = null, i = 0;
  function show(k) {
    i = (k + frames.length) %% frames.length;
    img.src = frames[i]; slider.value = i;
    label.textContent = (i + 1) + " / " + frames.length;
  }
  function stop() { clearInterval(timer); timer = null; play.textContent = "\\u25B6 " + %(play)s; }
  play.onclick = function () {
    if (timer) { stop(); return; }
    play.textContent = "\\u23F8 " + %(pause)s;
    timer = setInterval(function () { show(i + 1); }, %(interval)d);
  };
  root.querySelector("[data-back]").onclick = function () { stop(); show(i - 1); };
  root.querySelector("[data-next]").onclick = function () { stop(); show(i + 1); };
  slider.oninput = function () { stop(); show(Number(slider.value)); };
})();"""


class FramePlayer:
    """An animation as still frames with a small player: play/pause, step, slider.

    The frames are PNGs inside the HTML and the player is a few lines of plain
    JavaScript, so it works on the static site (no kernel, no request to any server) and
    in Jupyter. Without JavaScript the first frame is shown as an image.
    """

    def __init__(self, frames: Sequence[Figure], title: str = "", interval_ms: int = 900,
                 dpi: int = 72) -> None:
        frames = list(frames)
        if not frames or not all(isinstance(f, Figure) for f in frames):
            kinds = sorted({type(f).__name__ for f in frames}) or ["nothing"]
            raise TypeError(f"frames must be a non-empty sequence of matplotlib Figures, got {kinds}")
        if not isinstance(interval_ms, int) or interval_ms < 50:
            raise ValueError(f"interval_ms must be an integer of at least 50 (ms per frame), got {interval_ms!r}")
        if not isinstance(dpi, int) or dpi < 10:
            raise ValueError(f"dpi must be an integer of at least 10, got {dpi!r}")
        self.title = title
        self.interval_ms = interval_ms
        # The whole figure, not a tight crop: every frame has the same size, so the
        # picture does not jump as the player steps through them.
        self.pngs = [_png(f, dpi) for f in frames]

    def __len__(self) -> int:
        return len(self.pngs)

    def html(self) -> str:
        """The player as one self-contained ``<figure>``."""
        uris = ["data:image/png;base64," + base64.b64encode(p).decode("ascii") for p in self.pngs]
        # A stable id from the content: rebuilding the page gives the same HTML.
        uid = "dlc-player-" + hashlib.sha1(b"".join(self.pngs)).hexdigest()[:12]
        words = {"back": tr("back", "上一帧"), "play": tr("play", "播放"),
                 "pause": tr("pause", "暂停"), "next": tr("next", "下一帧")}
        script = PLAYER_SCRIPT % {"id": json.dumps(uid), "frames": json.dumps(uris),
                                  "interval": self.interval_ms,
                                  "play": json.dumps(words["play"]), "pause": json.dumps(words["pause"])}
        alt = html.escape(self.title or "animation", quote=True)
        caption = f"<b>{html.escape(self.title)}</b> " if self.title else ""
        return (
            f'<figure class="dlc-player" id="{uid}">'
            f'<img src="{uris[0]}" alt="{alt}, {tr("frame", "帧")} 1 / {len(uris)}" style="max-width:100%">'
            '<figcaption>'
            f"{caption}"
            f'<button type="button" data-back title="{tr("previous frame", "上一帧")}">&#9664; {words["back"]}</button> '
            f'<button type="button" data-play title="{tr("play or pause", "播放或暂停")}">&#9654; {words["play"]}</button> '
            f'<button type="button" data-next title="{tr("next frame", "下一帧")}">{words["next"]} &#9654;</button> '
            f'<input type="range" min="0" max="{len(uris) - 1}" value="0" aria-label="{tr("frame", "帧")}" '
            'style="vertical-align:middle"> '
            f'<span class="dlc-frame">1 / {len(uris)}</span>'
            "</figcaption>"
            f"<script>{script}</script>"
            "</figure>"
        )

    def _repr_html_(self) -> str:
        return self.html()


def frame_player(frames: Sequence[Figure], title: str = "", interval_ms: int = 900,
                 dpi: int = 72) -> FramePlayer:
    """Show matplotlib Figures one after another as an animation (see ``FramePlayer``)."""
    return FramePlayer(frames, title, interval_ms, dpi)


def _png(fig: Figure, dpi: int) -> bytes:
    """The whole figure as PNG bytes (no tight bounding box: frames keep one size)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
