// What docs/realtime.md shows "From the mini program", run as a reader would on WeChat: the
// doc's chat page under a fake Page and getApp (holding the SDK inited against a real
// `minibase serve --dev`), with another user writing to the room over HTTP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { docBlock } from "./support/docs.mjs";
import { appOn } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";

let server;
before(async () => {
  server = await startServer();
  // the collection the doc describes
  await server.createCollection({
    name: "messages",
    fields: { room: { type: "string" }, text: { type: "string" } },
    rules: { preset: "public_read_owner_write" },
  });
});
after(() => server?.stop());

/** Runs the doc's page as WeChat would: answers the page instance. */
function openPage(app) {
  let page;
  const Page = (options) => {
    page = Object.assign(Object.create(options), { data: structuredClone(options.data) });
    page.setData = (changes) => Object.assign(page.data, changes);
  };
  const js = docBlock("realtime.md", "js", "## From the mini program");
  new Function("getApp", "Page", js)(() => ({ minibase: app }), Page);
  return page;
}

async function waitFor(condition, what) {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`waited for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

describe("docs/realtime.md, from the mini program", () => {
  it("shows the room's messages, newest first, as they are written", async (t) => {
    const { app, runtime } = appOn(t, "wechat", server, { person: "reader" });
    const { access_token: bob } = await server.login("wechat", "bob");
    const post = (room, text) =>
      server.api("POST", "/api/collections/messages/records", { room, text }, bob);
    await post("r1", "before the page opened");

    const page = openPage(app);
    page.onLoad();
    const texts = () => page.data.messages.map((message) => message.text);
    await waitFor(() => texts().length === 1, "the first snapshot");
    assert.deepEqual(texts(), ["before the page opened"]);

    await page.send({ detail: { value: "hello" } });
    await waitFor(() => texts().length === 2, "the reader's own message");
    await post("r2", "another room");
    await post("r1", "hi from bob");
    await waitFor(() => texts().length === 3, "bob's message");
    assert.deepEqual(texts(), ["hi from bob", "hello", "before the page opened"]);
    assert.equal(page.data.error, undefined);

    page.onUnload();
    const [socket] = runtime.fake.sockets;
    await waitFor(() => socket.closed, "the socket to close");
    assert.equal(runtime.fake.sockets.length, 1);
  });
});
