// What the shop and the console share: the signed-in token, API calls whose
// every failure becomes a sentence for people, a Server-Sent Events reader
// that sends the token (EventSource cannot), and a few DOM helpers.

const STATUS_WORDS = {
  400: "The request was not accepted",
  401: "You are not signed in, or your token has expired",
  403: "Your token does not allow this",
  404: "Not found",
  409: "That cannot be done now",
  415: "The request was not understood",
  429: "Too many requests; wait a moment and try again",
  503: "The service is busy or starting; try again shortly",
};

export class ApiError extends Error {
  constructor(status, body) {
    const message = body && typeof body.message === "string" ? body.message : "";
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.fields = (body && Array.isArray(body.fields)) ? body.fields : [];
  }
}

/** The token of this page's person, kept for the tab only. */
export function session(page) {
  const key = `orderflow.${page}.token`;
  return {
    get token() { return sessionStorage.getItem(key); },
    set token(value) {
      if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key);
    },
  };
}

/** Calls an /api/v1 route; the JSON answer, or an ApiError. */
export async function api(token, method, path, body = undefined, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}

/** A readable sentence for any failure: never raw JSON, never nothing. */
export function describeError(error) {
  if (error instanceof ApiError) {
    const lead = STATUS_WORDS[error.status] || `The request failed (HTTP ${error.status})`;
    const detail = error.message && !error.message.startsWith("HTTP ") ? `: ${error.message}` : ".";
    const fields = error.fields.map((f) => ` ${f.field}: ${f.problem}.`).join("");
    return `${lead}${detail}${fields}`;
  }
  if (error instanceof TypeError) return "The gateway could not be reached; check the connection and try again.";
  return error && error.message ? error.message : `Something went wrong: ${error}`;
}

export function showError(region, error) {
  region.textContent = describeError(error);
  region.hidden = false;
}

export function showNotice(region, text) {
  region.textContent = text;
  region.hidden = !text;
}

/** Yields each Server-Sent Event ({event, data}) of ``path`` until the stream ends or ``signal`` aborts. */
export async function* serverEvents(token, path, signal) {
  const response = await fetch(path, {
    headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` }, signal,
  });
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    throw new ApiError(response.status, body);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event.event = line.slice(6).trim();
        else if (line.startsWith("data:")) event.data += line.slice(5).trim();
      }
      if (event.data) yield { event: event.event, data: JSON.parse(event.data) };
    }
  }
}

/** An element with attributes (``on*`` are listeners) and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function money(value, currency) {
  if (value === null || value === undefined) return "—";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(value);
  } catch {
    return `${Number(value).toFixed(2)} ${currency || ""}`.trim();
  }
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** Fills the ``name``-page, -prev and -next controls of a paged list. */
export function pager(name, pagination, perPage) {
  const pages = Math.max(1, Math.ceil(pagination.total / perPage));
  document.getElementById(`${name}-page`).textContent = `Page ${pagination.page} of ${pages}`;
  document.getElementById(`${name}-prev`).disabled = pagination.page <= 1;
  document.getElementById(`${name}-next`).disabled = pagination.page >= pages;
}

/** Says, under a list merged from every worker, when some did not answer. */
export function partial(note, unanswered) {
  showNotice(note, unanswered && unanswered.length
    ? "Some entries may be missing: a worker did not answer (it may be restarting). They come back on their own."
    : "");
}

/** A status as a badge whose class the style sheet colours (the text says it too). */
export function badge(status) {
  return el("span", { class: `badge status-${status}` }, String(status).replaceAll("_", " "));
}

/** Wires a sign-in form: ``onSignedIn(me)`` once the token is accepted by GET /api/v1/me. */
export function signIn({ form, input, region, store, accept, onSignedIn }) {
  async function tryToken(token) {
    const { data } = await api(token, "GET", "/api/v1/me");
    const refusal = accept(data);
    if (refusal) throw new Error(refusal);
    store.token = token;
    onSignedIn(data, token);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    region.hidden = true;
    try {
      await tryToken(input.value.trim());
      input.value = "";
    } catch (error) {
      store.token = null;
      showError(region, error);
    }
  });
  if (store.token) tryToken(store.token).catch(() => { store.token = null; });
}
