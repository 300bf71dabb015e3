// What the server did on the platforms' side: subscribe messages (queued, sent, failed with
// the platform's errcode), what each app's message push delivered, content checks, mini
// program codes, and the server's health.
import { api } from "/_/api.js";
import { h } from "/_/dom.js";
import { t } from "/_/i18n.js";
import { attempt, reload } from "/_/views_ops.js";

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

const CHECK_STATES = ["pending", "pass", "review", "risky"];

/** Media the platforms checked (text checks are answered at once and never kept). */
export async function contentView(params) {
  const query = new URLSearchParams({ limit: "30" });
  for (const key of ["state", "before"]) if (params.get(key)) query.set(key, params.get(key));
  const page = await api("GET", `/api/admin/content/media-checks?${query}`);
  const state = params.get("state") ?? "";
  return h("section", {},
    h("h1", {}, t("activity")),
    activityTabs("contentChecks"),
    h("p", { class: "muted" }, t("contentHelp")),
    h("p", { class: "filters" },
      h("a", { href: "#/activity/content", class: state ? "" : "current" }, t("all")),
      CHECK_STATES.map((s) => h("a", { href: `#/activity/content?state=${s}`, class: s === state ? "current" : "" }, s))),
    page.items.length === 0 ? h("p", { class: "muted" }, t("nothingYet")) : table("media-checks", [
      ["created", (c) => c.created], ["state", (c) => h("span", { class: `tag state-${c.state}` }, c.state)],
      ["platform", (c) => `${c.platform} · ${c.appid}`], ["user", (c) => c.user],
      ["media", (c) => `${c.media_type} · ${c.media_url}`],
      ["label", (c) => [c.label, c.label_name].filter((v) => v != null).join(" ")],
      ["checked_at", (c) => c.checked_at],
    ], page.items.map((c) => ({ ...c, id: c.trace_id }))),
    pager(page, "#/activity/content", params),
  );
}

/** An admin-only image: fetched with the token, shown from memory (a blob: URL). */
async function privateImage(path, alt) {
  const image = h("img", { class: "code", alt, width: 120, height: 120 });
  const blob = await api("GET", path, { blob: true });
  image.src = URL.createObjectURL(blob);
  return image;
}

export async function qrcodesView(params) {
  const query = new URLSearchParams({ limit: "12" });
  if (params.get("before")) query.set("before", params.get("before"));
  const [page, apps] = await Promise.all([api("GET", `/api/admin/qrcodes?${query}`), api("GET", "/api/admin/apps")]);
  const wechat = (apps.items ?? apps).filter((app) => app.platform === "wechat");
  const problem = h("div");
  const appid = h("select", { id: "code-appid", "aria-label": "appid" }, wechat.map((app) => h("option", { value: app.appid }, app.appid)));
  const scene = h("input", { id: "code-scene", placeholder: "scene (id=42)", "aria-label": "scene", maxlength: 32, required: true });
  const target = h("input", { id: "code-page", placeholder: "pages/index/index", "aria-label": "page" });
  const checkPath = h("input", { type: "checkbox", id: "code-check-path", checked: true });
  const version = h("select", { id: "code-env", "aria-label": "env_version" }, ["release", "trial", "develop"].map((v) => h("option", { value: v }, v)));
  const images = await Promise.all(page.items.map((code) => privateImage(code.url, code.scene)));
  return h("section", {},
    h("h1", {}, t("activity")),
    activityTabs("qrcodes"),
    h("form", { class: "filters", id: "make-code", onsubmit: (event) => {
      event.preventDefault();
      attempt(problem, async () => {
        const body = { appid: appid.value, scene: scene.value.trim() };
        if (target.value.trim()) body.page = target.value.trim();
        body.check_path = checkPath.checked;
        body.env_version = version.value;
        await api("POST", "/api/admin/qrcodes", { body, blob: true });
        reload();
      });
    } }, appid, scene, target, version, h("label", { class: "inline" }, checkPath, ` ${t("checkPath")}`),
      h("button", { type: "submit" }, t("makeCode"))),
    problem,
    page.items.length === 0 ? h("p", { class: "muted" }, t("nothingYet")) : h("ul", { class: "codes", id: "qrcodes" },
      page.items.map((code, i) => h("li", { dataset: { id: code.id } }, images[i],
        h("div", {}, h("strong", {}, code.scene)),
        h("div", { class: "muted" }, `${code.appid} · ${code.page ?? t("homePage")} · ${code.env_version} · ${code.width}px`),
        h("div", { class: "muted" }, code.created)))),
    pager(page, "#/activity/qrcodes", params),
  );
}

function facts(id, pairs) {
  return h("dl", { class: "facts", id }, pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { fact: k } }, v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v))]));
}

export async function healthView() {
  const report = await api("GET", "/api/admin/health");
  const { database, cache, storage, jobs, scheduler, messages } = report;  // realtime: this instance's
  return h("section", {},
    h("h1", {}, t("activity")),
    activityTabs("health"),
    h("p", {}, h("span", { id: "health-status", class: `tag ${report.status === "ok" ? "" : "bad"}` }, report.status),
      " ", t("healthSummary", { version: report.version, uptime: Math.round(report.uptime_seconds) })),
    h("h2", {}, t("database")),
    facts("health-database", [["engine", database.engine], ["location", database.location], ["reachable", database.reachable],
      ["round trip (ms)", database.round_trip_ms], ["schema", database.schema]]),
    h("h2", {}, t("cacheStore")),
    facts("health-cache", [["kind", cache.kind], ["location", cache.location], ["reachable", cache.reachable], ["round trip (ms)", cache.round_trip_ms]]),
    h("h2", {}, t("storage")),
    facts("health-storage", Object.entries(storage)),
    h("h2", {}, t("jobs")),
    facts("health-jobs", [["runs here", jobs.runs_here], ...Object.entries(jobs.counts ?? {}),
      ["oldest due (s)", jobs.oldest_due_seconds], ["scheduler last looked", scheduler.last_looked]]),
    messages && h("h2", {}, t("messages")),
    messages && facts("health-messages", Object.entries(messages)),
    report.realtime && h("h2", {}, t("realtime")),
    report.realtime && facts("health-realtime", Object.entries(report.realtime)),
  );
}
