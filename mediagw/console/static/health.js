// Health at a glance: the /metrics registry as the gateway sampled it (GET /console/api/health), redrawn as
// each new sample comes.
import { ApiFailure, get } from "./api.js";
import { h, replace } from "./dom.js";
import { lineChart } from "./chart.js";

export function healthPage(main, loggedOut) {
  const grid = h("div", { id: "plots", class: "plots" });
  const status = h("p", { class: "muted", id: "health-status" }, "Loading…");
  replace(main, h("div", { class: "heading" }, h("h1", {}, "Health"), status), grid);
  let timer = null;
  let stopped = false;
  const draw = (history) => {
    grid.replaceChildren();
    for (const plot of history.plots) {
      const { svg, legend, points } = lineChart(plot, history.t);
      grid.append(h("figure", { class: "card plot", dataset: { name: plot.name, points } },
        h("figcaption", {}, h("strong", {}, plot.title), h("span", { class: "muted" }, ` (${plot.unit})`)),
        svg, legend.childElementCount ? legend : h("p", { class: "muted" }, "nothing yet")));
    }
    status.textContent = `${history.t.length} samples every ${history.intervalS} s, the last 15 minutes`;
  };
  const load = async () => {
    try {
      const history = await get("health");
      if (stopped) return;
      draw(history);
      timer = setTimeout(load, Math.max(1000, history.intervalS * 1000));
    } catch (failure) {
      if (failure instanceof ApiFailure && failure.status === 401) { loggedOut(); return; }
      status.textContent = failure instanceof ApiFailure ? `${failure.code}: ${failure.message}` : String(failure);
      timer = setTimeout(load, 5000);
    }
  };
  load();
  return () => { stopped = true; clearTimeout(timer); };
}
