from __future__ import annotations

import base64
import json
import re

import ipywidgets as w
import pytest
from matplotlib.figure import Figure

from dlcourse.widgets import InteractiveFigure, frame_player, interactive_figure


def _line(slope: float = 1.0, dashed: bool = False) -> Figure:
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, slope], "--" if dashed else "-")
    return fig


def test_changing_a_control_redraws_with_the_new_value() -> None:
    slope = w.FloatSlider(value=1.0, min=-2, max=2)
    view = interactive_figure(_line, title="slope", slope=slope, dashed=w.Checkbox(False))
    assert view.figure.axes[0].lines[0].get_ydata()[1] == 1.0
    slope.value = -1.5
    assert view.values == {"slope": -1.5, "dashed": False}
    assert view.figure.axes[0].lines[0].get_ydata()[1] == -1.5
    view.controls["dashed"].value = True
    assert view.figure.axes[0].lines[0].get_linestyle() == "--"


def test_static_html_is_a_self_contained_snapshot() -> None:
    view = interactive_figure(_line, title="A <line>", slope=w.FloatSlider(value=0.5))
    page = view.static_html()
    assert "http" not in page and "<script" not in page
    assert "A &lt;line&gt;" in page and "slope = 0.5" in page
    png = base64.b64decode(page.split("base64,")[1].split('"')[0])
    assert png.startswith(b"\x89PNG")


def test_mimebundle_offers_the_widget_and_the_snapshot() -> None:
    bundle = interactive_figure(_line, slope=w.FloatSlider(value=0.5))._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].startswith('<figure class="dlc-interactive">')


def test_needs_a_control() -> None:
    with pytest.raises(ValueError, match="at least one control"):
        InteractiveFigure(_line)


def test_check_controls_drives_every_control_and_restores_it(monkeypatch) -> None:
    seen: list[tuple[float, str]] = []

    def draw(slope: float, style: str) -> Figure:
        seen.append((slope, style))
        return _line(slope, style == "dashed")

    view = interactive_figure(draw, slope=w.FloatSlider(value=0.5, min=-2, max=2),
                              style=w.Dropdown(options=["solid", "dotted", "dashed"], value="solid"))
    view.check_controls()
    assert {(-2.0, "solid"), (2.0, "solid"), (0.5, "dotted"), (0.5, "dashed")} <= set(seen)
    assert view.values == {"slope": 0.5, "style": "solid"}


def test_the_build_checks_widgets_when_asked(monkeypatch) -> None:
    def fragile(n: int) -> Figure:
        if n > 3:
            raise RuntimeError("breaks for n > 3")
        return _line(float(n))

    interactive_figure(fragile, n=w.IntSlider(value=1, min=0, max=5))  # unchecked: fine
    monkeypatch.setenv("DLCOURSE_CHECK_WIDGETS", "1")
    with pytest.raises(RuntimeError, match="n > 3"):
        interactive_figure(fragile, n=w.IntSlider(value=1, min=0, max=5))


# ---- frame_player: an animation that needs neither a kernel nor a network


def _frames(n: int) -> list[Figure]:
    return [_line(slope=float(i)) for i in range(n)]


def test_frame_player_embeds_every_frame_and_requests_nothing() -> None:
    player = frame_player(_frames(3), title="A <ramp>", interval_ms=500, dpi=30)
    page = player._repr_html_()
    assert len(player) == 3
    uris = re.findall(r'"(data:image/png;base64,[^"]+)"', page)
    frames = json.loads(re.search(r"frames = (\[.*?\]);", page).group(1))
    assert len(frames) == 3 and set(frames) <= set(uris)
    pngs = [base64.b64decode(f.split(",", 1)[1]) for f in frames]
    assert all(p.startswith(b"\x89PNG") for p in pngs)
    assert len(set(pngs)) == 3  # three different pictures
    sizes = {(int.from_bytes(p[16:20], "big"), int.from_bytes(p[20:24], "big")) for p in pngs}
    assert len(sizes) == 1  # one size: the picture does not jump between frames
    assert "http" not in page and "src=\"//" not in page  # no request outside the page
    assert "A &lt;ramp&gt;" in page and "<ramp>" not in page
    assert ", 500);" in page  # the interval reaches the script
    assert 'max="2"' in page  # the slider spans the frames


def test_frame_player_html_is_stable() -> None:
    """The same frames give the same HTML (and element id): rebuilds do not churn."""
    assert frame_player(_frames(2)).html() == frame_player(_frames(2)).html()
    assert frame_player(_frames(2)).html() != frame_player(_frames(3)).html()


@pytest.mark.parametrize("frames", [[], [object()], "figure"])
def test_frame_player_needs_figures(frames) -> None:
    with pytest.raises(TypeError, match="frames must be a non-empty sequence of matplotlib Figures"):
        frame_player(frames)


@pytest.mark.parametrize("kwargs, name", [({"interval_ms": 10}, "interval_ms"),
                                          ({"interval_ms": 0.5}, "interval_ms"),
                                          ({"dpi": 0}, "dpi")])
def test_frame_player_checks_its_settings(kwargs, name) -> None:
    with pytest.raises(ValueError, match=name):
        frame_player(_frames(1), **kwargs)
