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
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

import plotly
import plotly.graph_objects as go
import streamlit as st
from plotly.io.json import to_json_plotly

__all__ = ["PLOTLY_JS_PATH", "install_static_assets", "live_chart", "static_url"]

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

# The component's JavaScript module, served from static/vendor/ (see _STUB).
# Streamlit calls the default export on mount AND again every time `data` (or
# the theme) changes, always with the same `parentElement`, so the function must
# be idempotent: it keeps its state on `parentElement` and reuses the same plot
# div. The cleanup it returns is run on unmount (and see st.cleanup below).
_JS = r"""
const STATE = "__mtlLiveChart";
const LOADERS = "__mtlPlotlyLoaders";

// Keyed by URL and not short-cut by an existing `window.Plotly`, so the plot
// always uses the plotly.js of the `plotly` package, fetched once per page.
function loadPlotly(src) {
  const cache = window[LOADERS] || (window[LOADERS] = {});
  if (!cache[src]) {
    cache[src] = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.async = true;
      s.dataset.mtlPlotly = "1";
      s.onload = () =>
        window.Plotly ? resolve(window.Plotly)
                      : reject(new Error("plotly.js loaded but window.Plotly is missing"));
      s.onerror = () => {
        delete cache[src];
        s.remove();
        reject(new Error("could not load plotly.js from " + src +
                         " (is server.enableStaticServing on?)"));
      };
      document.head.appendChild(s);
    });
  }
  return cache[src];
}

const RGB_CACHE = new Map();
function toRgba(color, alpha) {
  if (!color) return null;
  if (!RGB_CACHE.has(color)) RGB_CACHE.set(color, parseColor(color));
  const m = RGB_CACHE.get(color);
  return m ? `rgba(${m[0]}, ${m[1]}, ${m[2]}, ${alpha})` : null;
}

function parseColor(color) {
  const probe = document.createElement("span");
  probe.style.color = color;
  if (!probe.style.color) return null;
  probe.style.display = "none";
  document.body.appendChild(probe);
  const rgb = getComputedStyle(probe).color;
  probe.remove();
  const m = rgb.match(/[\d.]+/g);
  return m && m.length >= 3 ? m : null;
}

function readTheme(el) {
  const cs = getComputedStyle(el);
  const v = (name) => {
    const x = cs.getPropertyValue(name).trim();
    return x && x !== "unset" ? x : "";
  };
  const colorway = v("--st-chart-categorical-colors")
    .split(",").map((c) => c.trim()).filter(Boolean);
  return {
    text: v("--st-text-color") || cs.color,
    font: v("--st-font") || cs.fontFamily,
    bg: v("--st-background-color"),
    colorway,
  };
}

function axisNames(fig) {
  const names = new Set(["xaxis", "yaxis"]);
  for (const k of Object.keys(fig.layout)) if (/^[xy]axis\d*$/.test(k)) names.add(k);
  for (const t of fig.data) {
    if (typeof t.xaxis === "string") names.add("xaxis" + t.xaxis.slice(1));
    if (typeof t.yaxis === "string") names.add("yaxis" + t.yaxis.slice(1));
  }
  return names;
}

function applyTheme(fig, t) {
  const L = fig.layout;
  L.font = Object.assign({}, L.font);
  if (L.font.family == null && t.font) L.font.family = t.font;
  if (L.font.color == null && t.text) L.font.color = t.text;
  if (L.paper_bgcolor == null) L.paper_bgcolor = "rgba(0,0,0,0)";
  if (L.plot_bgcolor == null) L.plot_bgcolor = "rgba(0,0,0,0)";
  if (L.colorway == null && t.colorway.length) L.colorway = t.colorway;
  const grid = toRgba(t.text, 0.12), zero = toRgba(t.text, 0.3), line = toRgba(t.text, 0.4);
  for (const name of axisNames(fig)) {
    const ax = Object.assign({}, L[name]);
    if (ax.gridcolor == null && grid) ax.gridcolor = grid;
    if (ax.zerolinecolor == null && zero) ax.zerolinecolor = zero;
    if (ax.linecolor == null && line) ax.linecolor = line;
    L[name] = ax;
  }
  L.modebar = Object.assign(
    { bgcolor: "rgba(0,0,0,0)", color: toRgba(t.text, 0.45), activecolor: toRgba(t.text, 0.9) },
    L.modebar);
  if (L.hoverlabel == null && t.font) L.hoverlabel = { font: { family: t.font } };
}

function hash(text) {
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = ((h * 33) ^ text.charCodeAt(i)) >>> 0;
  return h.toString(16);
}

function buildFigure(payload, theme) {
  const src = payload.figure || {};
  const fig = {
    data: Array.isArray(src.data) ? src.data : [],
    layout: Object.assign({}, src.layout),
  };
  const L = fig.layout;
  // A fixed uirevision is what keeps zoom/pan/legend toggles across updates.
  if (L.uirevision == null) L.uirevision = payload.uirevision;
  // The div's size is the truth: fill its width (responsive), fixed height.
  delete L.width;
  delete L.height;
  L.autosize = true;
  if (L.margin == null) {
    const hasTitle = L.title && (typeof L.title === "string" || L.title.text);
    L.margin = { l: 56, r: 16, t: hasTitle ? 48 : 24, b: 44 };
  }
  // Stable trace identities so legend toggles follow traces (by name), not
  // indices. plotly.js puts uids into CSS selectors: keep them [a-z0-9_].
  const seen = {};
  for (const [i, tr] of fig.data.entries()) {
    if (tr.uid == null) {
      const name = tr.name != null ? String(tr.name) : "#" + i;
      seen[name] = (seen[name] || 0) + 1;
      tr.uid = "t" + hash(name) + "_" + seen[name];
    }
  }
  if (payload.theme === "streamlit") applyTheme(fig, theme);
  const config = Object.assign({ displaylogo: false }, payload.config, { responsive: true });
  return { data: fig.data, layout: L, config };
}

function showError(st, err) {
  console.error("live_chart:", err);
  if (!st.errorEl) {
    st.errorEl = document.createElement("div");
    st.errorEl.style.cssText = "color: var(--st-red-color, #d33); font-size: 0.85rem;";
    st.root.appendChild(st.errorEl);
  }
  st.errorEl.textContent = "Chart error: " + (err && err.message ? err.message : err);
}

async function pump(st) {
  if (st.busy) return;
  st.busy = true;
  try {
    while (st.pending && !st.disposed) {
      const job = st.pending;
      const Plotly = (st.Plotly = await loadPlotly(job.payload.plotly_src));
      if (st.disposed) break;
      if (st.pending !== job) continue;  // a newer figure arrived meanwhile
      st.pending = null;
      const fig = buildFigure(job.payload, job.theme);
      // Same div every time: Plotly.react diffs and redraws in place.
      await Plotly.react(st.div, fig.data, fig.layout, fig.config);
      st.plotted = true;
      if (st.errorEl) { st.errorEl.remove(); st.errorEl = null; }
    }
  } catch (err) {
    showError(st, err);
  } finally {
    st.busy = false;
  }
}

function decode(data) {
  if (data == null) return null;
  if (typeof data === "string") return data;
  if (data instanceof Uint8Array || ArrayBuffer.isView(data)) {
    return new TextDecoder().decode(data);
  }
  return JSON.stringify(data);
}

export default function (component) {
  const { data, parentElement } = component;
  let st = parentElement[STATE];
  if (!st) {
    const root = document.createElement("div");
    root.className = "mtl-live-chart";
    root.style.cssText = "width: 100%; position: relative;";
    const div = document.createElement("div");
    div.className = "mtl-live-chart-plot";
    div.style.cssText = "width: 100%;";
    root.appendChild(div);
    parentElement.appendChild(root);
    st = { root, div, Plotly: null, pending: null, busy: false, plotted: false,
           disposed: false, lastSig: null, lastWidth: 0, errorEl: null, ro: null };
    let frame = 0;
    st.ro = new ResizeObserver((entries) => {
      const w = Math.round(entries[0].contentRect.width);
      if (w === st.lastWidth) return;
      st.lastWidth = w;
      if (frame) cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        frame = 0;
        if (st.plotted && !st.disposed) st.Plotly.Plots.resize(st.div);
      });
    });
    st.ro.observe(root);
    const dispose = () => {
      if (st.disposed) return;
      st.disposed = true;
      st.ro.disconnect();
      try {
        if (st.Plotly) st.Plotly.purge(st.div);
      } finally {
        st.root.remove();
        if (parentElement[STATE] === st) delete parentElement[STATE];
      }
    };
    // Streamlit 1.67 also calls the cleanup returned by a call that finished
    // after a newer `data` had arrived (a "cancelled" run), while the component
    // stays mounted. Only dispose once the element has really left the page.
    st.cleanup = () => {
      if (!parentElement.isConnected) dispose();
      else setTimeout(() => { if (!parentElement.isConnected) dispose(); }, 0);
    };
    parentElement[STATE] = st;
  }

  const raw = decode(data);
  if (raw) {
    let payload = null;
    try {
      payload = JSON.parse(raw);
    } catch (err) {
      showError(st, err);
    }
    if (payload) {
      st.div.style.height = (payload.height || 360) + "px";
      const theme = payload.theme === "streamlit" ? readTheme(parentElement) : null;
      // The function reruns on every data AND theme change; skip identical renders.
      const sig = raw + "\u0000" + JSON.stringify(theme);
      if (sig !== st.lastSig) {
        st.lastSig = sig;
        st.pending = { payload, theme };
        pump(st);
      }
    }
  }
  return st.cleanup;
}
"""

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


def live_chart(
    figure: go.Figure | dict[str, Any],
    *,
    key: str,
    height: int = 360,
    theme: Literal["streamlit"] | None = "streamlit",
    config: dict[str, Any] | None = None,
) -> None:
    """Show ``figure`` and update it in place on later reruns with the same ``key``.

    Call it on every rerun (e.g. inside ``st.fragment(run_every=...)``) with the
    full, updated figure. The browser keeps one plot per ``key`` and applies the
    new figure with ``Plotly.react``: no blank frame, and the user's zoom/pan and
    legend toggles survive because ``layout.uirevision`` is fixed. Give the
    figure its own ``layout.uirevision`` and change it when the axes change
    meaning (e.g. x by step -> by wall time) to reset the view on purpose.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure or dict
        The complete figure (``{"data": [...], "layout": {...}}`` for a dict).
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
    """
    if not key:
        raise ValueError("live_chart needs a non-empty key")
    if not _ensure_served():
        st.plotly_chart(figure, key=key, height=height, theme=theme, config=config)
        return
    fig_json = _figure_json(figure, drop_template=theme == "streamlit")
    header = to_json_plotly(
        {
            "plotly_src": static_url(PLOTLY_JS_NAME),
            "height": int(height),
            "theme": theme,
            "uirevision": _DEFAULT_UIREVISION,
            "config": config or {},
        }
    )
    # Raw UTF-8 bytes: no Python-side re-parse and no JSON-in-JSON escaping.
    payload = (header[:-1] + ',"figure":' + fig_json + "}").encode()
    _mount(static_url(_JS_NAME))(key=key, data=payload)
