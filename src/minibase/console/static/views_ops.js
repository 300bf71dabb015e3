// Users and jobs: find a user, see their identities, change roles, disable, sign them out
// everywhere; list jobs by state, retry a dead one, cancel a queued one.
import { SessionEnded, api } from "/_/api.js";
import { h, show } from "/_/dom.js";
import { t } from "/_/i18n.js";

export function notice(text, kind = "error") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** Runs an action, showing its refusal in `where`; a session that ended goes up. */
export async function attempt(where, action) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof SessionEnded) throw error;
    const problems = error.details?.problems?.map((p) => `${p.field}: ${p.message}`) ?? [];
    show(where, notice([error.message, ...problems].join(" · ")));
    return undefined;
  }
}

export function reload() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** A button whose action runs only after a second, explicit "Confirm" (keyboard: the confirm
 * button takes the focus; Escape or "Keep" goes back). */
export function confirmButton(label, question, action, name) {
  const place = h("span", { class: `confirm-place ${name}` });
  const ask = () => {
    const yes = h("button", { type: "button", class: "danger confirm", onclick: async () => { await action(); back(); } }, t("confirm"));
    const no = h("button", { type: "button", class: "plain keep", onclick: () => back() }, t("keep"));
    show(place, h("span", { class: "question", role: "alert" }, typeof question === "function" ? question() : question), " ", yes, " ", no);
    place.onkeydown = (event) => { if (event.key === "Escape") back(); };
    yes.focus();
  };
  const first = h("button", { type: "button", class: `plain ${name}`, onclick: ask }, label);
  const back = () => show(place, first);
  show(place, first);
  return place;
}

const USER_ID = /^[0-9a-z]{26}$/;

/** Users by id, phone number, or a platform identity (openid, then unionid). An id that was
 * merged into another account leads to that account, and says so. */
async function findUsers(q) {
  if (/^\+?\d{6,15}$/.test(q)) return (await api("GET", `/api/admin/users?phone=${encodeURIComponent(q)}`)).items;
  if (USER_ID.test(q)) {
    try {
      return [await api("GET", `/api/admin/users/${q}`)];
    } catch (error) {
      const into = error.details?.merged_into;
      if (!into) throw error;
      return [{ ...(await api("GET", `/api/admin/users/${into}`)), reachedFrom: q }];
    }
  }
  for (const key of ["openid", "unionid"]) {
    const page = await api("GET", `/api/admin/users?${key}=${encodeURIComponent(q)}&limit=10`);
    if (page.items.length) return Promise.all(page.items.map((user) => api("GET", `/api/admin/users/${user.id}`)));
  }
  return [];
}

export async function usersView(params) {
  const query = h("input", { id: "user-query", value: params.get("q") ?? "", placeholder: t("userQuery"), "aria-label": t("userQuery") });
  const found = h("div", { id: "users" });
  const search = async () => {
    const q = query.value.trim();
    if (!q) return;
    show(found);
    const users = await attempt(found, () => findUsers(q));
    if (!users) return;
    show(found, users.length ? users.map(userCard) : h("p", { class: "muted" }, t("noUsers")));
  };
  if (params.get("q")) queueMicrotask(search);
  return h("section", {},
    h("h1", {}, t("users")),
    h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); search(); } },
      query, h("button", { type: "submit" }, t("search"))),
    found,
  );
}

function identity(i) {
  return `${i.platform} · ${i.appid} · ${i.openid ?? i.anonymous_openid ?? ""}${i.unionid ? ` · unionid ${i.unionid}` : ""}${i.guest ? ` · ${t("guest")}` : ""}`;
}

function userCard(user) {
  const problem = h("div");
  const roles = h("input", { class: "roles", value: (user.roles ?? []).join(", "), "aria-label": t("roles") });
  const card = h("article", { class: "card user", dataset: { id: user.id } });
  const refresh = async () => {
    const again = await attempt(problem, () => api("GET", `/api/admin/users/${user.id}`));
    if (again) card.replaceWith(userCard(again));
  };
  show(card,
    h("h2", {}, user.id, user.disabled && h("span", { class: "tag bad" }, t("disabled"))),
    user.reachedFrom && h("p", { class: "notice ok merged-note" }, t("mergedNote", { id: user.reachedFrom })),
    h("p", { class: "muted" }, [user.phone, user.profile?.nickname, user.created && t("since", { when: user.created })].filter(Boolean).join(" · ")),
    h("ul", { class: "identities" }, (user.identities ?? []).map((i) => h("li", {}, identity(i)))),
    user.merged_from?.length > 0 && h("details", { class: "merges", open: true },
      h("summary", {}, t("mergeHistory", { n: user.merged_from.length })),
      h("ul", {}, user.merged_from.map((m) => h("li", { dataset: { user: m.user } },
        t("mergedFrom", { user: m.user, into: m.into, when: m.merged_at, records: m.records }),
        h("ul", { class: "identities" }, m.identities.map((i) => h("li", {}, identity(i)))))))),
    h("label", {}, t("roles"), " ", roles),
    h("p", { class: "actions" },
      h("button", { type: "button", class: "save-roles", onclick: () => attempt(problem, async () => {
        const list = roles.value.split(",").map((r) => r.trim()).filter(Boolean);
        await api("PATCH", `/api/admin/users/${user.id}`, { body: { roles: list } });
        await refresh();
      }) }, t("saveRoles")),
      h("button", { type: "button", class: "plain toggle-disabled", onclick: () => attempt(problem, async () => {
        await api("PATCH", `/api/admin/users/${user.id}`, { body: { disabled: !user.disabled } });
        await refresh();
      }) }, user.disabled ? t("enable") : t("disable")),
      h("button", { type: "button", class: "plain revoke", onclick: () => attempt(problem, async () => {
        const answer = await api("POST", `/api/admin/users/${user.id}/revoke`);
        show(problem, notice(t("revoked", { n: answer.revoked ?? 0 }), "ok"));
      }) }, t("signOutEverywhere")),
    ),
    problem,
  );
  return card;
}

const JOB_STATES = ["queued", "running", "succeeded", "dead", "cancelled"];

export async function jobsView(params) {
  const state = params.get("state") ?? "";
  const query = new URLSearchParams({ limit: "50" });
  if (state) query.set("state", state);
  const page = await api("GET", `/api/admin/jobs?${query}`);
  const problem = h("div");
  return h("section", {},
    h("h1", {}, t("jobs")),
    h("p", { class: "filters" },
      h("a", { href: "#/jobs", class: state ? "" : "current" }, t("all")),
      JOB_STATES.map((s) => h("a", { href: `#/jobs?state=${s}`, class: s === state ? "current" : "" },
        `${s} (${page.counts?.[s] ?? 0})`)),
    ),
    problem,
    h("div", { class: "scroll" }, h("table", { id: "jobs" },
      h("thead", {}, h("tr", {}, ["id", "name", "state", "attempts", "last_error", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, page.items.map((job) => h("tr", { dataset: { id: job.id } },
        h("td", {}, job.id), h("td", {}, job.name), h("td", {}, job.state),
        h("td", {}, String(job.attempts)), h("td", { class: "error-text" }, job.last_error ?? ""),
        h("td", {},
          ["dead", "cancelled"].includes(job.state) && h("button", { type: "button", class: "retry",
            onclick: () => attempt(problem, async () => { await api("POST", `/api/admin/jobs/${job.id}/retry`); reload(); }) }, t("retry")),
          job.state === "queued" && h("button", { type: "button", class: "plain cancel",
            onclick: () => attempt(problem, async () => { await api("POST", `/api/admin/jobs/${job.id}/cancel`); reload(); }) }, t("cancel")),
        ),
      ))),
    )),
  );
}

const PLATFORMS = ["wechat", "alipay", "douyin", "baidu", "qq"];
const SECRETS = ["secret", "private_key", "alipay_public_key", "aes_key", "push_token", "push_aes_key"];
const PEM = new Set(["private_key", "alipay_public_key"]);

function tokenCell(app, problem) {
  const token = app.access_token;
  if (!token) return h("td", { class: "muted" }, t("noToken"));
  const path = `/api/admin/apps/${app.platform}/${encodeURIComponent(app.appid)}/token/refresh`;
  return h("td", { class: "token" },
    token.cached ? h("span", {}, t("tokenUntil", { when: token.expires_at })) : h("span", { class: "muted" }, t("notCached")),
    token.refreshed_at && h("div", { class: "muted" }, t("fetchedBy", { when: token.refreshed_at, by: token.refreshed_by ?? "?" })),
    token.lease?.held && h("div", { class: "tag" }, t("leaseHeld", { owner: token.lease.owner, until: token.lease.until })),
    token.refused && h("div", { class: "tag bad" }, t("tokenRefused")),
    confirmButton(t("refreshToken"), t("confirmRefresh"), () => attempt(problem, async () => {
      await api("POST", path);
      reload();
    }), "refresh-token"),
  );
}

/** Registered apps, their shared access token (when it expires, who fetched it, the lease);
 * secrets can be set or replaced, never read back (the API says only whether one is set). */
export async function appsView() {
  const answer = await api("GET", "/api/admin/apps");
  const apps = answer.items ?? answer;
  const problem = h("div");
  const platform = h("select", { id: "app-platform", "aria-label": t("platform") },
    PLATFORMS.map((p) => h("option", { value: p }, p)));
  const input = (name, props = {}) => h("input", { id: `app-${name}`, placeholder: name, "aria-label": name, ...props });
  const appid = input("appid", { required: true });
  const name = input("name");
  const account = input("account", { placeholder: t("account") });
  const secrets = SECRETS.map((key) => PEM.has(key)
    ? h("textarea", { id: `app-${key}`, rows: 2, placeholder: `${key} (PEM)`, "aria-label": key, autocomplete: "off", spellcheck: "false" })
    : input(key, { type: "password", autocomplete: "off" }));
  return h("section", {},
    h("h1", {}, t("apps")),
    h("div", { class: "scroll" }, h("table", { id: "apps" },
      h("thead", {}, h("tr", {}, ["platform", "appid", "name", t("accessToken"), ...SECRETS, ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, apps.map((app) => h("tr", { dataset: { appid: app.appid } },
        h("td", {}, app.platform), h("td", {}, app.appid), h("td", {}, app.name ?? ""),
        tokenCell(app, problem),
        SECRETS.map((key) => h("td", { class: `has-${key}` }, app[`has_${key}`] ? t("isSet") : "—")),
        h("td", {}, confirmButton(t("remove"), t("confirmRemoveApp", { appid: app.appid }), () => attempt(problem, async () => {
          await api("DELETE", `/api/admin/apps/${app.platform}/${encodeURIComponent(app.appid)}`);
          reload();
        }), "remove-app")),
      ))),
    )),
    problem,
    h("form", { class: "stack", id: "register-app", onsubmit: (event) => {
      event.preventDefault();
      attempt(problem, async () => {
        const body = { platform: platform.value, appid: appid.value.trim() };
        if (name.value.trim()) body.name = name.value.trim();
        if (account.value.trim()) body.account = account.value.trim();
        SECRETS.forEach((key, i) => { if (secrets[i].value) body[key] = secrets[i].value; });
        const known = apps.some((a) => a.platform === body.platform && a.appid === body.appid);
        if (known) await api("PATCH", `/api/admin/apps/${body.platform}/${encodeURIComponent(body.appid)}`, { body });
        else await api("POST", "/api/admin/apps", { body });
        reload();
      });
    } },
      h("h2", {}, t("registerApp")),
      platform, appid, name, account, ...secrets,
      h("button", { type: "submit" }, t("registerApp")),
      h("p", { class: "muted" }, t("secretsWriteOnly")),
    ),
  );
}
