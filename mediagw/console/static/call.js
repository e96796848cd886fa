// A call's page: its state, both parties' transcripts as they arrive (as redacted as the stream asked, by the
// server), each utterance's latency by stage, and start/stop through the control API.
import { ApiFailure, allowed, feed, post } from "./api.js";
import { clock, h, replace, seconds } from "./dom.js";

const STAGES = [
  ["end_wait", "waiting for the end"],
  ["queued", "queued"],
  ["decode", "decoding"],
  ["turn_wait", "other party's turn"],
  ["text", "text stage"],
  ["output", "store and send"],
];

function budget(stages) {
  if (!stages) return h("p", { class: "budget muted" }, "stored earlier: no latency recorded");
  const total = STAGES.reduce((sum, [name]) => sum + (stages[name] || 0), 0);
  const ms = (s) => `${Math.round(s * 1000)} ms`;
  const bar = h("div", { class: "bar-chart", "aria-hidden": "true" },
    STAGES.map(([name, label]) => h("span", {
      class: `stage stage-${name}`, title: `${label}: ${ms(stages[name] || 0)}`,
      style: { flexGrow: String(Math.max(stages[name] || 0, 0.0001)) },
    })));
  const list = h("dl", { class: "stages" },
    STAGES.map(([name, label]) => [h("dt", { class: `key-${name}` }, label), h("dd", { dataset: { stage: name } }, ms(stages[name] || 0))]));
  return h("div", { class: "budget", dataset: { totalMs: Math.round(total * 1000) } },
    h("span", { class: "total" }, `${(total).toFixed(2)} s from the end of speech`), bar, list);
}

function summaryTable(answer) {
  const streams = Object.entries(answer.autotranscribeResponse || {});
  return h("table", { id: "summary-table" },
    h("caption", {}, "Stop summary"),
    h("thead", {}, h("tr", {}, ["Role", "Stream", "Status", "Audio", "Bytes", "Streaming s", "Transcripts"].map((n) => h("th", { scope: "col" }, n)))),
    h("tbody", {}, streams.map(([role, s]) => h("tr", { dataset: { role } },
      h("th", { scope: "row" }, role), h("td", { class: "mono" }, s.streamId), h("td", {}, `${s.status.code} ${s.status.description}`),
      h("td", { class: "num" }, s.summary ? seconds(s.summary.audioDurationMs) : "–"),
      h("td", { class: "num" }, s.summary ? s.summary.totalAudioBytes : "–"),
      h("td", { class: "num" }, s.summary ? s.summary.streamingSeconds : "–"),
      h("td", { class: "num transcripts" }, s.summary ? s.summary.transcripts : "–")))));
}

export function callPage(main, key, loggedOut) {
  const [namespace, ...rest] = key.split("/");
  const guid = rest.join("/");
  const state = h("div", { id: "call-state" }, h("p", { class: "muted" }, "Connecting…"));
  const result = h("div", { id: "control-result", role: "alert", "aria-live": "assertive" });
  const summary = h("div", { id: "summary" });
  const list = h("ol", { id: "transcripts", class: "transcripts", "aria-live": "polite" });
  const customerId = h("input", { id: "customer-id", required: true, maxlength: 256 });
  const agentId = h("input", { id: "agent-id", required: true, maxlength: 256 });
  const language = h("input", { id: "language", placeholder: "en-US", maxlength: 20, size: 8 });
  let call = null;

  const act = async (kind, body) => {
    result.replaceChildren(h("p", { class: "muted" }, `${kind}…`));
    try {
      const answer = await post(`calls/${encodeURIComponent(namespace)}/${encodeURIComponent(guid)}/${kind}`, body);
      const codes = Object.entries(answer.autotranscribeResponse || {}).map(([role, s]) => `${role} ${s.status.code}`);
      replace(result, h("p", { class: answer.isOk ? "ok" : "error", id: "control-answer" },
        `${kind === "start" ? "Start" : "Stop"}: ${answer.isOk ? "OK" : "refused"} (${codes.join(", ")})`));
      if (kind === "stop") replace(summary, summaryTable(answer));
    } catch (failure) {
      const text = failure instanceof ApiFailure ? `${failure.code}: ${failure.message}` : String(failure);
      replace(result, h("p", { class: "error", id: "control-error", dataset: { code: failure.code || "" } }, text));
      if (failure.status === 401) loggedOut();
    }
  };
  const controls = allowed("control") ? h("form", { id: "controls", class: "card", onsubmit: (e) => {
    e.preventDefault();
    const params = language.value.trim() ? { autotranscribeParams: { language: language.value.trim() } } : {};
    act("start", { customerId: customerId.value, agentId: agentId.value, ...params });
  } },
    h("h2", {}, "Transcription"),
    h("div", { class: "fields" },
      h("label", { for: "customer-id" }, "Customer id"), customerId,
      h("label", { for: "agent-id" }, "Agent id"), agentId,
      h("label", { for: "language" }, "Language"), language),
    h("div", { class: "buttons" },
      h("button", { type: "submit", id: "start-button" }, "Start streaming"),
      h("button", { type: "button", id: "stop-button", class: "secondary", onclick: () => act("stop", {}) }, "Stop streaming")),
    result, summary) : h("p", { class: "muted" }, "This app may not start or stop transcription (scope control).");

  replace(main,
    h("p", {}, h("a", { href: "#/calls" }, "← Live calls")),
    h("h1", {}, h("span", { class: "muted" }, `${namespace} / `), h("span", { class: "mono" }, guid)),
    h("div", { class: "columns" },
      h("div", {}, h("section", { class: "card", "aria-labelledby": "state-title" }, h("h2", { id: "state-title" }, "State"), state), controls),
      h("section", { class: "card grow", "aria-labelledby": "transcripts-title" },
        h("h2", { id: "transcripts-title" }, "Transcripts"),
        allowed("messages") ? list : h("p", { class: "muted" }, "This app may not read transcripts (scope messages)."))));

  const renderState = () => {
    if (!call) { replace(state, h("p", { class: "muted", id: "no-call" }, "No such call on this gateway (yet).")); return; }
    if (!customerId.value && call.customerId) customerId.value = call.customerId;
    if (!agentId.value && call.agentId) agentId.value = call.agentId;
    replace(state,
      h("p", { id: "call-started" }, call.started ? "Transcribing" : "Not transcribing", call.pending ? " · start/stop in progress" : "",
        call.ending ? " · media ending" : "", ` · ${call.legs} leg${call.legs === 1 ? "" : "s"}`),
      h("table", { class: "compact" },
        h("thead", {}, h("tr", {}, ["Role", "State", "Media", "Stream", "Last transcript"].map((n) => h("th", { scope: "col" }, n)))),
        h("tbody", {}, call.roles.map((r) => h("tr", { dataset: { role: r.role } },
          h("th", { scope: "row" }, r.role),
          h("td", {}, h("span", { class: `badge state-${r.state.replace(" ", "-")}` }, r.state)),
          h("td", { class: "num media" }, seconds(r.mediaMs)),
          h("td", { class: "mono small", title: r.streamId }, r.streamId ? `${r.streamId.slice(0, 8)}…` : "–"),
          h("td", { class: "num" }, clock(r.lastTranscriptAt)))))));
  };
  const seen = new Set();
  const addTranscript = (t) => {
    const id = `${t.streamId}:${t.start}`;
    if (seen.has(id)) return;
    seen.add(id);
    const item = h("li", { class: `transcript role-${t.role}`, dataset: { role: t.role, start: t.start } },
      h("div", { class: "meta" }, h("span", { class: "who" }, t.role), h("span", { class: "muted" }, ` ${seconds(t.start)}–${seconds(t.end)}`)),
      h("p", { class: "text" }, t.text),
      budget(t.stages));
    const after = [...list.children].find((li) => Number(li.dataset.start) > t.start);
    list.insertBefore(item, after || null);
  };

  let source;
  const connect = () => {
    source = feed(`?call=${encodeURIComponent(key)}`, {
      snapshot: (data) => { call = data.calls[0] || null; renderState(); },
      history: (data) => data.transcripts.forEach(addTranscript),
      transcript: addTranscript,
      call: (row) => { if (!call || row.rev >= call.rev) { call = row; renderState(); } },
      removed: ({ rev }) => { if (!call || rev >= call.rev) { call = null; renderState(); } },
      media: (moved) => {
        if (!call || !moved[key]) return;
        for (const r of call.roles) if (r.role in moved[key]) r.mediaMs = moved[key][r.role];
        for (const cell of state.querySelectorAll("tr[data-role]")) {
          const r = call.roles.find((x) => x.role === cell.dataset.role);
          cell.querySelector(".media").textContent = seconds(r.mediaMs);
        }
      },
      reconnect: () => connect(),
    }, loggedOut);
  };
  connect();
  return () => source.close();
}
