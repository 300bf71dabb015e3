// Payments: orders (newest first, by state or buyer) with their refunds and everything that
// happened to them; a refund from the page; what reconciliation is doing; the reports the
// server refused; WeChat Pay merchants (keys write-only).
import { api } from "/_/api.js";
import { h, show } from "/_/dom.js";
import { t } from "/_/i18n.js";
import { attempt, confirmButton, notice, reload } from "/_/views_ops.js";

const ORDER_STATES = ["created", "paid", "refunding", "refunded", "closed"];

export function yuan(fen) {
  return `¥${(fen / 100).toFixed(2)}`;
}

function tabs(current) {
  return h("p", { class: "filters tabs" },
    [["orders", "#/payments"], ["reconciliation", "#/payments/reconciliation"],
      ["rejected", "#/payments/rejected"], ["merchants", "#/payments/merchants"]].map(([key, href]) =>
      h("a", { href, class: key === current ? "current" : "", "aria-current": key === current ? "page" : undefined }, t(key))),
  );
}

function ordersTable(orders) {
  return h("div", { class: "scroll" }, h("table", { id: "orders" },
    h("thead", {}, h("tr", {}, ["id", "product", "user", "amount", "refunded", "state", "provider", "paid_at"]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, orders.map((order) => h("tr", { dataset: { id: order.id, state: order.state } },
      h("td", {}, h("a", { href: `#/payments/orders/${encodeURIComponent(order.id)}` }, order.id)),
      h("td", {}, order.product), h("td", {}, order.user),
      h("td", {}, yuan(order.amount)), h("td", {}, order.refunded ? yuan(order.refunded) : ""),
      h("td", {}, h("span", { class: `tag state-${order.state}` }, order.state)),
      h("td", {}, order.provider), h("td", {}, order.paid_at ?? ""),
    ))),
  ));
}

export async function ordersView(params) {
  const state = params.get("state") ?? "";
  const query = new URLSearchParams({ limit: "30" });
  for (const key of ["state", "user", "before"]) if (params.get(key)) query.set(key, params.get(key));
  const page = await api("GET", `/api/admin/pay/orders?${query}`);
  const user = h("input", { id: "order-user", value: params.get("user") ?? "", placeholder: t("userId"), "aria-label": t("userId") });
  const go = (changes) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) if (value) next.set(key, value); else next.delete(key);
    location.hash = `#/payments?${next}`;
  };
  return h("section", {},
    h("h1", {}, t("payments")),
    tabs("orders"),
    h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); go({ user: user.value.trim(), before: "" }); } },
      h("a", { href: "#/payments", class: state ? "" : "current" }, t("all")),
      ORDER_STATES.map((s) => h("a", { href: `#/payments?state=${s}`, class: s === state ? "current" : "" }, s)),
      user, h("button", { type: "submit" }, t("search")),
    ),
    page.items.length ? ordersTable(page.items) : h("p", { class: "muted" }, t("noOrders")),
    h("p", { class: "pager" },
      params.get("before") && h("button", { type: "button", class: "plain", onclick: () => go({ before: "" }) }, t("first")),
      page.next_before && h("button", { type: "button", id: "next", onclick: () => go({ before: page.next_before }) }, t("next")),
    ),
  );
}

function eventsTable(events, id) {
  return h("div", { class: "scroll" }, h("table", { id },
    h("thead", {}, h("tr", {}, ["created", "kind", "order", "detail"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, events.map((event) => h("tr", { dataset: { kind: event.kind } },
      h("td", {}, event.created), h("td", {}, event.kind),
      h("td", {}, event.order ? h("a", { href: `#/payments/orders/${encodeURIComponent(event.order)}` }, event.order) : "—"),
      h("td", { class: "detail" }, h("code", {}, JSON.stringify(event.detail))),
    ))),
  ));
}

export async function orderView(id) {
  const path = `/api/admin/pay/orders/${encodeURIComponent(id)}`;
  const { order, refunds, events } = await api("GET", path);
  const problem = h("div", { id: "order-problem" });
  const refundable = order.amount - order.refunded - refunds.filter((r) => r.state === "requested").reduce((s, r) => s + r.amount, 0);
  const amount = h("input", { id: "refund-amount", type: "number", min: "0.01", step: "0.01", value: (refundable / 100).toFixed(2), "aria-label": t("refundAmount") });
  const reason = h("input", { id: "refund-reason", maxlength: "80", placeholder: t("refundReason"), "aria-label": t("refundReason") });
  const fen = () => Math.round(Number.parseFloat(amount.value) * 100);
  return h("section", {},
    h("h1", {}, h("a", { href: "#/payments" }, t("payments")), " / ", order.id),
    h("dl", { class: "facts", id: "order" },
      [["state", h("span", { class: `tag state-${order.state}` }, order.state)], ["product", order.product],
        ["description", order.description], ["user", order.user], ["amount", yuan(order.amount)],
        ["refunded", yuan(order.refunded)], ["provider", `${order.provider} · ${order.appid}`],
        ["out_trade_no", order.out_trade_no], ["provider_trade_no", order.provider_trade_no ?? "—"],
        ["paid_at", order.paid_at ?? "—"], ["expires_at", order.expires_at]]
        .map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { fact: k } }, v)]),
    ),
    order.state === "created" && h("button", { type: "button", id: "sync-order", class: "plain", onclick: () => attempt(problem, async () => {
      await api("POST", `${path}/sync`);
      reload();
    }) }, t("askProvider")),
    ["paid", "refunding"].includes(order.state) && refundable > 0 && h("form", { class: "filters", id: "refund-form", onsubmit: (event) => event.preventDefault() },
      h("label", { for: "refund-amount" }, `${t("refundAmount")} (≤ ${yuan(refundable)})`), amount, reason,
      confirmButton(t("refund"), () => t("confirmRefund", { amount: yuan(fen() || 0) }), () => attempt(problem, async () => {
        const body = { amount: fen() };
        if (reason.value.trim()) body.reason = reason.value.trim();
        await api("POST", `${path}/refunds`, { body });
        reload();
      }), "refund"),
    ),
    problem,
    h("h2", {}, t("refunds")),
    refunds.length === 0 ? h("p", { class: "muted" }, "—") : h("div", { class: "scroll" }, h("table", { id: "refunds" },
      h("thead", {}, h("tr", {}, ["id", "amount", "reason", "state"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, refunds.map((refund) => h("tr", { dataset: { state: refund.state } },
        h("td", {}, refund.id), h("td", {}, yuan(refund.amount)), h("td", {}, refund.reason ?? ""), h("td", {}, refund.state)))),
    )),
    h("h2", {}, t("history")),
    eventsTable(events, "order-events"),
  );
}

/** Refused reports: forged, tampered, stale or unknown notifications the server would not take. */
export async function rejectedView(params) {
  const query = new URLSearchParams({ kind: "rejected", limit: "50" });
  if (params.get("before")) query.set("before", params.get("before"));
  const page = await api("GET", `/api/admin/pay/events?${query}`);
  return h("section", {},
    h("h1", {}, t("payments")),
    tabs("rejected"),
    h("p", { class: "muted" }, t("rejectedHelp")),
    page.items.length ? eventsTable(page.items, "rejected") : h("p", { class: "muted" }, t("noneRejected")),
    page.next_before && h("p", { class: "pager" }, h("a", { href: `#/payments/rejected?before=${encodeURIComponent(page.next_before)}` }, t("next"))),
  );
}

/** Reconciliation asks the providers about orders and refunds no notification settled: its
 * runs (the pay.reconcile job), what it is still waiting on, and what it settled. */
export async function reconciliationView() {
  const [settled, runs, waiting, refunding] = await Promise.all([
    api("GET", "/api/admin/pay/events?source=reconcile&limit=30"),
    api("GET", "/api/admin/jobs?name=pay.reconcile&limit=10"),
    api("GET", "/api/admin/pay/orders?state=created&limit=20"),
    api("GET", "/api/admin/pay/orders?state=refunding&limit=20"),
  ]);
  return h("section", {},
    h("h1", {}, t("payments")),
    tabs("reconciliation"),
    h("p", { class: "muted" }, t("reconcileHelp")),
    h("h2", {}, t("reconcileSettled")),
    settled.items.length ? eventsTable(settled.items, "reconciled") : h("p", { class: "muted" }, t("nothingYet")),
    h("h2", {}, t("reconcileRuns")),
    runs.items.length === 0 ? h("p", { class: "muted" }, t("noRuns")) : h("div", { class: "scroll" }, h("table", { id: "reconcile-runs" },
      h("thead", {}, h("tr", {}, ["id", "state", "attempts", "finished_at", "last_error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, runs.items.map((job) => h("tr", {},
        h("td", {}, job.id), h("td", {}, job.state), h("td", {}, String(job.attempts)),
        h("td", {}, job.finished_at ?? ""), h("td", { class: "error-text" }, job.last_error ?? "")))),
    )),
    h("h2", {}, t("awaitingPayment")),
    waiting.items.length ? ordersTable(waiting.items) : h("p", { class: "muted" }, "—"),
    h("h2", {}, t("awaitingRefund")),
    refunding.items.length ? ordersTable(refunding.items) : h("p", { class: "muted" }, "—"),
  );
}

const MERCHANT_KEYS = [["private_key", "textarea"], ["api_v3_key", "password"]];

/** WeChat Pay merchants: registered and changed here; their keys go in and never come out. */
export async function merchantsView() {
  const answer = await api("GET", "/api/admin/pay/merchants");
  const merchants = answer.items ?? answer;
  const problem = h("div");
  const field = (name, props = {}) => h("input", { id: `merchant-${name}`, name, "aria-label": name, placeholder: name, ...props });
  const mchid = field("mchid", { required: true, inputmode: "numeric" });
  const name = field("name");
  const appids = field("appids", { placeholder: "wx..., wx..." });
  const serial = field("serial_no");
  const keys = MERCHANT_KEYS.map(([key, kind]) => kind === "textarea"
    ? h("textarea", { id: `merchant-${key}`, rows: 3, "aria-label": key, placeholder: `${key} (PEM)`, autocomplete: "off", spellcheck: "false" })
    : field(key, { type: "password", autocomplete: "off" }));
  return h("section", {},
    h("h1", {}, t("payments")),
    tabs("merchants"),
    h("div", { class: "scroll" }, h("table", { id: "merchants" },
      h("thead", {}, h("tr", {}, ["mchid", "name", "appids", "serial_no", "platform_serials", "private_key", "api_v3_key", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, merchants.map((m) => h("tr", { dataset: { mchid: m.mchid } },
        h("td", {}, m.mchid), h("td", {}, m.name ?? ""), h("td", {}, (m.appids ?? []).join(", ")),
        h("td", {}, m.serial_no ?? ""), h("td", {}, (m.platform_serials ?? []).join(", ")),
        h("td", {}, m.has_private_key ? t("isSet") : "—"), h("td", {}, m.has_api_v3_key ? t("isSet") : "—"),
        h("td", {}, confirmButton(t("remove"), t("confirmRemoveMerchant", { mchid: m.mchid }), () => attempt(problem, async () => {
          await api("DELETE", `/api/admin/pay/merchants/${encodeURIComponent(m.mchid)}`);
          reload();
        }), "remove-merchant"))))),
    )),
    h("form", { class: "stack", id: "merchant-form", onsubmit: (event) => {
      event.preventDefault();
      attempt(problem, async () => {
        const body = { mchid: mchid.value.trim() };
        if (name.value.trim()) body.name = name.value.trim();
        if (appids.value.trim()) body.appids = appids.value.split(",").map((a) => a.trim()).filter(Boolean);
        if (serial.value.trim()) body.serial_no = serial.value.trim();
        MERCHANT_KEYS.forEach(([key], i) => { if (keys[i].value) body[key] = keys[i].value; });
        const known = merchants.some((m) => m.mchid === body.mchid);
        if (known) await api("PATCH", `/api/admin/pay/merchants/${encodeURIComponent(body.mchid)}`, { body });
        else await api("POST", "/api/admin/pay/merchants", { body });
        reload();
      });
    } },
      h("h2", {}, t("registerMerchant")),
      mchid, name, appids, serial, ...keys,
      h("button", { type: "submit" }, t("registerApp")),
      h("p", { class: "muted" }, t("secretsWriteOnly")),
    ),
    problem,
  );
}
