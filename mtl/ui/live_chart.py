"""A live plotly chart for Streamlit that updates in place (no flicker, zoom kept).

``st.plotly_chart`` rebuilds the chart whenever its data changes: the user sees a
blank frame and loses their zoom. :func:`live_chart` is a small Streamlit custom
component (``st.components.v2``) that keeps ONE plot ``<div>`` per ``key`` and
feeds every new figure to ``Plotly.react`` with a fixed ``layout.uirevision``, so
zoom/pan and legend toggles survive updates and nothing is ever blanked.

How plotly.js gets to the browser
---------------------------------
plotly.js is the copy shipped inside the ``plotly`` Python package
(``plotly/package_data/plotly.min.js``, ~4.8 MB); no CDN is involved. A v2
component's inline ``js`` travels inside every element delta (on every rerun), so
plotly.js must not be inlined there. Instead, on first use the file is linked or
copied into ``<main script dir>/static/vendor/`` (a folder that ignores itself
for git) and served by Streamlit's static file serving under ``/app/static/``; the
component JS injects one ``<script src=...>`` per page and caches the load
promise on ``window``. This needs ``[server] enableStaticServing = true`` in
``.streamlit/config.toml``. Without it :func:`live_chart` falls back to
``st.plotly_chart`` (and logs a warning once), so nothing breaks.

The component's own JS module is served the same way; its registered inline
``js`` is a 140-byte stub that imports it. So per update the websocket carries
only the figure JSON (the plotly template is dropped when ``theme="streamlit"``)
plus ~0.4 KB of stub and settings: ~1.3 KB for two 15-point lines.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
import streamlit as st
from plotly.io.json import to_json_plotly

from mtl.viz.frames import CurveFeed

__all__ = [
    "PLOTLY_JS_PATH",
    "install_static_assets",
    "live_append",
    "live_chart",
    "plain_arrays",
    "static_url",
    "stream_curve",
    "stream_figure",
]

_LOGGER = logging.getLogger(__name__)

#: plotly.js as shipped by the installed ``plotly`` Python package.
PLOTLY_JS_PATH = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
#: File name under ``static/vendor/``; versioned so browsers never use a stale copy.
PLOTLY_JS_NAME = f"plotly-{plotly.__version__}.min.js"
_VENDOR_DIR = "vendor"
_DEFAULT_UIREVISION = "mtl-live-chart"

_install_lock = threading.Lock()
_installed: set[Path] = set()
_warned_no_static = False

# The component's JavaScript module (package data, mtl/ui/static/live_chart.js),
# served from static/vendor/ (see _STUB).
_JS = (Path(__file__).resolve().parent / "static" / "live_chart.js").read_text(encoding="utf-8")

_JS_NAME = f"live_chart-{hashlib.sha256(_JS.encode()).hexdigest()[:12]}.js"

# What is registered as the component's inline `js`, and hence re-sent with every
# update: a tiny stub that imports the real module above from the static folder
# (the browser's module map loads it once per page). A default export may return
# a Promise; Streamlit awaits it and keeps the resolved cleanup function. The
# stub must span several lines: Streamlit treats a one-line `js` string that
# contains "/" or "[" as a file path inside a packaged component's asset_dir.
_STUB = """
export default async function (component) {
  const m = await import(new URL(%s, document.baseURI).href);
  return m.default(component);
}
"""

_mounts: dict[str, Any] = {}


def install_static_assets(static_dir: str | os.PathLike[str]) -> Path:
    """Put plotly.js and the component's JS module into ``static_dir/vendor/``.

    plotly.js is hard-linked from the ``plotly`` package when possible (no extra
    disk), else copied; writes are atomic, so concurrent sessions never see a
    half-written file. ``vendor/`` gets a ``.gitignore`` of ``*`` so nothing in it
    ends up in git. Idempotent and cheap when everything is in place.

    Parameters
    ----------
    static_dir : path
        The app's static folder, i.e. ``static/`` next to the main script
        (served under ``/app/static/`` when ``server.enableStaticServing`` is on).

    Returns
    -------
    Path
        The ``vendor`` folder.
    """
    vendor = Path(static_dir) / _VENDOR_DIR
    vendor.mkdir(parents=True, exist_ok=True)
    ignore = vendor / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written at runtime by mtl.ui.live_chart\n*\n")
    plotly_js = vendor / PLOTLY_JS_NAME
    if not (plotly_js.is_file() and plotly_js.stat().st_size == PLOTLY_JS_PATH.stat().st_size):
        _atomic_write(plotly_js, source=PLOTLY_JS_PATH)
    module = vendor / _JS_NAME
    if not (module.is_file() and module.read_text() == _JS):
        _atomic_write(module, text=_JS)
    for old in [*vendor.glob("plotly-*.min.js"), *vendor.glob("live_chart-*.js")]:
        if old.name not in (PLOTLY_JS_NAME, _JS_NAME):  # left by other versions
            old.unlink(missing_ok=True)
    return vendor


def _atomic_write(target: Path, *, source: Path | None = None, text: str | None = None) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if source is not None:
            tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
        else:
            tmp.write_text(text or "")
            tmp.chmod(0o644)  # mkstemp makes 0600
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def static_url(name: str) -> str:
    """URL path of ``static/vendor/<name>`` (honours ``server.baseUrlPath``)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    return f"{prefix}/app/static/{_VENDOR_DIR}/{name}"


def _main_script_dir() -> Path | None:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    path = getattr(ctx, "main_script_path", None) if ctx is not None else None
    return Path(path).resolve().parent if path else None


def _ensure_served() -> bool:
    """Make sure the assets are in the app's static folder; False if they can't be served."""
    global _warned_no_static
    script_dir = _main_script_dir()
    if not st.get_option("server.enableStaticServing") or script_dir is None:
        if not _warned_no_static:
            _warned_no_static = True
            _LOGGER.warning(
                "live_chart: server.enableStaticServing is off (or no script context), "
                "so plotly.js cannot be served locally; falling back to st.plotly_chart "
                "(charts will flicker and lose zoom on updates). Set "
                "[server] enableStaticServing = true in .streamlit/config.toml."
            )
        return False
    static_dir = script_dir / "static"
    if static_dir not in _installed:
        with _install_lock:
            if static_dir not in _installed:
                install_static_assets(static_dir)
                _installed.add(static_dir)
    return True


def _mount(module_url: str) -> Any:
    """The component's mount function, registered once per module URL."""
    with _install_lock:
        if module_url not in _mounts:
            _mounts[module_url] = st.components.v2.component(
                "mtl_live_chart",
                js=_STUB % json.dumps(module_url),
                isolate_styles=False,  # plotly's global CSS (modebar, hover) must apply
            )
        return _mounts[module_url]


def _figure_json(figure: go.Figure | dict[str, Any], *, drop_template: bool) -> str:
    if isinstance(figure, go.Figure):
        fig = figure.to_dict()  # numpy arrays become compact base64 typed arrays
    elif isinstance(figure, dict):
        fig = figure
    else:
        raise TypeError(f"live_chart needs a plotly Figure or a dict, got {type(figure).__name__}")
    layout = fig.get("layout") or {}
    if not isinstance(layout, dict):
        layout = layout.to_plotly_json()
    if drop_template and "template" in layout:
        layout = {k: v for k, v in layout.items() if k != "template"}
    return to_json_plotly({"data": list(fig.get("data") or []), "layout": layout})


def _send(key: str, header: dict[str, Any], body: str | None = None) -> bool:
    """Mount/update the component; True when the browser asked for the whole figure again."""
    head = json.dumps(
        {"plotly_src": static_url(PLOTLY_JS_NAME), "key": key, **header}, separators=(",", ":")
    )
    # Raw UTF-8 bytes: no Python-side re-parse and no JSON-in-JSON escaping.
    payload = (head if body is None else head[:-1] + "," + body + "}").encode()
    result = _mount(static_url(_JS_NAME))(key=key, data=payload, on_resync_change=_ignore)
    return bool(getattr(result, "resync", None))


def _ignore() -> None:
    """The resync trigger needs a callback to be registered; the caller reads the value."""


def live_chart(
    figure: go.Figure | dict[str, Any],
    *,
    key: str,
    height: int = 360,
    theme: Literal["streamlit"] | None = "streamlit",
    config: dict[str, Any] | None = None,
    stream: str | None = None,
    count: int = 0,
) -> bool:
    """Show ``figure`` and update it in place on later reruns with the same ``key``.

    Call it on every rerun (e.g. inside ``st.fragment(run_every=...)``) with the
    full, updated figure, or once and then :func:`live_append` only the new points.
    The browser keeps one plot per ``key`` and applies a new figure with
    ``Plotly.react``: no blank frame, and the user's zoom/pan and legend toggles
    survive because ``layout.uirevision`` is fixed. Give the figure its own
    ``layout.uirevision`` and change it when the axes change meaning (e.g. x by
    step -> by wall time) to reset the view on purpose. Charts that are not
    visible (off-screen, collapsed, hidden tab) are drawn once they are.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure or dict
        The complete figure (``{"data": [...], "layout": {...}}`` for a dict). For a
        chart that :func:`live_append` extends, trace arrays must be plain lists
        (see :func:`plain_arrays`): plotly.js cannot extend base64 typed arrays.
    key : str
        Stable identity of the chart; the same key across reruns reuses the
        same DOM element.
    height : int
        Height in pixels; the width follows the container.
    theme : "streamlit" or None
        ``"streamlit"`` (default) drops the plotly template and styles the chart
        from the Streamlit theme (font, text colour, transparent background,
        categorical colours); explicit layout values in the figure win.
        ``None`` renders the figure as is.
    config : dict or None
        plotly.js config options (``responsive`` is always on).
    stream : str or None
        Names this figure's series for later :func:`live_append` calls (a new
        stream per full figure, e.g. a random token).
    count : int
        Number of points ``figure`` holds (the ``base`` of the first append).

    Returns
    -------
    bool
        True when the browser asked for the whole figure again (its chart was
        remounted or missed an update): send the figure on the next run.
    """
    if not key:
        raise ValueError("live_chart needs a non-empty key")
    if not _ensure_served():
        st.plotly_chart(figure, key=key, height=height, theme=theme, config=config)
        return False
    header = {
        "mode": "full",
        "height": int(height),
        "theme": theme,
        "uirevision": _DEFAULT_UIREVISION,
        "config": config or {},
        "stream": stream,
        "count": int(count),
    }
    return _send(
        key, header, '"figure":' + _figure_json(figure, drop_template=theme == "streamlit")
    )


def live_append(
    append: Mapping[str, Any],
    *,
    key: str,
    stream: str,
    base: int,
    count: int,
    height: int = 360,
    theme: Literal["streamlit"] | None = "streamlit",
) -> bool:
    """Append points to the chart :func:`live_chart` drew under ``key`` (``Plotly.extendTraces``).

    Parameters
    ----------
    append : mapping
        ``{"traces": [i, ...], "x": [[...], ...], "y": [[...], ...]}`` and optionally
        ``"customdata"``: per listed trace index, the points to add at its end.
    key, height, theme
        As given to :func:`live_chart`.
    stream : str
        The ``stream`` of the figure the points extend.
    base : int
        Points the chart holds before this append; ``count`` after it. A chart that
        holds something else (remounted, or missed an update) asks for the whole
        figure instead of drawing these points.

    Returns
    -------
    bool
        True when the browser asked for the whole figure again.
    """
    if not _ensure_served():
        return True  # st.plotly_chart cannot append: always send whole figures
    header = {
        "mode": "append",
        "height": int(height),
        "theme": theme,
        "stream": stream,
        "base": int(base),
        "count": int(count),
    }
    return _send(
        key,
        header,
        '"append":' + json.dumps(_finite(append), separators=(",", ":"), allow_nan=False),
    )


def _finite(value: Any) -> Any:
    """Lists of numbers with NaN and infinities as ``None`` (JSON ``null``: a gap in the line)."""
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plain_arrays(figure: go.Figure) -> dict[str, Any]:
    """``figure`` as a dict whose trace arrays are lists (extendable by plotly.js)."""
    layout = figure.layout.to_plotly_json()
    data = []
    for trace in figure.data:
        spec = trace.to_plotly_json()
        for name in ("x", "y", "customdata"):
            value = getattr(trace, name, None)
            if value is not None:
                spec[name] = np.asarray(value).tolist()
        data.append(spec)
    return {"data": data, "layout": layout}


_EMPTY_APPEND: dict[str, list[Any]] = {"traces": [], "x": [], "y": []}


def _resync_asked(key: str) -> bool:
    """Whether the browser's chart ``key`` asked for its whole figure (trigger of this run)."""
    value = st.session_state.get(key)
    try:
        return bool(value and value.get("resync"))
    except AttributeError:
        return bool(getattr(value, "resync", None))


def stream_curve(
    key: str,
    *,
    slots: MutableMapping[str, Any],
    signature: Hashable,
    make_feed: Callable[[], CurveFeed],
    metrics: pd.DataFrame,
    new: pd.DataFrame,
    figure: Callable[[pd.DataFrame], go.Figure],
    height: int = 360,
) -> None:
    """A curve chart that gets its whole figure once, then only the points of ``new``.

    The figure is built (``figure(curve_frame)``) and sent when the chart is new in
    ``slots``, when ``signature`` (the controls) changed, when the feed reports a new
    series, or when the browser asked for it (a remounted chart); otherwise only the
    rows of ``new`` travel, as points appended to the traces.

    Parameters
    ----------
    key : str
        The chart's component key.
    slots : mutable mapping
        Per-viewer memory of what was sent (e.g. a dict in ``st.session_state``); clear
        it to send every chart whole again.
    signature : hashable
        Everything that changes the chart's structure (metric, x axis, smoothing, log-y).
    make_feed : callable
        A new :class:`~mtl.viz.frames.CurveFeed` for the current controls.
    metrics, new : DataFrame
        All metric rows so far, and the rows that arrived since the previous call.
    figure : callable
        Builds the figure from a :func:`~mtl.viz.frames.curve_frame`.
    height : int
        Pixels.
    """
    slot = slots.get(key)
    added = None
    if (
        slot is not None
        and slot["signature"] == signature
        and not slot["resync"]
        and not _resync_asked(key)
    ):
        base = slot["feed"].count
        added = slot["feed"].append(new)
    if added is None:
        feed = make_feed()
        frame = feed.start(metrics)
        stream = secrets.token_hex(6)
        resync = live_chart(
            plain_arrays(figure(frame)), key=key, height=height, stream=stream, count=feed.count
        )
        slots[key] = {"signature": signature, "feed": feed, "stream": stream, "resync": resync}
        return
    assert slot is not None  # ``added`` is set only from an existing slot
    slot["resync"] = live_append(
        added, key=key, stream=slot["stream"], base=base, count=slot["feed"].count, height=height
    )


def stream_figure(
    key: str,
    *,
    slots: MutableMapping[str, Any],
    signature: Hashable,
    figure: Callable[[], go.Figure],
    height: int = 360,
) -> None:
    """A chart redrawn whole only when ``signature`` changes (e.g. once per epoch).

    In between, each call sends a few bytes that say "nothing new", so the chart stays
    on the page without its figure being rebuilt or re-sent.
    """
    slot = slots.get(key)
    if slot is None or slot["signature"] != signature or slot["resync"] or _resync_asked(key):
        stream = secrets.token_hex(6)
        resync = live_chart(figure(), key=key, height=height, stream=stream)
        slots[key] = {"signature": signature, "stream": stream, "resync": resync}
        return
    slot["resync"] = live_append(
        _EMPTY_APPEND, key=key, stream=slot["stream"], base=0, count=0, height=height
    )
