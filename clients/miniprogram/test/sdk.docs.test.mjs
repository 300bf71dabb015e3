// What docs/client.md and examples/miniprogram show, run as a reader would: the example's copy
// of the SDK is this build, and the doc's app.js and page, under fake App, Page and getApp on
// WeChat, list, add and pay through a real `minibase serve --dev`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { REPO, docBlock } from "./support/docs.mjs";
import { SHOP, appOn, minibase } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";

let server;
before(async () => {
  server = await startServer({ functions: { "shop.py": SHOP } });
  await server.createCollection({
    name: "notes",
    fields: { text: { type: "string" }, score: { type: "integer", default: 0 } },
    rules: { preset: "owner_only" },
  });
});
after(() => server?.stop());

describe("examples/miniprogram", () => {
  it("carries this build of the SDK, byte for byte", () => {
    const built = readFileSync(new URL("../dist/minibase.js", import.meta.url));
    const copy = readFileSync(new URL("examples/miniprogram/minibase.js", REPO));
    assert.ok(copy.equals(built), "run npm run build in clients/miniprogram, and commit the copy");
  });
});

describe("docs/client.md", () => {
  it("tells the built file's size, to a fifth", () => {
    const size = JSON.parse(readFileSync(new URL("../dist/size.json", import.meta.url), "utf8"));
    const told = /about (\d+) KB \((\d+) KB gzipped\)/.exec(docBlock("client.md", "sh", "Build it"));
    assert.ok(told, "docs/client.md no longer says how big dist/minibase.js is");
    const [, raw, gzip] = told.map(Number);
    assert.ok(Math.abs(raw * 1000 - size.bytes) <= size.bytes / 5, `${size.bytes} bytes, not ${raw} KB`);
    assert.ok(Math.abs(gzip * 1000 - size.gzip) <= size.gzip / 5, `${size.gzip} gzipped, not ${gzip} KB`);
  });

  /** Runs the doc's app.js, then its page, as WeChat would: answers the page instance. */
  function launch(t) {
    const { runtime } = appOn(t, "wechat", server, { person: "reader" });
    const globals = { app: undefined, page: undefined };
    const App = (options) => (globals.app = options); // the options object is the app instance
    const getApp = () => globals.app;
    const Page = (options) => {
      const data = {};
      globals.page = Object.assign(Object.create(options), {
        data,
        setData: (changes) => Object.assign(data, changes),
      });
    };
    const require = (path) => {
      assert.equal(path, "./minibase.js");
      return minibase;
    };
    const appJs = docBlock("client.md", "js", "in `app.js`:").replace(
      "https://api.example.com",
      server.url,
    );
    new Function("require", "App", appJs)(require, App);
    globals.app.onLaunch();
    new Function("getApp", "Page", docBlock("client.md", "js", "and in a page:"))(getApp, Page);
    return { page: globals.page, app: globals.app, runtime };
  }

  it("the page lists the notes scored 5 and up, best first, and adds one", async (t) => {
    const { app, page } = launch(t);
    const notes = app.minibase.database().collection("notes");
    await notes.add({ data: [1, 7, 5, 9].map((score) => ({ text: `scored ${score}`, score })) });

    await page.onLoad();
    assert.deepEqual(
      page.data.notes.map((note) => note.text),
      ["scored 9", "scored 7", "scored 5"],
    );

    await page.add({ detail: { value: "from the page" } });
    const { data } = await notes.where({ text: "from the page" }).get();
    assert.equal(data.length, 1);
  });

  it("the page's buy pays for a coffee on WeChat", async (t) => {
    const { page, runtime } = launch(t);
    const logged = [];
    t.mock.method(console, "log", (...args) => logged.push(args));
    await page.buy();
    assert.deepEqual(logged, [["paid"]]);
    assert.equal(runtime.fake.requestCount("/api/pay/orders"), 1);
  });
});
