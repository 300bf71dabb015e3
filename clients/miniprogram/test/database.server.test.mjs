// The data API against a real `minibase serve --dev`: what each CloudBase-shaped call does to
// the records, as a signed-in user of a mini program sees it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadDatabase, userCaller } from "./support/database.mjs";
import { startServer } from "./support/server.mjs";

let server;
let db;
let _;
let collections = 0;

before(async () => {
  const [{ database, MinibaseError }, started] = await Promise.all([loadDatabase(), startServer()]);
  server = started;
  const user = await server.admin("POST", "/api/admin/users", {});
  const { access_token } = await server.admin("POST", `/api/admin/users/${user.id}/tokens`);
  db = database(userCaller(server.url, access_token, MinibaseError));
  _ = db.command;
});

after(() => server?.stop());

/** A new collection of posts the user owns and may change, for one test. */
async function posts() {
  const name = `posts${++collections}`;
  await server.admin("POST", "/api/admin/collections", {
    name,
    fields: {
      title: { type: "string", required: true },
      score: { type: "integer", default: 0 },
      tags: { type: "array", items: { type: "string" } },
      author: { type: "object", fields: { name: { type: "string" } }, additional: true },
      published: { type: "datetime" },
      place: { type: "geopoint" },
    },
    additional: true,
    rules: { preset: "owner_only" },
  });
  return db.collection(name);
}

describe("records through the data API", () => {
  test("add() creates a record, doc(id).get() reads it with the server's fields", async () => {
    const collection = await posts();
    const { _id, data } = await collection.add({
      data: {
        title: "hello",
        tags: ["news"],
        published: new Date("2026-03-01T08:00:00Z"),
        place: new db.Geo.Point(113.3, 23.1),
      },
    });
    assert.equal(data._version, 1);
    const read = await collection.doc(_id).get();
    assert.equal(read.data._id, _id);
    assert.equal(read.data.title, "hello");
    assert.equal(read.data.score, 0);
    assert.equal(read.data.published, "2026-03-01T08:00:00.000000Z");
    assert.deepEqual(read.data.place, { type: "Point", coordinates: [113.3, 23.1] });
    assert.deepEqual((await collection.doc(_id).field({ title: true }).get()).data, {
      _id,
      title: "hello",
    });
  });

  test("where() with commands finds what CloudBase's would", async () => {
    const collection = await posts();
    await collection.add({
      data: [
        { _id: "a", title: "Alpha", score: 1, tags: ["x"], author: { name: "ann" } },
        { _id: "b", title: "beta", score: 5, tags: ["x", "y"], author: { name: "bob" } },
        { _id: "c", title: "Gamma", score: 9, published: new Date("2026-05-01T00:00:00Z") },
      ],
    });
    const ids = async (condition) =>
      (await collection.where(condition).orderBy("_id", "asc").get()).data.map((r) => r._id);
    assert.deepEqual(await ids({ score: _.gte(5) }), ["b", "c"]);
    assert.deepEqual(await ids({ score: _.gt(1).lt(9) }), ["b"]);
    assert.deepEqual(await ids({ score: _.lt(2).or(_.gt(8)) }), ["a", "c"]);
    assert.deepEqual(await ids({ author: { name: "bob" } }), ["b"]);
    assert.deepEqual(await ids({ "author.name": _.in(["ann", "bob"]) }), ["a", "b"]);
    assert.deepEqual(await ids({ tags: _.all(["x", "y"]) }), ["b"]);
    assert.deepEqual(await ids({ published: _.exists(false) }), ["a", "b"]);
    assert.deepEqual(await ids({ published: _.gte(new Date("2026-04-01T00:00:00+08:00")) }), ["c"]);
    assert.deepEqual(await ids({ title: /^(alpha|gamma)$/i }), ["a", "c"]);
    assert.deepEqual(await ids({ title: db.RegExp({ regexp: "^b" }) }), ["b"]);
    assert.deepEqual(await ids({ score: _.not(_.gt(4)) }), ["a"]);
    assert.deepEqual(await ids(_.or([{ score: 9 }, { author: { name: "ann" } }])), ["a", "c"]);
    assert.deepEqual(await ids(_.nor([{ score: 9 }, { title: "beta" }])), ["a"]);
    assert.deepEqual(await ids({ _created: _.lte(new Date()) }), ["a", "b", "c"]);
    assert.deepEqual(await collection.where({ score: _.gte(5) }).count(), { total: 2 });
  });

  test("get() pages by cursor: after(nextCursor) answers the next page, to null", async () => {
    const collection = await posts();
    await collection.add({
      data: Array.from({ length: 7 }, (_, i) => ({ title: `t${i}`, score: i })),
    });
    const query = collection.where({ score: _.gte(1) }).orderBy("score", "desc").limit(3);
    const seen = [];
    let page = await query.get();
    for (;;) {
      seen.push(page.data.map((record) => record.score));
      if (!page.nextCursor) break;
      page = await query.after(page.nextCursor).get();
    }
    assert.deepEqual(seen, [[6, 5, 4], [3, 2, 1]]);
  });

  test("update() applies CloudBase's update commands on the server", async () => {
    const collection = await posts();
    const { _id } = await collection.add({
      data: {
        title: "t",
        score: 1,
        tags: ["a", "b", "c", "d"],
        author: { name: "ann", city: "gz" },
        draft: true,
      },
    });
    const answer = await collection.doc(_id).update({
      data: {
        score: _.inc(2),
        tags: _.pull("a"),
        author: { name: "bob" },
        draft: _.remove(),
        meta: _.set({ words: 3 }),
      },
    });
    assert.deepEqual(answer.stats, { updated: 1 });
    assert.equal(answer.data._version, 2);
    await collection.doc(_id).update({ data: { tags: _.push(["e", "f"]) } });
    await collection.doc(_id).update({ data: { tags: _.pullAll(["b", "e"]) } });
    await collection.doc(_id).update({ data: { tags: _.pull(_.in(["c"])) } });
    const { data } = await collection.doc(_id).get();
    assert.equal(data.score, 3);
    assert.deepEqual(data.tags, ["d", "f"]);
    assert.deepEqual(data.author, { name: "bob", city: "gz" });
    assert.equal("draft" in data, false);
    assert.deepEqual(data.meta, { words: 3 });
    assert.equal(data._version, 5);
  });

  test("_version refuses a stale write with records.version_conflict", async () => {
    const collection = await posts();
    const { _id } = await collection.add({ data: { title: "t" } });
    const { data: read } = await collection.doc(_id).get();
    await collection.doc(_id).update({ data: { title: "mine", _version: read._version } });
    await assert.rejects(
      collection.doc(_id).update({ data: { title: "theirs", _version: read._version } }),
      {
        name: "MinibaseError",
        code: "records.version_conflict",
        status: 409,
        details: { current_version: 2 },
      },
    );
    await assert.rejects(
      collection.doc(_id).set({ data: { title: "theirs", _version: read._version } }),
      { code: "records.version_conflict" },
    );
    await assert.rejects(collection.doc(_id).remove({ _version: read._version }), {
      code: "records.version_conflict",
    });
    assert.deepEqual(await collection.doc(_id).remove({ _version: 2 }), { stats: { removed: 1 } });
  });

  test("set() replaces a record, or creates it with the given id", async () => {
    const collection = await posts();
    const { _id } = await collection.add({ data: { title: "t", tags: ["a"] } });
    const replaced = await collection.doc(_id).set({ data: { title: "only" } });
    assert.deepEqual(replaced.stats, { created: 0, updated: 1 });
    assert.equal("tags" in replaced.data, false);
    const created = await collection.doc("day-2026-12-06").set({ data: { title: "new" } });
    assert.deepEqual(created, {
      _id: "day-2026-12-06",
      stats: { created: 1, updated: 0 },
      data: created.data,
    });
    assert.equal((await collection.doc("day-2026-12-06").get()).data.title, "new");
  });

  test("a missing record: get() rejects, update() and remove() answer 0", async () => {
    const collection = await posts();
    await assert.rejects(collection.doc("nope").get(), { code: "records.not_found", status: 404 });
    assert.deepEqual(await collection.doc("nope").update({ data: { title: "x" } }), {
      stats: { updated: 0 },
    });
    assert.deepEqual(await collection.doc("nope").remove(), { stats: { removed: 0 } });
  });

  test("where().update() and where().remove() change every match", async () => {
    const collection = await posts();
    const { _ids } = await collection.add({
      data: [{ title: "a", score: 1 }, { title: "b", score: 2 }, { title: "c", score: 3 }],
    });
    assert.equal(_ids.length, 3);
    const raising = collection.where({ score: _.gte(2) }).update({ data: { score: _.inc(10) } });
    const updated = await raising;
    assert.deepEqual(updated, { stats: { updated: 2, matched: 2, skipped: 0 } });
    assert.deepEqual(await collection.where({ score: _.gt(10) }).count(), { total: 2 });
    const removed = await collection.where({ score: _.lt(10) }).remove();
    assert.deepEqual(removed, { stats: { removed: 1 } });
    assert.deepEqual(await collection.count(), { total: 2 });
  });

  test("the server's refusals arrive with their codes", async () => {
    const collection = await posts();
    await assert.rejects(collection.add({ data: { title: "t", score: "high" } }), {
      code: "records.invalid",
      status: 400,
    });
    await assert.rejects(collection.add({ data: [{ title: "ok" }, { score: 1 }] }), {
      code: "records.invalid",
      details: {
        index: 1,
        problems: [{ field: "title", code: "required", message: "is required" }],
      },
    });
    assert.deepEqual(await collection.count(), { total: 0 });
    await assert.rejects(db.collection("nosuch").get(), { code: "collections.not_found" });
  });
});
