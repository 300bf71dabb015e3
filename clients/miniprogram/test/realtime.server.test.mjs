// watch() against a real `minibase serve --dev`, through each platform's connectSocket over a
// real WebSocket: the snapshot, then add, update and remove as other users write; the list
// rule; a server restart and a server that ends the session, with nothing lost.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { appOn } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";
import { changes, closeWatches, follow } from "./support/watch.mjs";

const PLATFORMS = ["wechat", "alipay", "douyin", "baidu", "qq"];
const POSTS = { title: { type: "string" }, score: { type: "integer", default: 0 } };

let server;
before(async () => {
  // short-lived access tokens, so that one test sees the socket's token refreshed
  server = await startServer({ settings: { access_token_ttl: 40 } });
  await server.createCollection({
    name: "posts",
    fields: POSTS,
    rules: { preset: "public_read_owner_write" },
  });
  await server.createCollection({
    name: "notes",
    fields: { text: { type: "string" } },
    rules: { preset: "owner_only" },
  });
});
after(() => server?.stop());
afterEach(closeWatches);

/** A user who writes over plain HTTP: bob, with his token. */
async function writer(person) {
  const { access_token: token } = await server.login("wechat", person);
  return {
    add: (collection, data) => server.api("POST", `/api/collections/${collection}/records`, data, token),
    update: (collection, id, data) =>
      server.api("PATCH", `/api/collections/${collection}/records/${id}`, data, token),
    remove: (collection, id) =>
      server.api("DELETE", `/api/collections/${collection}/records/${id}`, undefined, token),
  };
}

describe("watch() on a real server", () => {
  for (const platform of PLATFORMS) {
    it(`on ${platform}: a snapshot, then add, update and remove, over one socket`, async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: `reader-${platform}` });
      const bob = await writer(`bob-${platform}`);
      const mark = `${platform}-${Date.now()}`;
      const first = await bob.add("posts", { title: `${mark} b`, score: 2 });
      const db = app.database();
      const mine = db.collection("posts").where({ title: db.RegExp({ regexp: `^${mark}` }) });
      const feed = follow(mine.orderBy("score", "desc"));
      const init = await feed.next();
      assert.equal(init.type, "init");
      assert.deepEqual(changes(init), [["init", "init", first._id]]);
      assert.deepEqual(init.docs.map((doc) => doc.title), [`${mark} b`]);

      const second = await bob.add("posts", { title: `${mark} a`, score: 5 });
      const added = await feed.next();
      assert.equal(added.type, undefined);
      assert.deepEqual(changes(added), [["add", "enqueue", second._id]]);
      assert.deepEqual(added.docs.map((doc) => doc.score), [5, 2], "kept in orderBy order");
      assert.ok(added.id > init.id);

      await bob.update("posts", first._id, { score: 9 });
      const updated = await feed.next();
      assert.deepEqual(changes(updated), [["update", "update", first._id]]);
      assert.deepEqual(updated.docChanges[0].updatedFields.score, 9);
      assert.deepEqual(updated.docs.map((doc) => doc.score), [9, 5]);

      await bob.remove("posts", second._id);
      const removed = await feed.next();
      assert.deepEqual(changes(removed), [["remove", "dequeue", second._id]]);
      assert.deepEqual(removed.docs.map((doc) => doc._id), [first._id]);

      // a second watch shares the socket; the last close closes it
      const other = follow(db.collection("posts").limit(1));
      await other.next();
      assert.equal(runtime.fake.sockets.length, 1);
      const [socket] = runtime.fake.sockets;
      assert.match(socket.url, /^ws:\/\/127\.0\.0\.1:\d+\/api\/realtime$/);
      assert.match(socket.headers.authorization, /^Bearer /);
      assert.equal(socket.sent[0].type, "auth");
      await feed.close();
      assert.deepEqual(socket.sent.at(-1), { type: "unsubscribe", id: socket.sent[1].id });
      await other.close();
      await waitFor(() => socket.closed, "the socket to close");
      await other.quiet();
    });
  }

  it("shows only what the list rule lets the user see, and a record leaving the filter", async (t) => {
    const { app } = appOn(t, "wechat", server, { person: "ann-rules" });
    const bob = await writer("bob-rules");
    const db = app.database();
    const notes = db.collection("notes");
    const feed = follow(notes.where({ text: db.command.neq("hidden") }));
    assert.deepEqual((await feed.next()).docs, []);

    await bob.add("notes", { text: "bob's" }); // owner_only: ann never sees it
    const { _id } = await notes.add({ data: { text: "ann's" } });
    const added = await feed.next();
    assert.deepEqual(changes(added), [["add", "enqueue", _id]]);
    await notes.doc(_id).update({ data: { text: "hidden" } }); // out of the filter
    const left = await feed.next();
    // CloudBase's shape: an update that leaves the query is dataType "update", queue "dequeue"
    assert.deepEqual(changes(left), [["update", "dequeue", _id]]);
    assert.equal(left.docChanges[0].doc.text, "ann's", "as she last could see it");
    assert.deepEqual(left.docs, []);
    await feed.quiet();
    await feed.close();
  });

  it("watches one record with doc(id).watch(): before it exists, as it changes, once removed", async (t) => {
    const { app } = appOn(t, "wechat", server, { person: "ann-doc" });
    const bob = await writer("bob-doc");
    const db = app.database();
    const other = await bob.add("posts", { title: "another record", score: 1 });
    const { _id } = await bob.add("posts", { title: "watched", score: 1 });
    const feed = follow(db.collection("posts").doc(_id));
    const init = await feed.next();
    assert.equal(init.type, "init");
    assert.deepEqual(changes(init), [["init", "init", _id]]);

    await bob.update("posts", other._id, { score: 7 }); // not this record: nothing
    await bob.update("posts", _id, { score: 2 });
    const updated = await feed.next();
    assert.deepEqual(changes(updated), [["update", "update", _id]]);
    assert.deepEqual(updated.docChanges[0].updatedFields, { score: 2, _version: 2, _updated: updated.docs[0]._updated });
    await bob.remove("posts", _id);
    const removed = await feed.next();
    assert.deepEqual(changes(removed), [["remove", "dequeue", _id]]);
    assert.deepEqual(removed.docs, []);
    await feed.quiet();

    // a record not there yet: an empty snapshot, then its creation
    const later = follow(db.collection("posts").doc("made-later"));
    assert.deepEqual((await later.next()).docs, []);
    await bob.add("posts", { _id: "made-later", title: "here now" });
    const created = await later.next();
    assert.deepEqual(changes(created), [["add", "enqueue", "made-later"]]);
    assert.throws(() => db.collection("posts").doc(_id).field({ title: true }).watch({ onChange() {}, onError() {} }), {
      code: "client.unsupported",
    });
  });

  it("ends a watch the server refuses with onError, and keeps the others", async (t) => {
    const { app } = appOn(t, "wechat", server, { person: "ann-refused" });
    const db = app.database();
    const good = follow(db.collection("posts").limit(1));
    await good.next();
    const missing = follow(db.collection("nope"));
    const error = await missing.error();
    assert.equal(error.code, "collections.not_found");
    const bad = follow(db.collection("posts").orderBy("title", "asc").limit(100000));
    assert.equal((await bad.error()).code, "request.invalid_query");
    const bob = await writer("bob-refused");
    const added = await bob.add("posts", { title: "still watched" });
    await good.until((snapshot) => snapshot.docChanges.some((c) => c.docId === added._id));
    await good.close();
  });

  it("reconnects after a server restart and gets what was written meanwhile, once", async (t) => {
    const { app, runtime } = appOn(t, "douyin", server, { person: "ann-restart" });
    const bob = await writer("bob-restart");
    const mark = `restart-${Date.now()}`;
    const db = app.database();
    const feed = follow(db.collection("posts").where({ title: db.RegExp({ regexp: `^${mark}` }) }));
    await feed.next();
    const before = await bob.add("posts", { title: `${mark} 1` });
    const seen = await feed.next();
    assert.deepEqual(changes(seen), [["add", "enqueue", before._id]]);

    await server.restart();
    const meanwhile = await bob.add("posts", { title: `${mark} 2` }); // maybe before the socket is back
    const caught = await feed.until((s) => s.docs.length === 2, "the record written meanwhile");
    assert.deepEqual(changes(caught), [["add", "enqueue", meanwhile._id]]);
    assert.equal(caught.type, undefined, "resumed, not a new snapshot");
    // (attempts while the server was down opened no socket that took a frame)
    const again = runtime.fake.sockets.slice(1).find((socket) => socket.sent.length);
    assert.ok(again, "a socket after the restart");
    const resubscribe = again.sent.find((frame) => frame.type === "subscribe");
    assert.equal(resubscribe.since, seen.id, "from the last event it had");
    const after = await bob.add("posts", { title: `${mark} 3` });
    const later = await feed.next();
    assert.deepEqual(changes(later), [["add", "enqueue", after._id]]);
    assert.equal(feed.snapshots.filter((s) => s.type === "init").length, 1);
    await feed.close();
  });

  it("sends the refreshed token on the socket, and reconnects when the server ends the session", async (t) => {
    const { app, runtime } = appOn(t, "alipay", server, { person: "ann-tokens" });
    const db = app.database();
    const notes = db.collection("notes");
    const feed = follow(notes);
    await feed.next();
    const [socket] = runtime.fake.sockets;
    const firstToken = socket.sent[0].token;

    // 40 s tokens are refreshed 30 s early: within about 10 s, on the same socket
    await waitFor(
      () => socket.sent.filter((frame) => frame.type === "auth").length >= 2,
      "the refreshed token on the socket",
      15_000,
    );
    const auth = socket.sent.filter((frame) => frame.type === "auth");
    assert.notEqual(auth[1].token, firstToken);
    await waitFor(
      () => socket.received.filter((frame) => frame.type === "authenticated").length >= 3,
      "the server to take it",
    );
    assert.equal(socket.closed, undefined, "the same socket");

    // the user is signed out everywhere: auth.token_revoked, 4001; a silent login, a new socket
    const me = app.auth.currentUser;
    await server.admin("POST", `/api/admin/users/${me.id}/revoke`);
    await waitFor(() => runtime.fake.sockets.length === 2, "a new socket", 15_000);
    assert.ok(socket.received.some((frame) => frame.code === "auth.token_revoked"));
    const { _id } = await notes.add({ data: { text: "after the revocation" } });
    const added = await feed.until((s) => s.docChanges.some((c) => c.docId === _id));
    assert.deepEqual(changes(added), [["add", "enqueue", _id]]);
    assert.deepEqual(feed.errors, []);
    await feed.close();
  });
});

describe("watch() with a server that finds the client too slow", () => {
  let slow;
  before(async () => {
    slow = await startServer({ settings: { realtime_queue: 5 } });
    await slow.createCollection({ name: "posts", fields: POSTS, rules: { preset: "public_read_owner_write" } });
  });
  after(() => slow?.stop());

  it("is closed 4008, reconnects and resumes until it has every change, each once", async (t) => {
    const { app, runtime } = appOn(t, "qq", slow, { person: "ann-slow" });
    const feed = follow(app.database().collection("posts"));
    await feed.next();
    const { access_token: token } = await slow.login("wechat", "bob-slow");
    const records = Array.from({ length: 8 }, (_, i) => ({ title: `t${i}` }));
    // eight changes at once: more than the five a socket may have waiting
    const { items } = await slow.api("POST", "/api/collections/posts/records/bulk-create", { records }, token);
    const all = await feed.until((s) => s.docs.length === 8, "all eight records", 20_000);
    assert.deepEqual(new Set(all.docs.map((d) => d._id)), new Set(items.map((d) => d._id)));
    assert.equal(runtime.fake.sockets[0].closed.code, 4008);
    assert.equal(all.docs.length, new Set(all.docs.map((d) => d._id)).size, "each once");
    // more missed than a socket may hold waiting: the server answers the resume with a resync,
    // and the watcher gets them as a new "init" snapshot rather than one 4008 after another
    const resynced = feed.snapshots.filter((s) => s.type === "init").slice(1);
    assert.ok(resynced.length >= 1, "a fresh snapshot after the resync");
    assert.equal(runtime.fake.sockets.length, 2, "one reconnect, not one per change");
    await feed.close();
  });
});

async function waitFor(condition, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`waited ${ms / 1000} s for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}
