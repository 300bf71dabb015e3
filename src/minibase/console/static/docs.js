// /api/docs: the OpenAPI document as a page: every operation by tag, its parameters, body
// and answers, and a form to try it (with the console's admin token when signed in there).
import { session } from "/_/api.js";
import { h, show } from "/_/dom.js";

const root = document.getElementById("docs");

function schemaText(schema) {
  return schema ? JSON.stringify(schema, null, 2) : "";
}

function tryIt(method, path, operation) {
  const params = (operation.parameters ?? []).filter((p) => p.in === "path");
  const inputs = Object.fromEntries(params.map((p) => [p.name, h("input", { "aria-label": p.name, placeholder: p.name })]));
  const query = h("input", { class: "query", placeholder: "query: limit=5", "aria-label": "query" });
  const body = operation.requestBody?.content?.["application/json"]
    ? h("textarea", { class: "body", rows: 4, spellcheck: "false", "aria-label": "body" }, "{}")
    : null;
  const out = h("pre", { class: "json answer" });
  const send = async () => {
    let url = path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(inputs[name].value));
    if (query.value.trim()) url += `?${query.value.trim()}`;
    const who = session();
    const answer = await fetch(url, {
      method: method.toUpperCase(),
      headers: {
        ...(who ? { authorization: `Bearer ${who.token}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? body.value : undefined,
    });
    const text = await answer.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON */ }
    out.textContent = `${answer.status} ${answer.statusText}\n${shown}`;
  };
  return h("div", { class: "try" },
    Object.values(inputs), query, body,
    h("button", { type: "button", class: "send", onclick: send }, "Send"),
    out,
  );
}

function operationView(method, path, operation) {
  const open = h("details", { class: "operation", dataset: { operation: operation.operationId } },
    h("summary", {}, h("span", { class: `method ${method}` }, method.toUpperCase()), " ", h("code", {}, path), " ", operation.summary ?? ""),
    (operation.parameters ?? []).length > 0 && h("ul", {}, operation.parameters.map((p) =>
      h("li", {}, h("code", {}, p.name), ` (${p.in}${p.required ? ", required" : ""}) `, p.description ?? ""))),
    operation.requestBody && h("pre", { class: "json" }, schemaText(Object.values(operation.requestBody.content)[0]?.schema)),
    h("ul", {}, Object.entries(operation.responses ?? {}).map(([status, answer]) =>
      h("li", {}, h("code", {}, status), " ", answer.description ?? ""))),
    tryIt(method, path, operation),
  );
  return open;
}

async function main() {
  const spec = await (await fetch("/api/openapi.json")).json();
  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const tag = operation.tags?.[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operationView(method, path, operation));
    }
  }
  document.title = `${spec.info.title} ${spec.info.version}`;
  show(root,
    h("h1", {}, spec.info.title, " ", h("span", { class: "muted" }, spec.info.version)),
    h("p", {}, spec.info.description ?? ""),
    h("p", { class: "muted" }, session() ? "Requests carry the console's admin token." : "Not signed in to the console (/_/): requests go without a token."),
    [...byTag].map(([tag, operations]) => h("section", { dataset: { tag } }, h("h2", {}, tag), operations)),
  );
}

main();
