// A collection's definition, as a form (fields, indexes, rules) or as JSON: both edit the
// same definition, saved through the admin API; the server's problems show beside the part
// of the form they name (and all of them above the save button).
import { SessionEnded, api } from "/_/api.js";
import { h, show } from "/_/dom.js";
import { t } from "/_/i18n.js";
import { attempt, confirmButton, notice } from "/_/views_ops.js";

const TYPES = ["string", "integer", "number", "boolean", "datetime", "enum", "object", "array",
  "geopoint", "reference", "file"];
const PRESETS = ["public_read_owner_write", "owner_only", "public_read_admin_write", "admin_only"];
const ACTIONS = ["list", "read", "create", "update", "delete"];
// The options each type shows as inputs; any other key of a field stays in its "more" JSON.
const OPTIONS = {
  string: [["min", "number"], ["max", "number"], ["pattern", "text"]],
  integer: [["min", "number"], ["max", "number"]],
  number: [["min", "number"], ["max", "number"]],
  enum: [["values", "list"]],
  array: [["min", "number"], ["max", "number"], ["unique", "bool"]],
  reference: [["collection", "text"]],
  file: [["types", "list"], ["max_size", "number"], ["multiple", "bool"], ["thumbs", "list"]],
};

class Unreadable extends Error {}

function optionInput(key, kind, value) {
  const label = `${key}`;
  if (kind === "bool") {
    return h("label", { class: "inline" }, h("input", { type: "checkbox", class: `opt-${key}`, checked: value === true }), ` ${label}`);
  }
  const shown = value === undefined || value === null ? "" : kind === "list" ? value.join(", ") : String(value);
  return h("label", { class: "inline option" }, `${label} `, h("input", { class: `opt-${key}`, value: shown,
    type: kind === "number" ? "number" : "text", size: kind === "number" ? 6 : 14 }));
}

function readOption(element, key, kind) {
  const input = element.querySelector(`.opt-${key}`);
  if (kind === "bool") return input.checked ? true : undefined;
  const text = input.value.trim();
  if (!text) return undefined;
  if (kind === "number") return Number(text);
  if (kind === "list") return text.split(",").map((item) => item.trim()).filter(Boolean);
  return text;
}

/** One field: name, type, required, the type's options, and the rest as JSON. */
function fieldRow(name, spec, rows) {
  const { type = "string", required, ...rest } = spec;
  const nameInput = h("input", { class: "field-name", value: name, placeholder: t("fieldName"), "aria-label": t("fieldName"), required: true });
  const typeSelect = h("select", { class: "field-type", "aria-label": t("fieldType") }, TYPES.map((ty) => h("option", { value: ty, selected: ty === type }, ty)));
  const requiredBox = h("input", { type: "checkbox", class: "field-required", checked: required === true });
  const options = h("span", { class: "options" });
  const more = h("input", { class: "field-more", placeholder: t("moreJson"), "aria-label": t("moreJson"), size: 24 });
  const problem = h("div", { class: "problem", role: "alert" });
  const row = h("div", { class: "field-row", dataset: { path: `fields.${name}` } });
  const drawOptions = (values) => {
    const kinds = OPTIONS[typeSelect.value] ?? [];
    show(options, kinds.map(([key, kind]) => optionInput(key, kind, values[key])));
    const left = Object.fromEntries(Object.entries(values).filter(([key]) => !kinds.some(([k]) => k === key)));
    more.value = Object.keys(left).length ? JSON.stringify(left).slice(1, -1) : "";
  };
  typeSelect.addEventListener("change", () => drawOptions(readRest()));
  const readRest = () => {
    const kinds = OPTIONS[typeSelect.value] ?? [];
    let extra = {};
    if (more.value.trim()) {
      try { extra = JSON.parse(`{${more.value}}`); } catch { throw new Unreadable(t("badMore", { name: nameInput.value })); }
    }
    const known = Object.fromEntries(kinds.map(([key, kind]) => [key, readOption(row, key, kind)]).filter(([, v]) => v !== undefined));
    return { ...known, ...extra };
  };
  nameInput.addEventListener("input", () => { row.dataset.path = `fields.${nameInput.value.trim()}`; });
  show(row, nameInput, typeSelect,
    h("label", { class: "inline" }, requiredBox, ` ${t("required")}`),
    options, more,
    h("button", { type: "button", class: "plain remove", "aria-label": t("removeField"), onclick: () => { rows.delete(row); row.remove(); } }, "✕"),
    problem);
  drawOptions(rest);
  rows.set(row, () => [nameInput.value.trim(), { type: typeSelect.value, ...(requiredBox.checked ? { required: true } : {}), ...readRest() }]);
  return row;
}

function indexRow(index, position, rows) {
  const given = typeof index === "string" ? { fields: [index] } : Array.isArray(index) ? { fields: index } : index;
  const fields = h("input", { class: "index-fields", value: (given.fields ?? []).join(", "), placeholder: "status, -score", "aria-label": t("indexFields") });
  const unique = h("input", { type: "checkbox", class: "index-unique", checked: given.unique === true });
  const row = h("div", { class: "index-row", dataset: { path: `indexes.${position}` } },
    fields, h("label", { class: "inline" }, unique, ` ${t("unique")}`),
    h("button", { type: "button", class: "plain remove", "aria-label": t("removeIndex"), onclick: () => { rows.delete(row); row.remove(); } }, "✕"),
    h("div", { class: "problem", role: "alert" }));
  rows.set(row, () => ({ fields: fields.value.split(",").map((f) => f.trim()).filter(Boolean), ...(unique.checked ? { unique: true } : {}) }));
  return row;
}

/** Preset or custom; with a preset, an empty action is as the preset says, without one it is
 * admins only. */
function rulesPart(current) {
  const preset = h("select", { id: "rules-preset", "aria-label": t("preset") },
    h("option", { value: "" }, t("customRules")),
    PRESETS.map((p) => h("option", { value: p, selected: p === current.preset }, p)));
  const inputs = Object.fromEntries(ACTIONS.map((action) => [action,
    h("input", { id: `rule-${action}`, class: "rule", value: current.rules?.[action] ?? "", spellcheck: "false" })]));
  const hint = () => {
    for (const input of Object.values(inputs)) input.placeholder = preset.value ? t("asPreset") : t("adminsOnly");
  };
  preset.addEventListener("change", hint);
  hint();
  const element = h("fieldset", { class: "rules", dataset: { path: "rules" } },
    h("legend", {}, t("rules")),
    h("label", { for: "rules-preset" }, t("preset")), preset,
    ACTIONS.map((action) => h("div", { class: "rule-row", dataset: { path: `rules.${action}` } },
      h("label", { for: `rule-${action}` }, action), inputs[action], h("div", { class: "problem", role: "alert" }))),
    h("div", { class: "problem", role: "alert" }));
  const read = () => {
    if (preset.value) {
      const overrides = Object.fromEntries(ACTIONS.filter((a) => inputs[a].value.trim()).map((a) => [a, inputs[a].value.trim()]));
      return { preset: preset.value, ...overrides };
    }
    return Object.fromEntries(ACTIONS.map((a) => [a, inputs[a].value.trim() || null]));
  };
  return { element, read };
}

/** The form and the JSON of one definition; `read()` gives what the visible one says. */
function definitionEditor(current, isNew) {
  const fieldRows = new Map();
  const indexRows = new Map();
  const nameInput = h("input", { id: "collection-name", value: current.name ?? "", required: true, disabled: !isNew, "aria-label": t("collectionName") });
  const additional = h("input", { type: "checkbox", id: "additional", checked: current.additional !== false });
  const fieldList = h("div", { id: "fields" }, Object.entries(current.fields ?? {}).map(([n, spec]) => fieldRow(n, spec, fieldRows)));
  const indexList = h("div", { id: "indexes" }, (current.indexes ?? []).map((index, i) => indexRow(index, i, indexRows)));
  const rules = rulesPart(current);
  const form = h("div", { class: "definition-form", id: "definition-form" },
    h("div", { class: "filters", dataset: { path: "name" } }, h("label", { for: "collection-name" }, t("collectionName")), nameInput,
      h("label", { class: "inline" }, additional, ` ${t("additional")}`), h("div", { class: "problem", role: "alert" })),
    h("fieldset", {}, h("legend", {}, t("fieldsTitle")), fieldList,
      h("button", { type: "button", id: "add-field", class: "plain", onclick: () => {
        const row = fieldRow("", { type: "string" }, fieldRows);
        fieldList.append(row);
        row.querySelector(".field-name").focus();
      } }, t("addField"))),
    h("fieldset", {}, h("legend", {}, t("indexesTitle")), indexList,
      h("button", { type: "button", id: "add-index", class: "plain", onclick: () => {
        const row = indexRow({ fields: [] }, indexList.children.length, indexRows);
        indexList.append(row);
        row.querySelector("input").focus();
      } }, t("addIndex"))),
    rules.element,
  );
  const json = h("textarea", { id: "definition", rows: 20, spellcheck: "false", hidden: true, "aria-label": t("definition") });
  const readForm = () => {
    const fields = {};
    for (const readRow of fieldRows.values()) {
      const [name, spec] = readRow();
      if (name) fields[name] = spec;
    }
    return { name: nameInput.value.trim(), fields, additional: additional.checked,
      indexes: [...indexRows.values()].map((read) => read()).filter((index) => index.fields.length), rules: rules.read() };
  };
  const readJson = () => {
    try { return JSON.parse(json.value); } catch { throw new Unreadable(t("invalidJson")); }
  };
  let asJson = false;
  const formTab = h("button", { type: "button", role: "tab", id: "definition-form-tab", "aria-selected": "true" }, t("form"));
  const jsonTab = h("button", { type: "button", role: "tab", id: "definition-json-tab", class: "plain", "aria-selected": "false" }, t("json"));
  const problem = h("div");
  const choose = (toJson) => {
    try {
      if (toJson && !asJson) json.value = JSON.stringify(readForm(), null, 2);
      if (!toJson && asJson) {
        const given = readJson();
        const { preset, ...rules } = given.rules ?? {};
        const replacement = definitionEditor({ ...given, preset, rules }, isNew);
        editor.element.replaceWith(replacement.element);
        Object.assign(editor, replacement, { element: replacement.element });
        return;
      }
    } catch (error) {
      show(problem, notice(error.message));
      return;
    }
    show(problem);
    asJson = toJson;
    form.hidden = toJson;
    json.hidden = !toJson;
    formTab.className = toJson ? "plain" : "";
    jsonTab.className = toJson ? "" : "plain";
    formTab.setAttribute("aria-selected", String(!toJson));
    jsonTab.setAttribute("aria-selected", String(toJson));
  };
  formTab.addEventListener("click", () => choose(false));
  jsonTab.addEventListener("click", () => choose(true));
  const editor = {
    element: h("div", { class: "definition" }, h("p", { role: "tablist", class: "tabs filters" }, formTab, jsonTab), problem, form, json),
    read: () => (asJson ? readJson() : readForm()),
  };
  return editor;
}

/** Marks each problem the server gave beside the part it names. */
function markProblems(root, problems) {
  for (const spot of root.querySelectorAll(".problem")) show(spot);
  for (const { field, message } of problems) {
    let path = field;
    let place = null;
    while (path && !place) {
      place = root.querySelector(`[data-path="${CSS.escape(path)}"] > .problem`);
      path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    }
    if (place) place.append(h("span", {}, message, " "));
  }
}

export async function definitionView(name, ruleTester) {
  // as read, a preset's rules are spelled out: with a preset, the inputs hold only overrides
  const read = name ? await api("GET", `/api/admin/collections/${encodeURIComponent(name)}`) : undefined;
  const current = read ? { ...read, rules: read.preset ? {} : read.rules }
    : { name: "", fields: {}, additional: true, indexes: [], preset: "owner_only", rules: {} };
  const editor = definitionEditor(current, !name);
  const problem = h("div", { id: "definition-problem" });
  return h("section", {},
    h("h1", {}, h("a", { href: "#/collections" }, t("collections")), " / ", name ?? t("newCollection")),
    editor.element,
    problem,
    h("button", { type: "button", id: "save-definition", onclick: async () => {
      show(problem);
      try {
        const body = editor.read();
        if (name) body.name = body.name || name;
        const saved = name
          ? await api("PUT", `/api/admin/collections/${encodeURIComponent(name)}`, { body })
          : await api("POST", "/api/admin/collections", { body });
        if (name) show(problem, notice(t("saved"), "ok"));
        else location.hash = `#/collections/${encodeURIComponent(saved.name)}`;
      } catch (error) {
        if (error instanceof SessionEnded) throw error;
        const problems = error.details?.problems ?? [];
        markProblems(editor.element, problems);
        show(problem, notice([error.message, ...problems.map((p) => `${p.field}: ${p.message}`)].join(" · ")));
      }
    } }, name ? t("save") : t("create")),
    name && " ",
    name && confirmButton(t("dropCollection"), t("confirmDrop", { name }), () => attempt(problem, async () => {
      await api("DELETE", `/api/admin/collections/${encodeURIComponent(name)}`);
      location.hash = "#/collections";
    }), "drop-collection"),
    name && h("p", {}, h("a", { href: `#/collections/${encodeURIComponent(name)}` }, t("records"))),
    name && ruleTester(name),
  );
}
