// The console's pages: login, the live call list, a call's page and health, routed by the URL's hash.
import { ApiFailure, allowed, loadSession, login, logout, session } from "./api.js";
import { h, replace } from "./dom.js";
import { callsPage } from "./calls.js";
import { callPage } from "./call.js";
import { healthPage } from "./health.js";

const main = document.getElementById("main");
let leave = () => {};

function loginPage(message) {
  const error = h("p", { id: "login-error", class: "error", role: "alert" }, message || "");
  const appId = h("input", { id: "app-id", name: "appId", autocomplete: "username", required: true });
  const secret = h("input", { id: "secret", name: "secret", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { id: "login-form", class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await login(appId.value, secret.value);
      secret.value = "";
      if (!location.hash || location.hash === "#/login") location.hash = "#/calls";
      else route();
    } catch (failure) {
      error.textContent = failure instanceof ApiFailure ? failure.message + ` (${failure.code})` : String(failure);
    }
  } },
    h("h1", {}, "Log in"),
    h("p", { class: "muted" }, "With an API app's id and secret: the console shows what the app's scopes allow."),
    h("label", { for: "app-id" }, "App id"), appId,
    h("label", { for: "secret" }, "Secret"), secret,
    h("button", { type: "submit", id: "login-button" }, "Log in"),
    error);
  replace(main, form);
  appId.focus();
}

function chrome() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  const out = document.getElementById("logout");
  const on = Boolean(session.current);
  nav.hidden = out.hidden = !on;
  document.getElementById("nav-health").hidden = !allowed("operations");
  who.textContent = on ? `${session.current.appId} · node ${session.current.node}` : "";
  for (const link of nav.querySelectorAll("a")) {
    link.toggleAttribute("aria-current", location.hash.startsWith(link.getAttribute("href")));
  }
}

async function route() {
  leave();
  leave = () => {};
  if (!session.current && !(await loadSession())) {
    chrome();
    loginPage();
    return;
  }
  chrome();
  const hash = location.hash || "#/calls";
  const loggedOut = () => { session.current = null; chrome(); loginPage("Your session ended: log in again."); };
  if (hash.startsWith("#/call/")) {
    const key = decodeURIComponent(hash.slice("#/call/".length));
    leave = callPage(main, key, loggedOut);
  } else if (hash.startsWith("#/health")) {
    leave = healthPage(main, loggedOut);
  } else {
    leave = callsPage(main, loggedOut);
  }
  main.focus({ preventScroll: true });
}

document.getElementById("logout").addEventListener("click", async () => {
  leave();
  leave = () => {};
  await logout().catch(() => {});
  chrome();
  loginPage();
});
window.addEventListener("hashchange", route);
// the cookie is renewed by use: a page left open keeps its session while the tab lives
setInterval(() => { if (session.current) loadSession().catch(() => {}); }, 60000);
route();
