// The console: a hash router over a few views, each a function that fetches through the
// admin API and builds its part of the page with h() (text only, see dom.js).
import { SessionEnded, api, session, signIn, signOutEverywhere, upload } from "/_/api.js";
import { h, show } from "/_/dom.js";
import { currentLanguage, switchLanguage, t } from "/_/i18n.js";
import { appsView, attempt, confirmButton, jobsView, notice, usersView } from "/_/views_ops.js";
import { definitionView } from "/_/views_schema.js";
import { contentView, healthView, messagesView, pushView, qrcodesView } from "/_/views_activity.js";
import { merchantsView, orderView, ordersView, reconciliationView, rejectedView } from "/_/views_pay.js";

const root = document.getElementById("app");

function header() {
  const who = session();
  return h("header", { class: "bar" },
    h("a", { href: "#/collections", class: "brand" }, t("title")),
    h("nav", {},
      who && h("a", { href: "#/collections" }, t("collections")),
      who && h("a", { href: "#/users" }, t("users")),
      who && h("a", { href: "#/payments" }, t("payments")),
      who && h("a", { href: "#/jobs" }, t("jobs")),
      who && h("a", { href: "#/activity" }, t("activity")),
      who && h("a", { href: "#/apps" }, t("apps")),
    ),
    h("span", { class: "spacer" }),
    h("button", { type: "button", class: "plain", onclick: () => { switchLanguage(); route(); } },
      t("language")),
    who && h("span", { class: "who" }, who.email),
    who && h("button", { type: "button", id: "sign-out", onclick: async () => { await signOutEverywhere(); location.hash = "#/"; route(); } },
      t("signOut")),
  );
}

function loginView(message) {
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const problem = h("div");
  const form = h("form", { class: "card login", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await signIn(email.value, password.value);
      location.hash = "#/collections";
      route();
    } catch (error) {
      show(problem, notice(error.message));
    }
  } },
    h("h1", {}, t("title")),
    message && notice(message),
    h("label", { for: "email" }, t("email")), email,
    h("label", { for: "password" }, t("password")), password,
    problem,
    h("button", { type: "submit" }, t("signIn")),
  );
  return form;
}

async function collectionsView() {
  const collections = await api("GET", "/api/admin/collections");
  const items = collections.items ?? collections;
  return h("section", {},
    h("h1", {}, t("collections")),
    h("p", {}, h("a", { href: "#/new-collection", id: "new-collection" }, t("newCollection"))),
    h("ul", { class: "list", id: "collections" },
      items.map((c) => h("li", {},
        h("a", { href: `#/collections/${encodeURIComponent(c.name)}` }, c.name),
        h("span", { class: "muted" }, ` ${Object.keys(c.fields ?? {}).length} ${t("fields")}`),
        c.preset && h("span", { class: "tag" }, c.preset),
        " ",
        h("a", { href: `#/collections/${encodeURIComponent(c.name)}/~definition`, class: "muted" }, t("definition")),
      )),
    ),
  );
}

/** "As this user, on this record, which actions pass, and why not" (the server decides). */
function ruleTester(name) {
  const user = h("input", { id: "tester-user", placeholder: t("testerUser") });
  const record = h("textarea", { id: "tester-record", rows: 3, spellcheck: "false", placeholder: t("testerRecord") });
  const out = h("div", { id: "tester-verdicts" });
  return h("section", { class: "card tester" },
    h("h2", {}, t("ruleTester")),
    h("label", { for: "tester-user" }, t("testerUserLabel")), user,
    h("label", { for: "tester-record" }, t("testerRecordLabel")), record,
    h("button", { type: "button", id: "tester-run", onclick: () => attempt(out, async () => {
      const text = record.value.trim();
      let given = text;
      if (text.startsWith("{")) {
        try { given = JSON.parse(text); } catch { show(out, notice(t("invalidJson"))); return; }
      }
      const answer = await api("POST", `/api/admin/collections/${encodeURIComponent(name)}/rules/test`,
        { body: { user: user.value.trim() || null, record: given } });
      show(out, h("table", {},
        h("tbody", {}, Object.entries(answer.actions).map(([action, verdict]) =>
          h("tr", { dataset: { action, allowed: String(verdict.allowed) } },
            h("th", { scope: "row" }, action),
            h("td", {}, verdict.allowed ? "✓" : "✗"),
            h("td", {}, h("code", {}, verdict.rule ?? "—")),
            h("td", { class: "why" }, verdict.why.join("; ")),
          ))),
      ));
    }) }, t("testRules")),
    out,
  );
}

/** The images among the records' files: their temporary URLs, in one call, each asking for
 * the field's first declared thumbnail size when it has one. */
async function imageLinks(records, fields = {}) {
  const sizes = new Map();
  const ids = records.flatMap((record) => Object.entries(record).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).filter(isImage).map((file) => {
      const thumb = fields[key]?.thumbs?.[0];
      if (thumb) sizes.set(file.id, thumb);
      return file.id;
    })));
  if (ids.length === 0) return new Map();
  const answer = await api("POST", "/api/files/temp-urls", { body: { files: ids.slice(0, 50), expires: 600 } });
  return new Map(answer.files.filter((f) => f.url).map((f) => {
    const thumb = sizes.get(f.id);
    return [f.id, thumb ? `${f.url}${f.url.includes("?") ? "&" : "?"}thumb=${encodeURIComponent(thumb)}` : f.url];
  }));
}

function isImage(value) {
  return value && typeof value === "object" && typeof value.id === "string"
    && typeof value.type === "string" && value.type.startsWith("image/");
}

function fileCell(value, links) {
  const files = (Array.isArray(value) ? value : [value]).filter(isImage);
  if (files.length === 0) return undefined;
  return files.map((file) => links.has(file.id)
    ? h("img", { class: "thumb", src: links.get(file.id), alt: file.name, title: file.name, loading: "lazy" })
    : h("span", { class: "muted" }, file.name));
}

/** A record's file fields: what each holds, and an upload into it (a single file is
 * replaced, a list grows), checked by the server as any upload is. */
function fileFields(name, record, fields, links, problem) {
  const files = Object.entries(fields).filter(([, spec]) => spec.type === "file");
  if (files.length === 0) return undefined;
  return h("fieldset", { class: "files" }, h("legend", {}, t("files")),
    files.map(([field, spec]) => {
      const picker = h("input", { type: "file", id: `upload-${field}`, accept: (spec.types ?? []).join(",") || undefined, "aria-label": `${t("upload")} ${field}` });
      const held = (Array.isArray(record[field]) ? record[field] : [record[field]]).filter(Boolean);
      return h("div", { class: "file-field", dataset: { field } },
        h("strong", {}, field), " ",
        held.map((file) => isImage(file) && links.has(file.id)
          ? h("img", { class: "thumb", src: links.get(file.id), alt: file.name, title: file.name })
          : h("span", { class: "tag" }, file.name)),
        picker,
        h("button", { type: "button", class: "plain upload", onclick: () => attempt(problem, async () => {
          if (!picker.files.length) return;
          await upload(`/api/collections/${encodeURIComponent(name)}/records/${encodeURIComponent(record._id)}/files/${encodeURIComponent(field)}`, picker.files[0]);
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        }) }, spec.multiple ? t("addFile") : t("replaceFile")));
    }));
}

function cell(value) {
  if (value === undefined || value === null) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

async function recordsView(name, params) {
  const query = new URLSearchParams({ limit: params.get("limit") ?? "20" });
  for (const key of ["filter", "sort", "cursor"]) {
    if (params.get(key)) query.set(key, params.get(key));
  }
  const filter = h("input", { id: "filter", value: params.get("filter") ?? "", placeholder: '{"score": {"$gt": 10}}' });
  const sort = h("input", { id: "sort", value: params.get("sort") ?? "", placeholder: "-_created" });
  const problem = h("div");
  const asJson = params.get("view") === "json";
  let page;
  try {
    page = await api("GET", `/api/collections/${encodeURIComponent(name)}/records?${query}`);
  } catch (error) {
    if (error instanceof SessionEnded) throw error;
    show(problem, notice(error.message));
    page = { items: [], next_cursor: null };
  }
  const go = (changes) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value); else next.delete(key);
    }
    location.hash = `#/collections/${encodeURIComponent(name)}?${next}`;
  };
  const columns = [...new Set(page.items.flatMap((r) => Object.keys(r)))];
  const definition = await api("GET", `/api/admin/collections/${encodeURIComponent(name)}`);
  const links = await imageLinks(page.items, definition.fields ?? {});
  return h("section", {},
    h("h1", {}, h("a", { href: "#/collections" }, t("collections")), " / ", name),
    h("p", {}, h("a", { href: `#/collections/${encodeURIComponent(name)}/~new`, id: "new-record" }, t("newRecord"))),
    h("form", { class: "filters", onsubmit: (event) => {
      event.preventDefault();
      go({ filter: filter.value.trim(), sort: sort.value.trim(), cursor: "" });
    } },
      h("label", { for: "filter" }, t("filter")), filter,
      h("label", { for: "sort" }, t("sort")), sort,
      h("button", { type: "submit" }, t("apply")),
      h("button", { type: "button", class: "plain", onclick: () => go({ view: asJson ? "" : "json" }) },
        asJson ? t("table") : t("json")),
    ),
    problem,
    page.items.length === 0 ? h("p", { class: "muted" }, t("noRecords"))
      : asJson ? h("pre", { class: "json", id: "records" }, JSON.stringify(page.items, null, 2))
      : h("div", { class: "scroll" }, h("table", { id: "records" },
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, page.items.map((record) => h("tr", {},
          columns.map((c) => h("td", {}, c === "_id"
            ? h("a", { href: `#/collections/${encodeURIComponent(name)}/${encodeURIComponent(record._id)}` }, record._id)
            : fileCell(record[c], links) ?? cell(record[c]))),
        ))),
      )),
    h("p", { class: "pager" },
      params.get("cursor") && h("button", { type: "button", class: "plain", onclick: () => go({ cursor: "" }) }, t("first")),
      page.next_cursor && h("button", { type: "button", id: "next", onclick: () => go({ cursor: page.next_cursor }) }, t("next")),
    ),
  );
}

async function newRecordView(name) {
  const editor = h("textarea", { id: "record", rows: 16, spellcheck: "false" }, "{}");
  const problem = h("div");
  return h("section", {},
    h("h1", {}, h("a", { href: `#/collections/${encodeURIComponent(name)}` }, name), " / ", t("newRecord")),
    editor,
    problem,
    h("button", { type: "button", id: "create-record", onclick: () => attempt(problem, async () => {
      let body;
      try { body = JSON.parse(editor.value); } catch { show(problem, notice(t("invalidJson"))); return; }
      const made = await api("POST", `/api/collections/${encodeURIComponent(name)}/records`, { body });
      location.hash = `#/collections/${encodeURIComponent(name)}/${encodeURIComponent(made._id)}`;
    }) }, t("create")),
  );
}

async function recordView(name, id) {
  const path = `/api/collections/${encodeURIComponent(name)}/records/${encodeURIComponent(id)}`;
  const [record, definition] = await Promise.all([
    api("GET", path), api("GET", `/api/admin/collections/${encodeURIComponent(name)}`)]);
  const links = await imageLinks([record], definition.fields ?? {});
  const editor = h("textarea", { id: "record", rows: 16, spellcheck: "false" });
  const user = Object.fromEntries(Object.entries(record).filter(([k]) => !k.startsWith("_")));
  editor.value = JSON.stringify(user, null, 2);
  const problem = h("div");
  return h("section", {},
    h("h1", {}, h("a", { href: `#/collections/${encodeURIComponent(name)}` }, name), " / ", id),
    h("p", { class: "muted" }, `_version ${record._version} · _owner ${record._owner ?? "—"} · _updated ${record._updated}`),
    editor,
    problem,
    h("button", { type: "button", id: "save", onclick: async () => {
      let body;
      try { body = JSON.parse(editor.value); } catch { show(problem, notice(t("invalidJson"))); return; }
      try {
        await api("PUT", path, { body, headers: { "if-match": `"${record._version}"` } });
        show(problem, notice(t("saved"), "ok"));
      } catch (error) {
        if (error instanceof SessionEnded) throw error;
        const text = error.code === "records.version_conflict"
          ? t("conflict", { v: error.details?.current_version })
          : error.message;
        show(problem, notice(text));
      }
    } }, t("save")),
    " ",
    confirmButton(t("delete"), t("confirmDelete", { id }), () => attempt(problem, async () => {
      await api("DELETE", path, { headers: { "if-match": `"${record._version}"` } });
      location.hash = `#/collections/${encodeURIComponent(name)}`;
    }), "delete-record"),
    fileFields(name, record, definition.fields ?? {}, links, problem),
  );
}

// Routes answer out of order when the server is slow: only the newest one may show its page.
let routing = 0;

async function route() {
  const mine = ++routing;
  document.title = t("title");
  document.documentElement.lang = currentLanguage() === "zh" ? "zh-CN" : "en";
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  const main = h("div", { class: "content" });
  if (!session()) {
    show(root, header(), h("div", { class: "content" }, loginView(parts.length ? t("expired") : undefined)));
    return;
  }
  show(root, header(), main);
  const view = (content) => { if (mine === routing) show(main, content); };
  try {
    if (parts[0] === "users") view(await usersView(params));
    else if (parts[0] === "jobs") view(await jobsView(params));
    else if (parts[0] === "apps") view(await appsView());
    else if (parts[0] === "payments" && parts[1] === "orders") view(await orderView(parts[2]));
    else if (parts[0] === "payments" && parts[1] === "rejected") view(await rejectedView(params));
    else if (parts[0] === "payments" && parts[1] === "reconciliation") view(await reconciliationView());
    else if (parts[0] === "payments" && parts[1] === "merchants") view(await merchantsView());
    else if (parts[0] === "payments") view(await ordersView(params));
    else if (parts[0] === "activity" && parts[1] === "push") view(await pushView(params));
    else if (parts[0] === "activity" && parts[1] === "content") view(await contentView(params));
    else if (parts[0] === "activity" && parts[1] === "qrcodes") view(await qrcodesView(params));
    else if (parts[0] === "activity" && parts[1] === "health") view(await healthView());
    else if (parts[0] === "activity") view(await messagesView(params));
    else if (parts[0] === "new-collection") view(await definitionView(undefined, ruleTester));
    else if (parts[0] === "collections" && parts[2] === "~definition") view(await definitionView(parts[1], ruleTester));
    else if (parts[0] === "collections" && parts[2] === "~new") view(await newRecordView(parts[1]));
    else if (parts[0] === "collections" && parts.length === 3) view(await recordView(parts[1], parts[2]));
    else if (parts[0] === "collections" && parts.length === 2) view(await recordsView(parts[1], params));
    else view(await collectionsView());
  } catch (error) {
    if (mine !== routing) return;
    if (error instanceof SessionEnded) {
      show(root, header(), h("div", { class: "content" }, loginView(t("expired"))));
      return;
    }
    view(notice(error.message));
  }
}

// A session ends on its own when the admin token expires, even on a page left open.
let expiry;
function watchExpiry() {
  clearTimeout(expiry);
  const current = session();
  if (current) expiry = setTimeout(route, Math.max(0, current.expires * 1000 - Date.now()) + 50);
}

window.addEventListener("hashchange", route);
window.addEventListener("minibase:session", watchExpiry);
route();
watchExpiry();
