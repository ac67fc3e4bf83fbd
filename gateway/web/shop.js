// The customer page: sign in with a customer token, browse products, place an
// order of several lines, watch it move live (the order's Server-Sent Events),
// see its history, payment and shipment, cancel while allowed, page through
// one's own orders. Everything comes from the /api/v1 routes.
import {
  api, badge, el, money, pager, partial, serverEvents, session, showError, showNotice, signIn, when,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const store = session("shop");
const PRODUCTS_PER_PAGE = 10;
const ORDERS_PER_PAGE = 5;
const PRODUCTS_EVERY_MS = 5000;
const UNDONE = new Set(["rejected", "payment_failed", "cancelled"]);
const SETTLE_TRIES = 30;
const SETTLE_EVERY_MS = 2000;
const BETWEEN_EVENTS_MS = 3000;  // availability changes as others order and operators restock
// Where a cancel may still be asked for (the gateway refuses it once the parcel is picked up).
const CANCELLABLE = new Set(["pending", "pending_payment", "confirmed"]);
const state = { token: null, customerId: null, productPage: 1, orderPage: 1, watched: null, orderId: null };

const fail = (error) => showError($("error"), error);
const say = (text) => showNotice($("notice"), text);

function quiet() {
  $("error").hidden = true;
  $("notice").hidden = true;
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function productRow(product) {
  const input = el("input", {
    id: `qty-${product.productId}`, type: "number", min: 0, value: 0, inputmode: "numeric",
    "aria-label": `Quantity of ${product.productId}`, "data-product-id": product.productId,
  });
  const row = el("tr", { "data-product": product.productId },
    el("th", { scope: "row" }, product.productId), el("td"), el("td"), el("td", {}, input));
  showProduct(row, product);
  return row;
}

// Fills a product's row in place, so a refresh keeps what is typed and where the focus is.
function showProduct(row, product) {
  row.cells[1].textContent = money(product.price, product.currency);
  const stock = row.cells[2];
  stock.className = product.inStock ? "available" : "out";
  stock.dataset.available = product.available;
  stock.textContent = product.inStock ? String(product.available) : "Out of stock";
  row.querySelector("input").disabled = !product.inStock;
}

async function loadProducts() {
  try {
    const { data } = await api(state.token, "GET",
      `/api/v1/products?page=${state.productPage}&limit=${PRODUCTS_PER_PAGE}`);
    const body = $("products").tBodies[0];
    const shown = [...body.rows].map((row) => row.dataset.product);
    if (shown.join("\n") === data.products.map((p) => p.productId).join("\n")) {
      data.products.forEach((product, i) => showProduct(body.rows[i], product));
    } else {
      const rows = data.products.map(productRow);
      body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4 }, "No products yet."))]));
    }
    pager("products", data.pagination, PRODUCTS_PER_PAGE);
    partial($("products-note"), data.unanswered);
  } catch (error) {
    fail(error);
  }
}

async function loadOrders() {
  try {
    const { data } = await api(state.token, "GET",
      `/api/v1/customers/${encodeURIComponent(state.customerId)}/orders?page=${state.orderPage}&limit=${ORDERS_PER_PAGE}`);
    const rows = data.orders.map((order) => el("tr", { "data-order": order.orderId },
      el("th", { scope: "row" }, order.orderId),
      el("td", {}, badge(order.status)),
      el("td", {}, money(order.totalAmount, order.currency)),
      el("td", {}, when(order.createdAt)),
      el("td", {}, el("button", { type: "button", onclick: () => watch(order.orderId) },
        "Track", el("span", { class: "visually-hidden" }, ` order ${order.orderId}`)))));
    $("my-orders").tBodies[0].replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5 }, "No orders yet."))]));
    pager("orders", data.pagination, ORDERS_PER_PAGE);
  } catch (error) {
    fail(error);
  }
}

function facts(list, pairs) {
  list.replaceChildren(...pairs.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

async function paymentOf(orderId) {
  try {
    return (await api(state.token, "GET", `/api/v1/orders/${encodeURIComponent(orderId)}/payment`)).data;
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function renderPayment(payment) {
  const box = $("order-payment");
  if (!payment) {
    box.replaceChildren(el("p", {}, "No payment yet."));
    return;
  }
  const list = el("dl", { class: "facts" });
  facts(list, [
    ["Status", badge(payment.status)],
    ["Amount", money(payment.amount, payment.currency)],
    ["Captured", money(payment.capturedAmount, payment.currency)],
    ["Refunded", money(payment.refundedAmount, payment.currency)],
    ["Card", payment.paymentMethod ? `ending ${payment.paymentMethod.last4}` : "—"],
    ...(payment.error ? [["Declined", payment.error.message || payment.error.code]] : []),
  ]);
  box.replaceChildren(list);
}

function renderShipment(order) {
  const box = $("order-shipment");
  if (order.shippingStatus === "none") {
    box.replaceChildren(el("p", {}, "Not shipped yet."));
    return;
  }
  const list = el("dl", { class: "facts" });
  facts(list, [
    ["Status", badge(order.shippingStatus)],
    ["Carrier", order.carrier || "—"],
    ["Tracking number", order.trackingNumber || "—"],
    ["Estimated delivery", order.estimatedDelivery || "—"],
  ]);
  box.replaceChildren(list);
}

function renderOrder(order) {
  $("order-status").replaceChildren(badge(order.status));
  $("order").dataset.status = order.status;
  facts($("order-facts"), [
    ["Total", money(order.totalAmount, order.currency)],
    ["Payment", order.paymentStatus.replaceAll("_", " ")],
    ["Shipping", order.shippingStatus.replaceAll("_", " ")],
    ["Placed", when(order.createdAt)],
    ["Updated", when(order.updatedAt)],
  ]);
  $("order-items").replaceChildren(...order.items.map((item) => el("li", {},
    `${item.quantity} × ${item.productId} at ${money(item.unitPrice, order.currency)} `,
    badge(item.status), item.reason ? ` (${item.reason})` : "")));
  $("order-history").replaceChildren(...order.statusHistory.map((change) => el("li", {},
    badge(change.status), ` ${when(change.at)}`, change.reason ? `: ${change.reason}` : "")));
  renderShipment(order);
  $("cancel-order").hidden = !CANCELLABLE.has(order.status) || order.cancelRequested
    || !["none", "processing"].includes(order.shippingStatus);
}

async function refresh(orderId) {
  const { data: order } = await api(state.token, "GET", `/api/v1/orders/${encodeURIComponent(orderId)}`);
  const payment = await paymentOf(orderId);
  if (state.orderId !== orderId) return { order, payment };
  renderOrder(order);
  renderPayment(payment);
  return { order, payment };
}

const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// An order that ended undone still has its captured payment refunded after its last status:
// keep showing the payment until the refund is there (or a minute has passed).
async function settle(orderId, signal) {
  for (let i = 0; i < SETTLE_TRIES && !signal.aborted; i += 1) {
    const { order, payment } = await refresh(orderId);
    if (!UNDONE.has(order.status) || !payment || payment.status !== "captured") return;
    await pause(SETTLE_EVERY_MS);
  }
}

async function follow(orderId, signal) {
  let retries = 0;
  while (!signal.aborted) {
    try {
      await refresh(orderId).catch((error) => { if (error.status !== 404) throw error; });
      const path = `/api/v1/orders/${encodeURIComponent(orderId)}/events`;
      for await (const change of serverEvents(state.token, path, signal)) {
        retries = 0;
        if (change.event === "status") {
          await refresh(orderId);
          loadOrders();
        }
      }
      await settle(orderId, signal);  // the stream ends with the order
      loadProducts();
      loadOrders();
      return;
    } catch (error) {
      if (signal.aborted) return;
      retries += 1;
      // 404: placed a moment ago, not written yet; otherwise a dropped stream
      if (retries > 5) {
        fail(error);
        return;
      }
      await pause(1000);
    }
  }
}

async function watch(orderId) {
  if (state.watched) state.watched.abort();
  const watched = new AbortController();
  Object.assign(state, { watched, orderId });
  quiet();
  $("order").hidden = false;
  $("order-id").textContent = orderId;
  $("order-status").textContent = "looking it up…";
  // the shipment moves (booked, in transit) without a status of the order's own: look again now and then
  // (the list of one's orders is kept by another stage, a moment behind: it is looked at again too)
  const between = setInterval(() => {
    if (!document.hidden) refresh(orderId).then(loadOrders).catch(() => {});
  }, BETWEEN_EVENTS_MS);
  try {
    await follow(orderId, watched.signal);
  } finally {
    clearInterval(between);
  }
}

async function placeOrder(event) {
  event.preventDefault();
  quiet();
  const items = [...document.querySelectorAll("#products input[type=number]")]
    .map((input) => ({ productId: input.dataset.productId, quantity: Number(input.value) }))
    .filter((line) => line.quantity > 0);
  if (!items.length) {
    showNotice($("error"), "Choose a quantity of at least one product first.");
    return;
  }
  if (items.some((line) => !Number.isInteger(line.quantity))) {
    showNotice($("error"), "Quantities are whole numbers.");
    return;
  }
  const button = $("place-order");
  button.disabled = true;
  try {
    const body = { customerId: state.customerId, items, paymentMethodId: $("payment-method").value.trim() };
    const { data } = await api(state.token, "POST", "/api/v1/orders", body, { "Idempotency-Key": newKey() });
    for (const input of document.querySelectorAll("#products input[type=number]")) input.value = 0;
    say(`Order ${data.orderId} placed.`);
    state.orderPage = 1;
    loadOrders();
    watch(data.orderId);
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
}

async function cancelOrder() {
  const orderId = state.orderId;
  quiet();
  try {
    const { data } = await api(state.token, "POST", `/api/v1/orders/${encodeURIComponent(orderId)}/cancel`,
      { reason: "cancelled by the customer" });
    say(data.status === "cancelled" ? `Order ${orderId} cancelled.` : `Cancelling order ${orderId}…`);
    await refresh(orderId);
  } catch (error) {
    fail(error);
  }
}

function signedIn(me, token) {
  Object.assign(state, { token, customerId: me.customerId });
  $("who").textContent = `Signed in as ${me.customerId}`;
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  $("sign-out").hidden = false;
  loadProducts();
  loadOrders();
  setInterval(() => { if (!document.hidden) loadProducts(); }, PRODUCTS_EVERY_MS);
}

signIn({
  form: $("sign-in-form"), input: $("token"), region: $("error"), store, onSignedIn: signedIn,
  accept: (me) => (me.customerId ? null : "This token is not a customer's; sign in with a customer token."),
});
$("sign-out").addEventListener("click", () => { store.token = null; window.location.reload(); });
$("order-form").addEventListener("submit", placeOrder);
$("cancel-order").addEventListener("click", cancelOrder);
$("products-prev").addEventListener("click", () => { state.productPage -= 1; loadProducts(); });
$("products-next").addEventListener("click", () => { state.productPage += 1; loadProducts(); });
$("products-refresh").addEventListener("click", () => { quiet(); loadProducts(); });
$("orders-prev").addEventListener("click", () => { state.orderPage -= 1; loadOrders(); });
$("orders-next").addEventListener("click", () => { state.orderPage += 1; loadOrders(); });
