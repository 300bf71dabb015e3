// What the server did on the platforms' side: subscribe messages (queued, sent, failed with
// the platform's errcode), what each app's message push delivered, content checks, mini
// program codes, and the server's health.
import { api } from "/_/api.js";
import { h } from "/_/dom.js";
import { t } from "/_/i18n.js";

const TABS = [["messages", "#/activity"], ["push", "#/activity/push"], ["contentChecks", "#/activity/content"],
  ["qrcodes", "#/activity/qrcodes"], ["health", "#/activity/health"]];

export function activityTabs(current) {
  return h("p", { class: "filters tabs" }, TABS.map(([key, href]) =>
    h("a", { href, class: key === current ? "current" : "", "aria-current": key === current ? "page" : undefined }, t(key))));
}

/** A table of rows: `columns` are [heading, (row) => cell]; rows carry data-id. */
export function table(id, columns, rows) {
  return h("div", { class: "scroll" }, h("table", { id },
    h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", { scope: "col" }, heading)))),
    h("tbody", {}, rows.map((row) => h("tr", { dataset: { id: row.id ?? "", state: row.state ?? "" } },
      columns.map(([, cell]) => h("td", {}, cell(row) ?? ""))))),
  ));
}

function pager(page, base, params) {
  const next = new URLSearchParams(params);
  if (page.next_before) next.set("before", page.next_before);
  return h("p", { class: "pager" },
    params.get("before") && h("a", { href: base }, t("first")),
    page.next_before && h("a", { href: `${base}?${next}`, id: "next" }, t("next")));
}

const MESSAGE_STATES = ["queued", "sent", "failed"];

export async function messagesView(params) {
  const query = new URLSearchParams({ limit: "30" });
  for (const key of ["state", "user", "before"]) if (params.get(key)) query.set(key, params.get(key));
  const page = await api("GET", `/api/admin/messages?${query}`);
  const state = params.get("state") ?? "";
  return h("section", {},
    h("h1", {}, t("activity")),
    activityTabs("messages"),
    h("p", { class: "filters" },
      h("a", { href: "#/activity", class: state ? "" : "current" }, t("all")),
      MESSAGE_STATES.map((s) => h("a", { href: `#/activity?state=${s}`, class: s === state ? "current" : "" }, s))),
    page.items.length === 0 ? h("p", { class: "muted" }, t("nothingYet")) : table("messages", [
      ["created", (m) => m.created], ["state", (m) => h("span", { class: `tag state-${m.state}` }, m.state)],
      ["platform", (m) => `${m.platform} · ${m.appid}`], ["user", (m) => m.user],
      ["template_id", (m) => m.template_id], ["page", (m) => m.page],
      ["errcode", (m) => (m.errcode == null ? "" : String(m.errcode))],
      ["last_error", (m) => h("span", { class: "error-text" }, m.last_error ?? "")],
    ], page.items),
    pager(page, "#/activity", params),
  );
}

/** Message push is per WeChat app: the app is chosen from the registered ones. */
export async function pushView(params) {
  const answer = await api("GET", "/api/admin/apps");
  const apps = (answer.items ?? answer).filter((app) => app.platform === "wechat");
  const appid = params.get("app") ?? apps[0]?.appid;
  let page = { items: [], next_before: null };
  if (appid) {
    const query = new URLSearchParams({ limit: "30" });
    if (params.get("before")) query.set("before", params.get("before"));
    page = await api("GET", `/api/admin/push/wechat/${encodeURIComponent(appid)}/messages?${query}`);
  }
  return h("section", {},
    h("h1", {}, t("activity")),
    activityTabs("push"),
    h("p", { class: "filters" }, apps.map((app) =>
      h("a", { href: `#/activity/push?app=${encodeURIComponent(app.appid)}`, class: app.appid === appid ? "current" : "" }, app.name || app.appid))),
    page.items.length === 0 ? h("p", { class: "muted" }, t("nothingYet")) : table("pushes", [
      ["received", (m) => m.received], ["msg_type", (m) => m.msg_type], ["event", (m) => m.event],
      ["from_user", (m) => m.from_user], ["format", (m) => `${m.format}${m.encrypted ? " · aes" : ""}`],
      ["fields", (m) => h("code", { class: "detail" }, JSON.stringify(m.fields))],
    ], page.items),
    appid && pager(page, `#/activity/push`, params),
  );
}
