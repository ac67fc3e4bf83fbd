// The operator page: health (the workers' readiness, consumer lag, brokers,
// dead letters waiting: `orderflow status`'s report), stock per product with
// low-stock marks, restocks and price changes, the last orders by status, and
// dead letters with a replay button. Refreshed every few seconds.
import {
  api, badge, el, money, pager, partial, session, showError, showNotice, signIn, when,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const store = session("console");
const STOCK_PER_PAGE = 20;
const REFRESH_EVERY_MS = 5000;
const state = { token: null, stockPage: 1 };

const fail = (error) => showError($("error"), error);
const say = (text) => showNotice($("notice"), text);

function quiet() {
  $("error").hidden = true;
  $("notice").hidden = true;
}

async function loadStatus() {
  try {
    const { data } = await api(state.token, "GET", "/api/v1/admin/status");
    $("healthy").textContent = data.healthy ? "healthy" : "needs attention";
    $("healthy").className = data.healthy ? "ok" : "bad";
    $("status-at").textContent = `(as of ${new Date().toLocaleTimeString()})`;
    $("workers").replaceChildren(...data.workers.map((worker) => el("li", { "data-ready": worker.ready },
      el("span", { class: worker.ready ? "ok" : "bad" }, worker.ready ? "ready" : "not ready"),
      ` ${worker.url}: ${worker.status}`)));
    const lag = Object.entries(data.lag || {});
    $("lag").tBodies[0].replaceChildren(...(lag.length ? lag.map(([topic, records]) => el("tr", {},
      el("th", { scope: "row" }, topic), el("td", { class: records > 0 ? "warn" : "" }, String(records))))
      : [el("tr", {}, el("td", { colspan: 2 }, "No committed offsets yet."))]));
    const brokers = data.brokers;
    $("brokers").textContent = brokers.reachable
      ? `${brokers.nodes.length} up; ${brokers.offline} partitions offline, ${brokers.underReplicated} under-replicated`
      : `unreachable: ${brokers.error}`;
    $("dead-letter-count").textContent = data.deadLetters ?? "—";
  } catch (error) {
    $("healthy").textContent = "unknown";
    fail(error);
  }
}

function stockRow(item) {
  const id = item.productId;
  const restock = el("form", { class: "inline", onsubmit: (event) => restockProduct(event, id) },
    el("input", { type: "number", min: 1, required: true, name: "quantity", id: `restock-${id}`,
      "aria-label": `Units to add to ${id}` }),
    el("button", { type: "submit" }, "Restock", el("span", { class: "visually-hidden" }, ` ${id}`)));
  const price = el("form", { class: "inline", onsubmit: (event) => priceProduct(event, id) },
    el("input", { type: "number", min: 0, step: "0.01", required: true, name: "price", id: `price-${id}`,
      "aria-label": `New price of ${id}` }),
    el("button", { type: "submit" }, "Set price", el("span", { class: "visually-hidden" }, ` of ${id}`)));
  return el("tr", { "data-product": id, class: `level-${item.level}` },
    el("th", { scope: "row" }, id),
    el("td", {}, String(item.onHand)), el("td", {}, String(item.reserved)),
    el("td", { "data-available": item.available }, String(item.available)),
    el("td", {}, el("span", { class: `badge level-${item.level}` },
      { ok: "ok", low: `low (under ${item.lowStockThreshold})`, out: "out of stock" }[item.level])),
    el("td", {}, money(item.price, item.currency)),
    el("td", {}, restock), el("td", {}, price));
}

async function loadStock() {
  const focused = document.activeElement && document.activeElement.closest("#stock") ? document.activeElement.id : null;
  const typed = new Map([...document.querySelectorAll("#stock input")].map((i) => [i.id, i.value]));
  try {
    const { data } = await api(state.token, "GET",
      `/api/v1/inventory?page=${state.stockPage}&limit=${STOCK_PER_PAGE}`);
    const rows = data.inventory.map(stockRow);
    $("stock").tBodies[0].replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8 }, "No products yet."))]));
    for (const [id, value] of typed) if ($(id)) $(id).value = value;  // a refresh keeps what is being typed
    if (focused && $(focused)) $(focused).focus();
    pager("stock", data.pagination, STOCK_PER_PAGE);
    partial($("stock-note"), data.unanswered);
  } catch (error) {
    fail(error);
  }
}

// A row's small form: send what was typed in its one field, say so, clear the field.
async function submitField(event, fieldName, path, bodyOf, saying) {
  event.preventDefault();
  quiet();
  const input = event.target.elements[fieldName];
  try {
    await api(state.token, "POST", path, bodyOf(input.value));
    say(saying(input.value));
    input.value = "";
  } catch (error) {
    fail(error);
  }
}

function restockProduct(event, productId) {
  return submitField(event, "quantity", `/api/v1/inventory/${encodeURIComponent(productId)}/adjustments`,
    (value) => ({ type: "restock", quantity: Number(value), reason: "restocked from the console" }),
    (value) => `Restock of ${value} × ${productId} sent.`);
}

function priceProduct(event, productId) {
  return submitField(event, "price", `/api/v1/products/${encodeURIComponent(productId)}/price`,
    (value) => ({ price: Number(value) }), (value) => `New price of ${productId} sent: ${value}.`);
}

async function loadRecentOrders() {
  try {
    const { data } = await api(state.token, "GET", "/api/v1/admin/recent-orders?limit=5");
    const groups = Object.entries(data.orders).filter(([, orders]) => orders.length);
    $("recent-orders").replaceChildren(...(groups.length ? groups.map(([status, orders]) => el("div",
      { class: "group", "data-status": status },
      el("h3", {}, badge(status), ` (${orders.length} shown)`),
      el("ul", {}, ...orders.map((order) => el("li", { "data-order": order.orderId },
        `${order.orderId}: ${money(order.totalAmount, order.currency)}, ${order.lines} line(s), `
        + `customer ${order.customerId}, ${when(order.updatedAt)}`)))))
      : [el("p", {}, "No orders yet.")]));
  } catch (error) {
    fail(error);
  }
}

async function loadDeadLetters() {
  try {
    const { data } = await api(state.token, "GET", "/api/v1/admin/dead-letters?limit=20");
    const rows = data.deadLetters.map((letter) => el("tr", { "data-position": letter.position },
      el("th", { scope: "row" }, letter.position),
      el("td", {}, when(letter.at)),
      el("td", {}, letter.source),
      el("td", {}, letter.reason),
      el("td", {}, letter.key),
      el("td", { class: "replay-of" }, letter.replayOf || "—"),
      el("td", {}, el("button", { type: "button", onclick: () => replay(letter.position) },
        "Replay", el("span", { class: "visually-hidden" }, ` dead letter ${letter.position}`)))));
    $("dead-letters").tBodies[0].replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7 }, "No dead letters."))]));
  } catch (error) {
    fail(error);
  }
}

async function replay(position) {
  quiet();
  try {
    const { data } = await api(state.token, "POST",
      `/api/v1/admin/dead-letters/${encodeURIComponent(position)}/replay`);
    const done = data.replayed[0];
    say(`Dead letter ${position} replayed to ${done.topic} (partition ${done.partition}, offset ${done.offset}).`);
    loadDeadLetters();
  } catch (error) {
    fail(error);
  }
}

function refreshAll() {
  loadStatus();
  loadStock();
  loadRecentOrders();
  loadDeadLetters();
}

function signedIn(me, token) {
  state.token = token;
  $("who").textContent = `Signed in as ${me.subject}`;
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  $("sign-out").hidden = false;
  refreshAll();
  setInterval(() => { if (!document.hidden) refreshAll(); }, REFRESH_EVERY_MS);
}

signIn({
  form: $("sign-in-form"), input: $("token"), region: $("error"), store, onSignedIn: signedIn,
  accept: (me) => (me.scopes.includes("operator") ? null : "This token has no operator scope; sign in as an operator."),
});
$("sign-out").addEventListener("click", () => { store.token = null; window.location.reload(); });
$("stock-prev").addEventListener("click", () => { state.stockPage -= 1; loadStock(); });
$("stock-next").addEventListener("click", () => { state.stockPage += 1; loadStock(); });
