// The live call list: a snapshot, then one event per change (server-sent events), filtered here.
import { feed } from "./api.js";
import { clock, h, replace, seconds } from "./dom.js";

const STATES = ["no media", "connected", "transcribing", "paused", "ending"];

export function callsPage(main, loggedOut) {
  const calls = new Map();
  const namespace = h("select", { id: "filter-namespace" }, h("option", { value: "" }, "All"));
  const state = h("select", { id: "filter-state" }, h("option", { value: "" }, "Any"),
    STATES.map((s) => h("option", { value: s }, s)));
  const search = h("input", { id: "filter-guid", type: "search", placeholder: "guid contains…" });
  const count = h("span", { id: "calls-count", class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const table = h("table", { id: "calls-table" },
    h("caption", { class: "visually-hidden" }, "Live calls"),
    h("thead", {}, h("tr", {}, ["Namespace", "Guid", "Legs", "Customer", "Agent", "Media (cust / agent)", "Last transcript"]
      .map((name) => h("th", { scope: "col" }, name)))),
    body);
  const status = h("p", { id: "feed-status", class: "muted" }, "Connecting…");
  replace(main,
    h("div", { class: "heading" }, h("h1", {}, "Live calls"), count),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("label", { for: "filter-namespace" }, "Namespace"), namespace,
      h("label", { for: "filter-state" }, "State"), state,
      h("label", { for: "filter-guid" }, "Guid"), search),
    h("div", { class: "scroll" }, table), status);

  const rows = new Map();
  const matches = (call) => {
    if (namespace.value && call.namespace !== namespace.value) return false;
    if (state.value && !call.roles.some((r) => r.state === state.value)) return false;
    return !search.value || call.guid.includes(search.value.trim());
  };
  const roleCell = (call, role) => {
    const view = call.roles.find((r) => r.role === role);
    return h("td", { class: "role", dataset: { role } },
      h("span", { class: `badge state-${view.state.replace(" ", "-")}` }, view.state));
  };
  const render = (call) => {
    const media = call.roles.map((r) => seconds(r.mediaMs)).join(" / ");
    const last = Math.max(...call.roles.map((r) => r.lastTranscriptAt || 0));
    const row = h("tr", { dataset: { key: call.key, namespace: call.namespace } },
      h("td", {}, call.namespace),
      h("td", {}, h("a", { href: `#/call/${encodeURIComponent(call.key)}`, class: "guid" }, call.guid)),
      h("td", { class: "num" }, call.legs),
      roleCell(call, "customer"), roleCell(call, "agent"),
      h("td", { class: "num media" }, media),
      h("td", { class: "num" }, last ? clock(last) : "–"));
    row.hidden = !matches(call);
    return row;
  };
  const refreshNamespaces = () => {
    const names = [...new Set([...calls.values()].map((c) => c.namespace))].sort();
    const known = [...namespace.options].map((o) => o.value);
    for (const name of names) if (!known.includes(name)) namespace.append(h("option", { value: name }, name));
  };
  const counted = () => {
    const shown = [...rows.values()].filter((r) => !r.hidden).length;
    count.textContent = `${shown} of ${calls.size} call${calls.size === 1 ? "" : "s"}`;
  };
  const put = (call) => {
    const known = calls.get(call.key);
    if (known && known.rev > call.rev) return;
    calls.set(call.key, call);
    const row = render(call);
    const old = rows.get(call.key);
    if (old) old.replaceWith(row); else body.append(row);
    rows.set(call.key, row);
  };
  const applyFilters = () => {
    for (const [key, row] of rows) row.hidden = !matches(calls.get(key));
    counted();
  };
  for (const control of [namespace, state, search]) control.addEventListener("input", applyFilters);

  let source;
  const connect = () => {
    source = feed("", {
      snapshot: (data) => {
        calls.clear(); rows.clear(); body.replaceChildren();
        for (const call of data.calls) put(call);
        refreshNamespaces(); counted();
        status.textContent = "Live.";
      },
      call: (call) => { put(call); refreshNamespaces(); counted(); },
      removed: ({ key, rev }) => {
        const known = calls.get(key);
        if (known && known.rev > rev) return;
        calls.delete(key); rows.get(key)?.remove(); rows.delete(key); counted();
      },
      media: (moved) => {
        for (const [key, byRole] of Object.entries(moved)) {
          const call = calls.get(key);
          if (!call) continue;
          for (const role of call.roles) if (role.role in byRole) role.mediaMs = byRole[role.role];
          const cell = rows.get(key)?.querySelector(".media");
          if (cell) cell.textContent = call.roles.map((r) => seconds(r.mediaMs)).join(" / ");
        }
      },
      reconnect: () => connect(),
    }, loggedOut);
  };
  connect();
  return () => source.close();
}
