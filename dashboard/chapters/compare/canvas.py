"""A canvas to draw 2D points on: click and drag leaves a trail of points, with undo and clear.

A Streamlit custom component (``st.components.v2``, no build step, no iframe): about a hundred lines of
JavaScript on an HTML canvas. We wrote it rather than take a package: the maintained drawing components
(streamlit-drawable-canvas, last released in 2022 on the v1 component API) return pixels or Fabric.js
shapes, where the page needs points in the data's coordinates, with a brush that scatters them.

The canvas shows [-VIEW, VIEW]^2. While the mouse (or a finger, or a pen) is down, every move of at least
half a brush width drops ``density`` points, Gaussian around the pointer with the brush's standard
deviation, up to ``drawn.MOST`` points in all. A stroke is sent to Python when it ends (``result.points``:
a flat list x0, y0, x1, y1, ...); Undo removes the last stroke, Clear all of them. Python's ``points``
are drawn as the first stroke when the canvas mounts or when ``version`` changes (a link put them there),
never over a drawing.
"""

from __future__ import annotations

from streamlit.components.v2 import component

from dashboard.shared import drawn

VIEW = 3.0

JS = r"""
const STATES = new WeakMap();

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  let s = STATES.get(parentElement);
  if (!s) {
    s = { strokes: [], version: null, current: null };
    const wrap = document.createElement('div');
    wrap.className = 'gm-canvas';
    wrap.innerHTML = '<canvas></canvas><div class="gm-bar"><button class="gm-undo"></button>'
      + '<button class="gm-clear"></button><span class="gm-count"></span></div>';
    parentElement.appendChild(wrap);
    s.canvas = wrap.querySelector('canvas');
    s.undo = wrap.querySelector('.gm-undo');
    s.clear = wrap.querySelector('.gm-clear');
    s.count = wrap.querySelector('.gm-count');
    STATES.set(parentElement, s);
    const send = () => setStateValue('points', s.strokes.flat().map(v => Math.round(v * 1000) / 1000));
    s.send = send;
    const toData = (event) => {
      const r = s.canvas.getBoundingClientRect();
      return [(event.clientX - r.left) / r.width * 2 * s.view - s.view,
              s.view - (event.clientY - r.top) / r.height * 2 * s.view];
    };
    const gauss = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    const total = () => s.strokes.reduce((n, stroke) => n + stroke.length / 2, 0);
    const drop = (p) => {
      for (let i = 0; i < s.density && total() < s.most; i++) {
        s.current.push(p[0] + s.brush * gauss(), p[1] + s.brush * gauss());
      }
      s.last = p;
    };
    s.canvas.addEventListener('pointerdown', (e) => {
      s.canvas.setPointerCapture(e.pointerId);
      s.current = [];
      s.strokes.push(s.current);
      drop(toData(e));
      draw(s);
    });
    s.canvas.addEventListener('pointermove', (e) => {
      if (!s.current) return;
      const p = toData(e);
      if (Math.hypot(p[0] - s.last[0], p[1] - s.last[1]) >= s.brush / 2) { drop(p); draw(s); }
    });
    const end = () => { if (s.current) { s.current = null; send(); } };
    s.canvas.addEventListener('pointerup', end);
    s.canvas.addEventListener('pointercancel', end);
    s.undo.addEventListener('click', () => { s.strokes.pop(); draw(s); send(); });
    s.clear.addEventListener('click', () => { s.strokes = []; draw(s); send(); });
    new ResizeObserver(() => draw(s)).observe(s.canvas);
  }
  s.view = data.view; s.brush = data.brush; s.density = data.density; s.labels = data.labels; s.most = data.most;
  s.undo.textContent = data.labels.undo;
  s.clear.textContent = data.labels.clear;
  if (s.version !== data.version) {  // a link's drawing: it replaces the strokes, and Python hears so
    const first = s.version === null;
    s.version = data.version;
    s.strokes = data.points.length ? [data.points.slice()] : [];
    if (!first) s.send();
  }
  draw(s);
}

function draw(s) {
  const c = s.canvas, ratio = window.devicePixelRatio || 1;
  const size = c.clientWidth;
  if (!size) return;
  if (c.width !== Math.round(size * ratio)) { c.width = c.height = Math.round(size * ratio); }
  const g = c.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, size, size);
  const px = (x) => (x + s.view) / (2 * s.view) * size, py = (y) => (s.view - y) / (2 * s.view) * size;
  g.strokeStyle = '#e2e8f0'; g.lineWidth = 1;
  for (let v = -Math.floor(s.view); v <= s.view; v++) {
    g.beginPath(); g.moveTo(px(v), 0); g.lineTo(px(v), size); g.stroke();
    g.beginPath(); g.moveTo(0, py(v)); g.lineTo(size, py(v)); g.stroke();
  }
  g.strokeStyle = '#94a3b8';
  g.beginPath(); g.moveTo(px(0), 0); g.lineTo(px(0), size); g.moveTo(0, py(0)); g.lineTo(size, py(0)); g.stroke();
  g.fillStyle = '#2563eb';
  let n = 0;
  for (const stroke of s.strokes) {
    for (let i = 0; i < stroke.length; i += 2) { g.fillRect(px(stroke[i]) - 1.5, py(stroke[i + 1]) - 1.5, 3, 3); n++; }
  }
  s.count.textContent = (n >= s.most ? s.labels.full : s.labels.count).replace('{n}', n);
  if (!n) {
    g.fillStyle = '#64748b'; g.font = '16px sans-serif'; g.textAlign = 'center';
    g.fillText(s.labels.hint, size / 2, size / 2);
  }
}
"""

CSS = """
.gm-canvas {max-width: 30rem;}
.gm-canvas canvas {width: 100%; aspect-ratio: 1; border: 1px solid #cbd5e1; border-radius: 0.5rem;
  touch-action: none; cursor: crosshair; display: block; background: white;}
.gm-bar {display: flex; gap: 0.5rem; align-items: center; margin-top: 0.4rem; font-family: sans-serif;}
.gm-bar button {font: inherit; padding: 0.25rem 0.8rem; border: 1px solid #cbd5e1; border-radius: 0.5rem;
  background: white; cursor: pointer;}
.gm-bar button:hover {border-color: #2563eb; color: #2563eb;}
.gm-count {color: #475569; font-size: 0.9rem;}
"""

_canvas = component("genmodels_points_canvas", js=JS, css=CSS)


def canvas(*, key: str, points, version: int, brush: float, density: int, labels: dict) -> list[float] | None:
    """Mount the canvas; the drawn points as a flat list (x0, y0, x1, y1, ...), or None before any stroke."""
    flat = [round(float(v), 3) for v in points.ravel()] if points is not None else []
    result = _canvas(key=key, data={"points": flat, "version": version, "view": VIEW, "brush": brush,
                                    "density": density, "labels": labels, "most": drawn.MOST},
                     default={"points": None}, on_points_change=lambda: None)
    return result.points
