// The live chart component (see mtl/ui/live_chart.py), served from static/vendor/.
//
// Streamlit calls the default export on mount AND again every time `data` (or the
// theme) changes, always with the same `parentElement`, so the function is
// idempotent: it keeps its state on `parentElement` and reuses one plot div.
//
// Two kinds of message arrive:
//   {mode: "full", figure, stream, count}: draw the whole figure (Plotly.react);
//   {mode: "append", stream, base, count, append: {traces, x, y, customdata}}:
//     add points to the end of traces (Plotly.extendTraces). `base` is how many
//     points the server believes this chart already has in `stream`; on any
//     mismatch (a remount, a lost update) the chart asks for the whole figure
//     again with the trigger value "resync".
// Nothing is drawn while the chart is off-screen, inside a collapsed container or
// in a hidden tab: updates are buffered and drawn in one go once it is visible.
// `window.__mtlLive` counts draws per chart key (react, extend, points drawn, points
// held, last x drawn and when) for tests and benchmarks.
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

function stats(key) {
  const all = window.__mtlLive || (window.__mtlLive = { charts: {}, draws: [] });
  return all.charts[key] ||
    (all.charts[key] = { react: 0, extend: 0, points: 0, held: 0, lastX: null, drawnAt: 0 });
}

function noteDraw(st, kind, points, lastX) {
  const s = stats(st.key);
  s[kind] += 1;
  s.points += points;  // points drawn, counted again by each full draw
  s.held = kind === "react" ? points : s.held + points;  // points the chart holds now
  s.drawnAt = Date.now();
  if (lastX != null) s.lastX = lastX;
  const draws = window.__mtlLive.draws;
  draws.push({ key: st.key, kind, lastX, t: s.drawnAt });
  if (draws.length > 5000) draws.splice(0, draws.length - 5000);
}

// plotly.py sends numpy arrays as plotly.js "typed array specs": {dtype, bdata (base64,
// little-endian), shape}. Plotly.react decodes them itself; what this module reads of a
// figure (points, last x) goes through `values`.
const TYPED = {
  i1: Int8Array, u1: Uint8Array, u1c: Uint8ClampedArray, i2: Int16Array, u2: Uint16Array,
  i4: Int32Array, u4: Uint32Array, f4: Float32Array, f8: Float64Array,
};

// A trace array as something iterable: a list, a typed array, or a decoded typed array spec.
function values(xs) {
  if (xs == null) return [];
  if (Array.isArray(xs) || ArrayBuffer.isView(xs)) return xs;
  if (typeof xs === "object" && TYPED[xs.dtype] && typeof xs.bdata === "string") {
    const bytes = Uint8Array.from(atob(xs.bdata), (c) => c.charCodeAt(0));
    return new TYPED[xs.dtype](bytes.buffer);
  }
  return [];
}

function maxX(arrays) {
  let m = null;
  for (const xs of arrays || []) {
    for (const v of values(xs)) if (typeof v === "number" && Number.isFinite(v) && (m === null || v > m)) m = v;
  }
  return m;
}

function visible(st) {
  return st.inView && document.visibilityState === "visible" && st.div.offsetParent !== null;
}

// Merge appended points into the buffer kept while the chart is not drawn.
function bufferAppend(st, add) {
  const buf = st.buffer || (st.buffer = new Map());
  add.traces.forEach((trace, i) => {
    const have = buf.get(trace) || { x: [], y: [], customdata: [] };
    have.x.push(...add.x[i]);
    have.y.push(...add.y[i]);
    if (add.customdata) have.customdata.push(...add.customdata[i]);
    buf.set(trace, have);
  });
}

async function pump(st) {
  if (st.busy) return;
  st.busy = true;
  try {
    while (!st.disposed && (st.pendingFull || (st.buffer && st.buffer.size)) && visible(st)) {
      const Plotly = (st.Plotly = await loadPlotly(st.plotlySrc));
      if (st.disposed || !visible(st)) break;
      if (st.pendingFull) {
        const job = st.pendingFull;
        st.pendingFull = null;
        const fig = buildFigure(job.payload, job.theme);
        // Same div every time: Plotly.react diffs and redraws in place.
        await Plotly.react(st.div, fig.data, fig.layout, fig.config);
        st.plotted = true;
        const points = fig.data.reduce((n, t) => n + values(t.x).length, 0);
        noteDraw(st, "react", points, maxX(fig.data.map((t) => t.x)));
      } else {
        const traces = [...st.buffer.keys()];
        const parts = traces.map((t) => st.buffer.get(t));
        st.buffer = null;
        if (!st.plotted) continue;
        // Traces with hover data (customdata) get it extended too; the others may not.
        const withData = (i) => Array.isArray(st.div.data[traces[i]].customdata) &&
          parts[i].customdata.length === parts[i].x.length;
        for (const keep of [true, false]) {
          const idx = traces.map((_, i) => i).filter((i) => withData(i) === keep);
          if (!idx.length) continue;
          const update = { x: idx.map((i) => parts[i].x), y: idx.map((i) => parts[i].y) };
          if (keep) update.customdata = idx.map((i) => parts[i].customdata);
          await Plotly.extendTraces(st.div, update, idx.map((i) => traces[i]));
        }
        const update = { x: parts.map((p) => p.x) };
        noteDraw(st, "extend", parts.reduce((n, p) => n + p.x.length, 0), maxX(update.x));
      }
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

function mount(component) {
  const { parentElement } = component;
  const root = document.createElement("div");
  root.className = "mtl-live-chart";
  root.style.cssText = "width: 100%; position: relative;";
  const div = document.createElement("div");
  div.className = "mtl-live-chart-plot";
  div.style.cssText = "width: 100%;";
  root.appendChild(div);
  parentElement.appendChild(root);
  const st = { root, div, Plotly: null, pendingFull: null, buffer: null, busy: false, plotted: false,
               disposed: false, lastSig: null, lastWidth: 0, errorEl: null, ro: null, io: null,
               inView: true, stream: null, count: 0, resyncFor: null, key: "", plotlySrc: "" };
  let frame = 0;
  st.ro = new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w === st.lastWidth) return;
    st.lastWidth = w;
    if (frame) cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (st.plotted && !st.disposed && visible(st)) st.Plotly.Plots.resize(st.div);
      pump(st);  // a collapsed container that opens gets its size back here
    });
  });
  st.ro.observe(root);
  st.io = new IntersectionObserver((entries) => {
    st.inView = entries[entries.length - 1].isIntersecting;
    if (st.inView) pump(st);
  });
  st.io.observe(root);
  st.onVisibility = () => { if (document.visibilityState === "visible") pump(st); };
  document.addEventListener("visibilitychange", st.onVisibility);
  const dispose = () => {
    if (st.disposed) return;
    st.disposed = true;
    st.ro.disconnect();
    st.io.disconnect();
    document.removeEventListener("visibilitychange", st.onVisibility);
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
  return st;
}

function askResync(component, st, reason) {
  if (st.resyncFor === reason || !component.setTriggerValue) return;
  st.resyncFor = reason;
  component.setTriggerValue("resync", reason);
}

function receive(component, st, payload) {
  st.key = payload.key || st.key;
  st.plotlySrc = payload.plotly_src;
  st.div.style.height = (payload.height || 360) + "px";
  if (payload.mode === "append") {
    if (payload.stream !== st.stream || payload.base !== st.count) {
      // This chart does not hold what the server thinks it holds: ask for all of it, once.
      askResync(component, st, payload.stream + ":" + payload.count);
      return;
    }
    st.count = payload.count;
    if (payload.append && payload.append.traces.length) bufferAppend(st, payload.append);
  } else {
    const theme = payload.theme === "streamlit" ? readTheme(component.parentElement) : null;
    st.stream = payload.stream == null ? null : payload.stream;
    st.count = payload.count || 0;
    st.pendingFull = { payload, theme };
    st.buffer = null;  // the new figure already holds those points
  }
  pump(st);
}

export default function (component) {
  const { data, parentElement } = component;
  const st = parentElement[STATE] || mount(component);
  const raw = decode(data);
  if (raw) {
    let payload = null;
    try {
      payload = JSON.parse(raw);
    } catch (err) {
      showError(st, err);
    }
    if (payload) {
      const theme = payload.theme === "streamlit" ? JSON.stringify(readTheme(parentElement)) : "";
      if (raw !== st.lastRaw) {
        st.lastRaw = raw;
        st.lastTheme = theme;
        receive(component, st, payload);
      } else if (theme !== st.lastTheme) {
        // Only the theme changed (the function also reruns for that): redraw with it.
        st.lastTheme = theme;
        if (payload.mode === "append" || st.stream != null) askResync(component, st, "theme:" + theme);
        else receive(component, st, payload);
      }
    }
  }
  return st.cleanup;
}
