// examples/miniprogram runs as a reader would open it: its app.js and pages, with the App,
// Page and getApp a runtime gives, on a fake wx, against a real server (sdk.docs.test.mjs
// checks that its minibase.js is this build's).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, it } from "node:test";
import { fakePlatform, useGlobal } from "./support/fakes.mjs";
import { startServer } from "./support/server.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = resolve(HERE, "../../../examples/miniprogram");
const requireExample = createRequire(`${EXAMPLE}/app.js`);

const PRICES = `
from minibase.functions import price


@price()
async def catalogue(ctx, product, input):
    return {"amount": 1800, "description": f"minibase coffee: {product}"}
`;

let server;
let restore = () => {};
before(async () => {
  server = await startServer({ functions: { "shop.py": PRICES } });
  await server.createCollection({
    name: "notes",
    fields: { text: { type: "string", required: true } },
    rules: { preset: "owner_only" },
  });
});
after(() => {
  restore();
  for (const name of ["App", "Page", "getApp"]) delete globalThis[name];
  return server?.stop();
});

/** What the runtime does with App() and Page(): keep them, and setData merges into data. */
function runtime() {
  let app;
  const pages = {};
  globalThis.App = (options) => {
    app = options;
  };
  globalThis.getApp = () => app;
  globalThis.Page = (options) => {
    const page = { ...options, data: { ...options.data } };
    page.setData = (patch) => Object.assign(page.data, patch);
    pages.last = page;
  };
  return { app: () => app, page: (path) => (requireExample(`./pages/${path}.js`), pages.last) };
}

it("lists, adds and pays, as its pages do", async () => {
  const wx = fakePlatform("wechat", server, { person: "ann" });
  restore = useGlobal(wx);
  requireExample("./config.js").url = server.url;
  const mini = runtime();
  requireExample("./app.js");
  mini.app().onLaunch();

  const notes = mini.page("index/index");
  await notes.onLoad();
  assert.deepEqual(notes.data.notes, []);
  assert.equal(notes.data.error, "");
  notes.onInput({ detail: { value: "a flat white" } });
  await notes.add();
  assert.deepEqual(
    notes.data.notes.map((note) => note.text),
    ["a flat white"],
  );
  assert.equal(wx.fake.requestCount("/api/auth/wechat/login"), 1);

  const order = mini.page("order/order");
  order.onLoad({ product: "coffee" });
  await order.pay();
  assert.equal(order.data.error, "");
  assert.equal(order.data.state, "paid");
});
