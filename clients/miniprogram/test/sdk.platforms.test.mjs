// The built SDK on every platform, against a real `minibase serve --dev`: init finds the
// runtime and its app id, the first call logs in silently with the platform's own login, and
// data, functions and the server's errors behave the same on WeChat, Alipay, Douyin, Baidu
// and QQ.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GLOBALS, fakePlatform, useGlobal } from "./support/fakes.mjs";
import { LOGIN_API, appOn, failure, minibase } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";

const FUNCTIONS = `
from minibase.functions import ApiError, function


@function(auth="user")
async def greet(ctx, input):
    return {"hello": input["name"]}


@function(auth="user")
async def book(ctx, input):
    raise ApiError("shop.closed", 409, "the shop is closed", {"opens": "09:00"})
`;

let server;
before(async () => {
  server = await startServer({ functions: { "shop.py": FUNCTIONS } });
  await server.createCollection({
    name: "notes",
    fields: {
      text: { type: "string" },
      score: { type: "integer", default: 0 },
      tags: { type: "array", items: { type: "string" } },
      done: { type: "boolean", default: false },
    },
    rules: { preset: "owner_only" },
  });
});
after(() => server?.stop());

const PLATFORMS = Object.keys(GLOBALS);

describe("init", () => {
  for (const platform of PLATFORMS) {
    it(`finds ${GLOBALS[platform]} and reads the app id from it`, (t) => {
      const { app } = appOn(t, platform, server);
      assert.equal(app.platform, platform);
      assert.equal(app.appid, server.apps[platform]);
    });
  }

  it("with no mini program runtime, rejects with client.unsupported", () => {
    const restore = useGlobal(fakePlatform("wechat", server));
    delete globalThis.wx; // useGlobal took every other runtime global away
    try {
      assert.throws(() => minibase.init({ url: server.url }), {
        name: "MinibaseError",
        code: "client.unsupported",
      });
    } finally {
      restore();
    }
  });

  it("without an http(s) url, rejects with client.invalid_argument", (t) => {
    appOn(t, "wechat", server); // a runtime is there: the url alone is wrong
    for (const url of [undefined, "", "api.example.com", "ftp://api.example.com"]) {
      assert.throws(() => minibase.init({ url }), {
        name: "MinibaseError",
        code: "client.invalid_argument",
      });
    }
  });

  it("with platform, picks that runtime when several are present", (t) => {
    const { runtime } = appOn(t, "wechat", server);
    globalThis.tt = fakePlatform("douyin", server); // taken away again with wx after the test
    assert.equal(minibase.init({ url: server.url }).platform, "douyin");
    const app = minibase.init({ url: server.url, platform: "wechat" });
    assert.equal(app.platform, "wechat");
    assert.equal(app.appid, runtime.fake.appid);
  });
});

for (const platform of PLATFORMS) {
  const loginPath = `/api/auth/${platform}/login`;

  describe(`on ${platform}`, () => {
    it(`the first call logs in silently with ${GLOBALS[platform]}.${LOGIN_API[platform]}, once`, async (t) => {
      const { app, runtime, logins } = appOn(t, platform, server, { person: "first" });
      assert.equal(app.auth.currentUser, null);
      const notes = app.database().collection("notes");
      const [first, second] = await Promise.all([notes.get(), notes.count()]);
      assert.deepEqual(first, { data: [], nextCursor: null });
      assert.deepEqual(second, { total: 0 });
      await notes.get();

      const expected = Object.fromEntries(Object.keys(logins).map((name) => [name, 0]));
      expected[LOGIN_API[platform]] = 1;
      assert.deepEqual(logins, expected);
      assert.equal(runtime.fake.requestCount(loginPath), 1);
      const [identity] = app.auth.currentUser.identities;
      assert.equal(identity.platform, platform);
      assert.equal(identity.appid, server.apps[platform]);
    });

    it("a record is added, read, updated with commands, set and removed", async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: "writer" });
      const db = app.database();
      const _ = db.command;
      const notes = db.collection("notes");

      const { _id } = await notes.add({ data: { text: "milk", score: 1, tags: ["shop"] } });
      const { data: added } = await notes.doc(_id).get();
      assert.equal(added.text, "milk");
      assert.equal(added._version, 1);

      const updated = await notes.doc(_id).update({ data: { score: _.inc(2), tags: _.push("today") } });
      assert.equal(updated.stats.updated, 1);
      assert.equal(updated.data.score, 3);
      assert.deepEqual(updated.data.tags, ["shop", "today"]);
      // no platform's request sends PATCH: a POST stands for it
      const recordPath = `/api/collections/notes/records/${_id}`;
      const sent = runtime.fake.requests.filter((request) => request.path === recordPath);
      const patch = sent.find((request) => request.method !== "GET");
      assert.equal(patch.method, "POST");
      assert.equal(patch.headers["x-http-method-override"], "PATCH");

      const replaced = await notes.doc(_id).set({ data: { text: "oat milk" } });
      assert.equal(replaced.stats.updated, 1);
      const { data: read } = await notes.doc(_id).get();
      assert.equal(read.text, "oat milk");
      assert.equal(read.score, 0); // set replaces: the left-out fields take their defaults
      assert.equal(read.tags, undefined);

      assert.deepEqual(await notes.doc(_id).remove(), { stats: { removed: 1 } });
      const gone = await failure(notes.doc(_id).get());
      assert.equal(gone.code, "records.not_found");
      assert.equal(gone.status, 404);
    });

    it("where().update() and where().remove() change every match", async (t) => {
      const { app } = appOn(t, platform, server, { person: "bulk" });
      const db = app.database();
      const _ = db.command;
      const notes = db.collection("notes");
      await notes.add({ data: [{ text: "a", score: 1 }, { text: "b", score: 5 }, { text: "c", score: 9 }] });

      const updated = await notes.where({ score: _.gte(5) }).update({ data: { done: true } });
      assert.equal(updated.stats.updated, 2);
      const done = await notes.where({ done: true }).orderBy("text", "asc").get();
      assert.deepEqual(
        done.data.map((note) => note.text),
        ["b", "c"],
      );

      const removed = await notes.where({ done: true }).remove();
      assert.equal(removed.stats.removed, 2);
      const left = await notes.get();
      assert.deepEqual(
        left.data.map((note) => note.text),
        ["a"],
      );
    });

    it("get() pages by cursor over three pages, and count() counts", async (t) => {
      const { app } = appOn(t, platform, server, { person: "pager" });
      const db = app.database();
      const _ = db.command;
      const notes = db.collection("notes");
      const scores = [1, 2, 3, 4, 5, 6, 7, 8];
      await notes.add({ data: scores.map((score) => ({ text: `n${score}`, score })) });

      const query = notes.where({ score: _.gte(2) }).orderBy("score", "desc").limit(3);
      const pages = [];
      let page = await query.get();
      pages.push(page.data.map((note) => note.score));
      while (page.nextCursor) {
        page = await query.after(page.nextCursor).get();
        pages.push(page.data.map((note) => note.score));
      }
      assert.deepEqual(pages, [
        [8, 7, 6],
        [5, 4, 3],
        [2],
      ]);
      const handedBack = [];
      for (let at = await query.get(); at; at = await at.next()) {
        handedBack.push(at.data.map((note) => note.score));
      }
      assert.deepEqual(handedBack, pages, "each page hands back the next");
      assert.deepEqual(await notes.where({ score: _.gte(2) }).count(), { total: 7 });
      assert.deepEqual(await notes.count(), { total: 8 });
    });

    it("a stale _version arrives as records.version_conflict with status, request id and details", async (t) => {
      const { app } = appOn(t, platform, server, { person: "racer" });
      const db = app.database();
      const notes = db.collection("notes");
      const { _id } = await notes.add({ data: { text: "draft" } });
      const { data: read } = await notes.doc(_id).get();
      await notes.doc(_id).update({ data: { text: "someone else's edit" } });

      const conflict = await failure(
        notes.doc(_id).update({ data: { text: "mine", _version: read._version } }),
      );
      assert.equal(conflict.code, "records.version_conflict");
      assert.equal(conflict.status, 409);
      assert.match(conflict.requestId, /\S/);
      assert.equal(conflict.details.current_version, read._version + 1);
      assert.equal((await notes.doc(_id).get()).data.text, "someone else's edit");
    });

    it("callFunction answers { result }, and a function's error arrives with its code", async (t) => {
      const { app } = appOn(t, platform, server, { person: "caller" });
      assert.deepEqual(await app.callFunction({ name: "greet", data: { name: "ann" } }), {
        result: { hello: "ann" },
      });

      const closed = await failure(app.callFunction({ name: "book", data: {} }));
      assert.equal(closed.code, "shop.closed");
      assert.equal(closed.status, 409);
      assert.equal(closed.message, "the shop is closed");
      assert.deepEqual(closed.details, { opens: "09:00" });
      assert.match(closed.requestId, /\S/);
    });
  });
}

describe("Douyin guests", () => {
  it("someone not logged in to Douyin signs in with the anonymous code alone, as a guest", async (t) => {
    const { app, runtime } = appOn(t, "douyin", server, { person: "visitor" });
    runtime.fake.loggedIn = false;
    await app.database().collection("notes").add({ data: { text: "a guest's note" } });

    const [login] = runtime.fake.requests.filter((request) => request.path === "/api/auth/douyin/login");
    assert.deepEqual(Object.keys(JSON.parse(login.body)).sort(), ["anonymous_code", "appid"]);
    assert.equal(runtime.fake.loggedIn, false, "tt.login was called with force: false");
    const [identity] = app.auth.currentUser.identities;
    assert.equal(identity.guest, true);
    const { data } = await app.database().collection("notes").get();
    assert.deepEqual(
      data.map((note) => note.text),
      ["a guest's note"],
    );
  });
});
