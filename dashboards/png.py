"""A chart as a PNG, made on the server: Plotly's kaleido drawing the figure in Debian's Chromium.

Optional (``pip install .[png]``, and a Chromium at ``DATASPACE_CHROMIUM``); without them the pages offer
each chart's CSV only. Nothing is fetched from the internet: kaleido's page loads plotly.js from the
installed plotly package, MathJax is off, and the maps' style names no glyph, tile or sprite server
(``charts.map_style``). One Chromium is started on the first PNG and kept for the server's life; renders
are serialised, as the renderer holds one tab.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import logging
import os
import threading
from pathlib import Path

from data_products.config import settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_started = False


@functools.cache
def available() -> bool:
    """Whether this server can make PNGs (kaleido installed and a Chromium to run it in)."""
    return importlib.util.find_spec("kaleido") is not None and Path(settings().chromium).exists()


def _start() -> None:
    global _started
    import kaleido

    # choreographer finds its browser through BROWSER_PATH; Debian's Chromium, never a downloaded Chrome.
    os.environ["BROWSER_PATH"] = settings().chromium
    kaleido.start_sync_server(n=1, page_generator=kaleido.PageGenerator(mathjax=False), silence_warnings=True)
    atexit.register(kaleido.stop_sync_server, silence_warnings=True)
    _started = True
    log.info("PNG renderer started (kaleido in %s)", settings().chromium)


def render(fig, *, width: int = 900, height: int | None = None, caption: str = "") -> bytes:
    """``fig`` as PNG bytes, ``caption`` written under it (the data's provenance: a synthetic release says so)."""
    import plotly.graph_objects as go

    from dashboards.charts import MAP_STYLE_URL, map_style

    out = go.Figure(fig)
    if out.layout.map.style == MAP_STYLE_URL:  # kaleido's page is a file: the style itself, not its URL here
        out.update_layout(map_style=map_style())
    h = int(height or out.layout.height or 480)
    if caption:
        # At the top, in the title's place, above everything the chart draws (a map's legend is at its foot).
        old = out.layout.title.text
        top = (out.layout.margin.t or 0) + 36
        out.update_layout(margin={"t": top}, title={
            "text": f"{old}<br><span style='font-size:11px;color:#555'>{caption}</span>" if old else caption,
            "x": 0.01, "xanchor": "left", "y": 0.99, "yanchor": "top", "yref": "container",
            **({} if old else {"font": {"size": 11, "color": "#555"}})})
        h += 36
    out.update_layout(paper_bgcolor="white")
    with _lock:
        if not _started:
            _start()
        import kaleido

        return kaleido.calc_fig_sync(out, opts={"format": "png", "width": width, "height": h, "scale": 1})
