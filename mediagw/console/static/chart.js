// A small SVG line chart: time on x, one polyline and one marker per point for each line, a legend, and the
// latest values as text (the plot itself is decoration for screen readers: the figure's caption says it).
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#1f5fa8", "#b3471d", "#2e7d32", "#7b3fa0", "#8a6d00", "#00727a", "#a3245a", "#4e5a65"];
const WIDTH = 560, HEIGHT = 180, LEFT = 48, RIGHT = 10, TOP = 10, BOTTOM = 24;

function node(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function nice(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((v) => v >= value);
}

function format(value) {
  if (value === null || value === undefined) return "–";
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2).replace(/\.?0+$/, "");
  return value.toPrecision(2);
}

export function lineChart(plot, times) {
  const labels = Object.keys(plot.lines);
  const values = labels.flatMap((l) => plot.lines[l]).filter((v) => v !== null && v !== undefined);
  const top = nice(Math.max(0, ...values));
  const start = times[0] ?? 0, end = times[times.length - 1] ?? 1;
  const x = (t) => LEFT + ((t - start) / Math.max(end - start, 1)) * (WIDTH - LEFT - RIGHT);
  const y = (v) => TOP + (1 - v / top) * (HEIGHT - TOP - BOTTOM);
  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-hidden": "true" });
  for (const fraction of [0, 0.5, 1]) {
    const v = top * fraction;
    svg.append(node("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(v), y2: y(v), class: "grid" }));
    const tick = node("text", { x: LEFT - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" });
    tick.textContent = format(v);
    svg.append(tick);
  }
  const span = node("text", { x: WIDTH - RIGHT, y: HEIGHT - 6, "text-anchor": "end", class: "tick" });
  const spanned = end - start;
  span.textContent = times.length < 2 ? "" : spanned < 120 ? `last ${Math.round(spanned)} s` : `last ${Math.round(spanned / 60)} min`;
  svg.append(span);
  let points = 0;
  labels.forEach((label, index) => {
    const colour = COLOURS[index % COLOURS.length];
    let path = "";
    plot.lines[label].forEach((v, i) => {
      if (v === null || v === undefined) return;
      path += `${path && plot.lines[label][i - 1] != null ? "L" : "M"}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`;
      svg.append(node("circle", { cx: x(times[i]).toFixed(1), cy: y(v).toFixed(1), r: 1.8, fill: colour, class: "point" }));
      points += 1;
    });
    if (path) svg.prepend(node("path", { d: path, stroke: colour, fill: "none", "stroke-width": 1.6 }));
  });
  const legend = document.createElement("ul");
  legend.className = "legend";
  labels.forEach((label, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLOURS[index % COLOURS.length];
    const series = plot.lines[label];
    const latest = [...series].reverse().find((v) => v !== null && v !== undefined);
    item.append(swatch, `${label}: ${format(latest)}`);
    legend.append(item);
  });
  return { svg, legend, points };
}
