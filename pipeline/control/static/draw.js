// Hand-drawn inline SVG: the facade grid, overlays in image pixels, a small readings chart.

const NS = "http://www.w3.org/2000/svg";

export function svgEl(tag, attrs = {}, children = []) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  }
  for (const child of children) el.append(child);
  return el;
}

function label(x, y, text, attrs = {}) {
  const el = svgEl("text", { x, y, ...attrs });
  el.textContent = text;
  return el;
}

const num = (v) => typeof v === "number" && Number.isFinite(v);

/** A floors x columns grid, floor 1 at the bottom, with the origin window (1-based floor/column) filled. */
export function facadeSvg({ floors, columns, floor, column }) {
  const cw = 30, ch = 20, left = 34, top = 6, bottom = 18;
  const width = left + columns * cw + 6, height = top + floors * ch + bottom;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, class: "facade", "data-testid": "facade",
    "data-floors": floors, "data-columns": columns, role: "img" });
  for (let f = 1; f <= floors; f += 1) {
    const y = top + (floors - f) * ch;
    svg.append(label(left - 6, y + ch * 0.7, `${f}F`, { "text-anchor": "end", class: "axis" }));
    for (let c = 1; c <= columns; c += 1) {
      const isOrigin = f === floor && c === column;
      svg.append(svgEl("rect", {
        x: left + (c - 1) * cw + 2, y: y + 2, width: cw - 4, height: ch - 4, rx: 2,
        class: isOrigin ? "window origin" : "window",
        ...(isOrigin ? { "data-testid": "facade-origin", "data-floor": f, "data-column": c } : {}),
      }));
    }
  }
  for (let c = 1; c <= columns; c += 1) {
    svg.append(label(left + (c - 0.5) * cw, height - 4, String(c), { "text-anchor": "middle", class: "axis" }));
  }
  return svg;
}

/** An SVG laid over an image, its user units the image's pixels (it stretches with the image). */
export function overlaySvg(width, height, testid) {
  return svgEl("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "overlay",
    "data-testid": testid });
}

/** The thrown object's track [[t, x, y], ...] as a line with its first and last points marked. */
export function drawTrajectory(svg, trajectory, width) {
  const pts = trajectory.filter((p) => Array.isArray(p) && num(p[1]) && num(p[2]));
  if (!pts.length) return;
  const stroke = Math.max(2, width / 250);
  svg.append(svgEl("polyline", { points: pts.map((p) => `${p[1]},${p[2]}`).join(" "), class: "trajectory",
    "stroke-width": stroke, "data-testid": "trajectory-line" }));
  const first = pts[0], last = pts[pts.length - 1];
  svg.append(svgEl("circle", { cx: first[1], cy: first[2], r: stroke * 2.5, class: "traj-start" }));
  svg.append(svgEl("circle", { cx: last[1], cy: last[2], r: stroke * 2, class: "traj-end" }));
}

/** A box in frame pixels; the fire-lane detector reports x1 y1 x2 y2 (see vision/firelane/dwell.Sighting). */
export function boxRect(box) {
  const [x1, y1, x2, y2] = box;
  return { x: Math.min(x1, x2), y: Math.min(y1, y2), w: Math.abs(x2 - x1), h: Math.abs(y2 - y1) };
}

/** The fire-lane zone polygon and each object's box with its class. */
export function drawFireLane(svg, polygon, objects, width) {
  const stroke = Math.max(2, width / 300);
  if (Array.isArray(polygon) && polygon.length >= 3) {
    svg.append(svgEl("polygon", { points: polygon.map((p) => `${p[0]},${p[1]}`).join(" "), class: "zone",
      "stroke-width": stroke, "data-testid": "zone-polygon" }));
  }
  for (const obj of objects) {
    if (!Array.isArray(obj.box) || obj.box.length !== 4 || !obj.box.every(num)) continue;
    const r = boxRect(obj.box);
    svg.append(svgEl("rect", { x: r.x, y: r.y, width: r.w, height: r.h, class: "vehicle", "stroke-width": stroke,
      "data-testid": "vehicle-box" }));
    svg.append(label(r.x + stroke, Math.max(r.y - stroke * 2, width / 40), obj.class || "vehicle",
      { class: "vehicle-label", "font-size": Math.max(12, width / 45) }));
  }
}

/** The smallest frame holding every point (a blank frame when there is no image to draw on). */
export function fitFrame(points) {
  let w = 0, h = 0;
  for (const [x, y] of points) {
    if (num(x)) w = Math.max(w, x);
    if (num(y)) h = Math.max(h, y);
  }
  return [Math.ceil(w * 1.05) || 640, Math.ceil(h * 1.05) || 360];
}

/**
 * Readings as small multiples, one strip per value name on its own scale, sharing the time axis;
 * a dashed line marks when the alert started.
 */
export function readingsChart(series, markTs, timeLabel, maxStrips = 4) {
  const names = [...new Set(series.flatMap((p) => Object.keys(p.values || {})))].slice(0, maxStrips);
  const width = 520, strip = 70, left = 48, right = 8, top = 8, bottom = 20;
  const height = top + names.length * strip + bottom;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", "data-testid": "readings-chart",
    role: "img" });
  const times = series.map((p) => p.ts).filter(num);
  const t0 = Math.min(...times, markTs ?? Infinity), t1 = Math.max(...times, markTs ?? -Infinity);
  const x = (ts) => left + ((ts - t0) / Math.max(t1 - t0, 1e-9)) * (width - left - right);
  names.forEach((name, i) => {
    const y0 = top + i * strip;
    const pts = series.filter((p) => num(p.values?.[name])).map((p) => [p.ts, p.values[name]]);
    const vs = pts.map((p) => p[1]);
    const lo = Math.min(...vs), hi = Math.max(...vs), span = hi - lo || 1;
    const y = (v) => y0 + strip - 14 - ((v - lo) / span) * (strip - 24);
    svg.append(svgEl("rect", { x: left, y: y0, width: width - left - right, height: strip - 6, class: "strip" }));
    svg.append(label(left - 4, y0 + 12, fmtNum(hi), { "text-anchor": "end", class: "axis" }));
    svg.append(label(left - 4, y0 + strip - 12, fmtNum(lo), { "text-anchor": "end", class: "axis" }));
    svg.append(label(left + 4, y0 + 12, name, { class: "series-name" }));
    if (pts.length) {
      svg.append(svgEl("polyline", { points: pts.map(([ts, v]) => `${x(ts).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
        class: `series s${i}` }));
    }
  });
  if (num(markTs)) {
    svg.append(svgEl("line", { x1: x(markTs), x2: x(markTs), y1: top, y2: height - bottom, class: "mark" }));
  }
  svg.append(label(left, height - 4, timeLabel(t0), { class: "axis" }));
  svg.append(label(width - right, height - 4, timeLabel(t1), { class: "axis", "text-anchor": "end" }));
  return svg;
}

function fmtNum(v) {
  if (!Number.isFinite(v)) return "";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}
