// watch() on each platform's own connectSocket (socket.mjs), with the server played in memory
// (docs/realtime.md's protocol, by the book): one socket shared by every watch and closed with
// the last; the sign-in before any subscription; CloudBase's snapshots; a dropped socket or
// the server's 4008 resumed from the last event, a resync delivered as a new init snapshot;
// a refused subscription ending its watch alone.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { GLOBALS } from "./support/fakes.mjs";
import { appOn } from "./support/sdk.mjs";
import { APPS } from "./support/server.mjs";
import { changes, closeWatches, follow } from "./support/watch.mjs";

const PLATFORMS = Object.keys(GLOBALS);
/** Nothing listens there: these tests make no HTTP request (the session is planted). */
const NOWHERE = { url: "http://127.0.0.1:9", apps: APPS };
const USER = "01user";

afterEach(closeWatches);

/** The realtime endpoint as the server plays it, for any number of sockets. */
class FakeRealtime {
  constructor() {
    this.seq = 100;
    /** changes kept for resuming: { seq, collection, change, doc } */
    this.log = [];
    this.records = new Map(); // collection -> Map(id -> doc)
    this.connections = [];
    /** collection -> the error a subscription to it gets */
    this.refuse = {};
  }

  /** phone.socketPeer */
  peer = (url, headers, handlers) => {
    const connection = { url, headers, handlers, subscriptions: new Set(), open: true };
    this.connections.push(connection);
    const later = (fn) => setImmediate(() => connection.open && fn());
    setImmediate(() => {
      handlers.open();
      const token = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
      if (token) this.reply(connection, { type: "authenticated", user: USER, expires: 2e9 });
    });
    return {
      send: (text) => later(() => this.handle(connection, JSON.parse(text))),
      close: (code, reason) => this.end(connection, code, reason),
      drop: () => this.end(connection, 1006, ""),
    };
  };

  get open() {
    return this.connections.filter((connection) => connection.open);
  }

  reply(connection, frame) {
    if (connection.open) connection.handlers.message(JSON.stringify(frame));
  }

  end(connection, code, reason) {
    if (!connection.open) return;
    connection.open = false;
    setImmediate(() => connection.handlers.close(code, reason));
  }

  /** The server closes every socket, as on a slow reader (4008) or a restart (1012). */
  closeAll(code, reason = "") {
    for (const connection of this.open) this.end(connection, code, reason);
  }

  handle(connection, frame) {
    if (frame.type === "auth") {
      this.reply(connection, { type: "authenticated", user: USER, expires: 2e9 });
    } else if (frame.type === "subscribe") {
      this.subscribe(connection, frame);
    } else if (frame.type === "unsubscribe") {
      connection.subscriptions.delete(frame.id);
      this.reply(connection, { type: "unsubscribed", id: frame.id });
    } else if (frame.type === "ping") {
      this.reply(connection, { type: "pong" });
    }
  }

  subscribe(connection, { id, collection, since }) {
    const refused = this.refuse[collection];
    if (refused) return this.reply(connection, { type: "error", id, ...refused });
    connection.subscriptions.add(`${id} ${collection}`);
    const oldest = this.log.length ? this.log[0].seq : this.seq + 1;
    if (since !== undefined && since >= oldest - 1) {
      this.reply(connection, { type: "resumed", id, event: since });
      for (const entry of this.log) {
        if (entry.seq > since && entry.collection === collection) {
          this.reply(connection, { type: "change", id, event: entry.seq, change: entry.change, doc: entry.doc });
        }
      }
      return;
    }
    if (since !== undefined) this.reply(connection, { type: "resync", id, since });
    const docs = [...(this.records.get(collection)?.values() ?? [])];
    this.reply(connection, { type: "snapshot", id, event: this.seq, docs });
  }

  /** A committed write: "add", "update" or "remove" of `doc` in `collection`. */
  write(collection, change, doc) {
    const seq = ++this.seq;
    const records = this.records.get(collection) ?? new Map();
    this.records.set(collection, records);
    if (change === "remove") records.delete(doc._id);
    else records.set(doc._id, doc);
    this.log.push({ seq, collection, change, doc });
    for (const connection of this.open) {
      for (const subscription of connection.subscriptions) {
        const [id, watched] = subscription.split(" ");
        if (watched === collection) this.reply(connection, { type: "change", id, event: seq, change, doc });
      }
    }
    return seq;
  }

  /** The change log is pruned: resuming from before now is no longer possible. */
  prune() {
    this.log = [];
  }
}

/** The app on `platform` with a signed-in user (planted: no login request) and the server
 * played by a FakeRealtime. */
function signedIn(t, platform) {
  const { app, runtime } = appOn(t, platform, NOWHERE, { person: "ann" });
  runtime.fake.storage.set(`minibase:session:${app.appid}`, {
    access_token: "token-1",
    refresh_token: "refresh-1",
    expires_at: Date.now() + 3_600_000,
    user: { id: USER, roles: [], profile: {}, phone: null },
  });
  const realtime = new FakeRealtime();
  runtime.fake.socketPeer = realtime.peer;
  return { app, runtime, realtime, db: app.database() };
}

const doc = (id, fields = {}) => ({ _id: id, _version: 1, ...fields });

async function waitFor(condition, what) {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`waited for ${what}`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

for (const platform of PLATFORMS) {
  describe(`watch() on ${platform}'s connectSocket`, () => {
    it("signs in, then subscribes; one socket for every watch, closed with the last", async (t) => {
      const { runtime, realtime, db } = signedIn(t, platform);
      realtime.write("posts", "add", doc("p1", { title: "one" }));
      const posts = follow(db.collection("posts").where({ title: "one" }).orderBy("title", "asc").limit(5));
      const notes = follow(db.collection("notes"));
      const [first, second] = await Promise.all([posts.next(), notes.next()]);
      assert.deepEqual(first.docs, [doc("p1", { title: "one" })]);
      assert.deepEqual(second.docs, []);

      assert.equal(runtime.fake.sockets.length, 1, "one socket");
      const [socket] = runtime.fake.sockets;
      assert.equal(socket.url, "ws://127.0.0.1:9/api/realtime");
      assert.equal(socket.headers.authorization, "Bearer token-1");
      const [auth, ...subscribes] = socket.sent;
      assert.deepEqual(auth, { type: "auth", token: "token-1" });
      assert.deepEqual(
        subscribes.map(({ id, ...frame }) => frame),
        [
          { type: "subscribe", collection: "posts", filter: { title: "one" }, sort: "title", limit: 5 },
          { type: "subscribe", collection: "notes" },
        ],
      );

      await posts.close();
      assert.deepEqual(socket.sent.at(-1), { type: "unsubscribe", id: subscribes[0].id });
      assert.equal(socket.closed, undefined, "still open for the other watch");
      await notes.close();
      await waitFor(() => socket.closed, "the socket to close");
      assert.equal(socket.closed.code, 1000);
      realtime.write("notes", "add", doc("n1"));
      await notes.quiet(50);
    });

    it("answers CloudBase's snapshots, docs in orderBy order", async (t) => {
      const { realtime, db } = signedIn(t, platform);
      realtime.write("posts", "add", doc("a", { score: 1, author: { name: "x" } }));
      realtime.write("posts", "add", doc("b", { score: 3, author: { name: "y" } }));
      const feed = follow(db.collection("posts").orderBy("author.name", "desc"));
      const init = await feed.next();
      assert.equal(init.type, "init");
      assert.equal(init.id, 102);
      assert.deepEqual(changes(init), [
        ["init", "init", "b"],
        ["init", "init", "a"],
      ]);

      realtime.write("posts", "add", doc("c", { score: 2, author: { name: "z" } }));
      const added = await feed.next();
      assert.deepEqual(
        { id: added.id, type: added.type, changes: changes(added) },
        { id: 103, type: undefined, changes: [["add", "enqueue", "c"]] },
      );
      assert.deepEqual(added.docs.map((d) => d._id), ["c", "b", "a"]);

      realtime.write("posts", "update", { ...doc("c", { score: 5, author: { name: "a" } }), _version: 2 });
      const updated = await feed.next();
      assert.deepEqual(changes(updated), [["update", "update", "c"]]);
      assert.deepEqual(updated.docChanges[0].updatedFields, {
        score: 5,
        author: { name: "a" },
        _version: 2,
      });
      assert.deepEqual(updated.docChanges[0].removedFields, []);
      assert.deepEqual(updated.docs.map((d) => d._id), ["b", "a", "c"]);

      // changed into the query (a later version) is an update that enqueues
      realtime.write("posts", "add", { ...doc("d", { author: { name: "m" } }), _version: 4 });
      assert.deepEqual(changes(await feed.next()), [["update", "enqueue", "d"]]);

      realtime.write("posts", "remove", doc("b"));
      const removed = await feed.next();
      assert.deepEqual(changes(removed), [["remove", "dequeue", "b"]]);
      assert.deepEqual(removed.docs.map((d) => d._id), ["a", "d", "c"]); // x, m, a
      await feed.close();
    });

    it("reconnects when the socket drops or the server says too slow, and resumes from the last event", async (t) => {
      const { runtime, realtime, db } = signedIn(t, platform);
      const feed = follow(db.collection("posts"));
      await feed.next();
      realtime.write("posts", "add", doc("p1"));
      const seen = await feed.next();

      runtime.fake.sockets[0].drop(); // the network: no close frame
      realtime.write("posts", "add", doc("p2")); // missed while away
      const caught = await feed.next();
      assert.deepEqual(changes(caught), [["add", "enqueue", "p2"]]);
      assert.equal(caught.type, undefined);
      const second = runtime.fake.sockets[1];
      assert.deepEqual(second.sent[0], { type: "auth", token: "token-1" });
      assert.equal(second.sent[1].since, seen.id);

      realtime.closeAll(4008, "too slow: reconnect and resume from your last event");
      realtime.write("posts", "update", { ...doc("p1", { title: "x" }), _version: 2 });
      const updated = await feed.next();
      assert.deepEqual(changes(updated), [["update", "update", "p1"]]);
      assert.equal(runtime.fake.sockets.length, 3);
      assert.deepEqual(updated.docs.map((d) => d._id), ["p1", "p2"]);
      await feed.quiet(50); // each change once
      await feed.close();
    });

    it("takes a resync as a new init snapshot, nothing lost", async (t) => {
      const { runtime, realtime, db } = signedIn(t, platform);
      const feed = follow(db.collection("posts"));
      await feed.next();
      realtime.write("posts", "add", doc("p1"));
      await feed.next();

      runtime.fake.sockets[0].drop();
      realtime.write("posts", "add", doc("p2"));
      realtime.write("posts", "remove", doc("p1"));
      realtime.prune(); // gone before the client is back
      const fresh = await feed.next();
      assert.equal(fresh.type, "init");
      assert.deepEqual(changes(fresh), [["init", "init", "p2"]]);
      assert.deepEqual(fresh.docs, [doc("p2")]);
      const frames = runtime.fake.sockets[1].received.map((frame) => frame.type);
      assert.deepEqual(frames.slice(-2), ["resync", "snapshot"]);
      await feed.close();
    });

    it("ends only the watch the server refuses, with its code", async (t) => {
      const { runtime, realtime, db } = signedIn(t, platform);
      realtime.refuse.audit = { code: "auth.forbidden", message: "admins only" };
      const good = follow(db.collection("posts"));
      const bad = follow(db.collection("audit"));
      const error = await bad.error();
      assert.equal(error.name, "MinibaseError");
      assert.deepEqual([error.code, error.message], ["auth.forbidden", "admins only"]);
      await good.next();
      realtime.write("posts", "add", doc("p1"));
      assert.deepEqual(changes(await good.next()), [["add", "enqueue", "p1"]]);
      assert.equal(runtime.fake.sockets[0].closed, undefined);
      await bad.close(); // already ended: nothing to do
      await good.close();
    });
  });
}

describe("watch()", () => {
  it("signed out, ends with auth.required and opens no socket", async (t) => {
    const { app, runtime, db } = signedIn(t, "wechat");
    await app.auth.signOut();
    const feed = follow(db.collection("posts"));
    assert.equal((await feed.error()).code, "auth.required");
    assert.deepEqual(runtime.fake.sockets, []);
  });

  it("ends every watch with auth.required when the user signs out, and closes the socket", async (t) => {
    const { app, runtime, db } = signedIn(t, "alipay");
    const feed = follow(db.collection("posts"));
    await feed.next();
    await app.auth.signOut();
    assert.equal((await feed.error()).code, "auth.required");
    await waitFor(() => runtime.fake.sockets[0].closed, "the socket to close");
    assert.equal(runtime.fake.sockets.length, 1, "no other socket");
  });

  it("takes both listeners, where, orderBy and limit; not field, expand or after", (t) => {
    const { runtime, db } = signedIn(t, "wechat");
    const posts = db.collection("posts");
    const listeners = { onChange() {}, onError() {} };
    const refused = (query, code) =>
      assert.throws(() => query.watch(listeners), { name: "MinibaseError", code });
    refused(posts.field({ title: true }), "client.unsupported");
    refused(posts.expand("author"), "client.unsupported");
    refused(posts.doc("p1").expand("author"), "client.unsupported");
    refused(posts.after("cursor"), "client.invalid_argument");
    refused(posts.skip(1), "client.unsupported");
    refused(posts.limit(0), "client.invalid_argument");
    refused(posts.where({ a: 1 }).where({ b: 2 }), "client.invalid_argument");
    assert.throws(() => posts.watch({ onChange() {} }), { code: "client.invalid_argument" });
    assert.deepEqual(runtime.fake.sockets, [], "no socket for a mistake");
  });
});
