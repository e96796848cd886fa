// The console's API: the session (HttpOnly cookie, CSRF token in memory) and JSON requests.

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = { current: null };

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session.current) headers["X-CSRF-Token"] = session.current.csrfToken;
  const response = await fetch(`/console/api/${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error || {};
    throw new ApiFailure(response.status, error.code || String(response.status), error.message || response.statusText);
  }
  return answer;
}

export async function loadSession() {
  const answer = await call("GET", "session");
  session.current = answer.loggedIn ? answer : null;
  return session.current;
}

export async function login(appId, secret) {
  session.current = await call("POST", "login", { appId, secret });
  return session.current;
}

export async function logout() {
  try {
    await call("POST", "logout");
  } finally {
    session.current = null;
  }
}

export function allowed(scope) {
  return Boolean(session.current && session.current.scopes.includes(scope));
}

export const post = (path, body) => call("POST", path, body);
export const get = (path) => call("GET", path);

// The live feed: server-sent events; `expired` or a refused reconnect sends the page back to the login.
export function feed(query, handlers, onLoggedOut) {
  const source = new EventSource(`/console/api/events${query}`);
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
  }
  const recheck = async () => {
    source.close();
    if (await loadSession()) handlers.reconnect();
    else onLoggedOut();
  };
  source.addEventListener("expired", recheck);
  source.addEventListener("reset", () => { source.close(); handlers.reconnect(); });
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) recheck(); };
  return source;
}
