// The data API's translation from CloudBase's shape into minibase's records API: which request
// each call sends, and what it answers. (Calls refused before any request:
// database.refused.test.mjs; the requests' effect on a real server: database.server.test.mjs.)
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { loadDatabase, recordingCaller } from "./support/database.mjs";

let database;
let MinibaseError;
before(async () => ({ database, MinibaseError } = await loadDatabase()));

/** A db over a recording caller; `answer` plays the server. */
function recorded(answer) {
  const caller = recordingCaller(answer);
  const db = database(caller);
  return { db, _: db.command, calls: caller.calls };
}

/** The server's answer for an id no record has. */
function notFound() {
  return new MinibaseError("records.not_found", "no such record", { status: 404 });
}

/** The filter a where() sends. */
async function filterOf(where) {
  const { db, calls } = recorded();
  await db.collection("posts").where(where(db.command, db)).get();
  const { filter } = calls[0].query;
  return filter === undefined ? undefined : JSON.parse(filter);
}

/** The body a doc(id).update({ data }) sends. */
async function patchOf(data) {
  const { db, calls } = recorded();
  await db.collection("posts").doc("p1").update({ data: data(db.command, db) });
  assert.equal(calls[0].method, "PATCH");
  return calls[0].body;
}

describe("where() becomes minibase's filter", () => {
  test("fields with values are equality; nested objects match field by field", async () => {
    assert.deepEqual(
      await filterOf(() => ({ status: "published", author: { name: "ann", verified: true } })),
      { status: "published", "author.name": "ann", "author.verified": true },
    );
    assert.deepEqual(await filterOf(() => ({ "author.name": "ann", draft: null })), {
      "author.name": "ann",
      draft: null,
    });
  });

  test("comparison commands become $eq $ne $gt $gte $lt $lte $in $nin $exists $all", async () => {
    assert.deepEqual(
      await filterOf((_) => ({
        a: _.eq(1),
        b: _.neq("x"),
        c: _.gt(1),
        d: _.gte(2),
        e: _.lt(3),
        f: _.lte(4),
        g: _.in(["x", "y"]),
        h: _.nin([1, 2]),
        i: _.exists(true),
        j: _.exists(false),
        k: _.exists(),
        tags: _.all(["news", "tech"]),
      })),
      {
        a: { $eq: 1 },
        b: { $ne: "x" },
        c: { $gt: 1 },
        d: { $gte: 2 },
        e: { $lt: 3 },
        f: { $lte: 4 },
        g: { $in: ["x", "y"] },
        h: { $nin: [1, 2] },
        i: { $exists: true },
        j: { $exists: false },
        k: { $exists: true },
        tags: { $all: ["news", "tech"] },
      },
    );
  });

  test("a Date compares as ISO-8601 text, as datetime fields hold it", async () => {
    const since = new Date("2026-01-02T03:04:05.000Z");
    assert.deepEqual(await filterOf((_) => ({ _created: _.gte(since), day: since })), {
      _created: { $gte: "2026-01-02T03:04:05.000Z" },
      day: "2026-01-02T03:04:05.000Z",
    });
  });

  test("commands chained on one field are and-ed, or or-ed with .or", async () => {
    assert.deepEqual(await filterOf((_) => ({ score: _.gt(1).lt(9) })), {
      score: { $gt: 1, $lt: 9 },
    });
    assert.deepEqual(await filterOf((_) => ({ score: _.and(_.gt(1), _.lt(9)) })), {
      score: { $gt: 1, $lt: 9 },
    });
    assert.deepEqual(await filterOf((_) => ({ score: _.gt(80).or(_.lt(20)) })), {
      $or: [{ score: { $gt: 80 } }, { score: { $lt: 20 } }],
    });
    assert.deepEqual(await filterOf((_) => ({ score: _.or([_.gt(80), _.lt(20), 50]) })), {
      $or: [{ score: { $gt: 80 } }, { score: { $lt: 20 } }, { score: 50 }],
    });
    assert.deepEqual(await filterOf((_) => ({ score: _.exists().nor([_.lt(20), _.gt(80)]) })), {
      score: { $exists: true },
      $nor: [{ score: { $lt: 20 } }, { score: { $gt: 80 } }],
    });
  });

  test("_.not negates a field's condition", async () => {
    assert.deepEqual(await filterOf((_) => ({ score: _.not(_.gt(5)) })), {
      score: { $not: { $gt: 5 } },
    });
    assert.deepEqual(await filterOf((_) => ({ score: _.not(_.or(_.lt(0), _.gt(9))) })), {
      $not: { $or: [{ score: { $lt: 0 } }, { score: { $gt: 9 } }] },
    });
  });

  test("_.and, _.or and _.nor combine whole conditions", async () => {
    assert.deepEqual(await filterOf((_) => _.or([{ score: _.gt(80) }, { done: true }])), {
      $or: [{ score: { $gt: 80 } }, { done: true }],
    });
    assert.deepEqual(await filterOf((_) => _.or({ a: 1 }, { b: 2 })), {
      $or: [{ a: 1 }, { b: 2 }],
    });
    assert.deepEqual(await filterOf((_) => _.and([{ a: _.gt(1) }, { a: _.lt(5) }, { b: 2 }])), {
      a: { $gt: 1, $lt: 5 },
      b: 2,
    });
    assert.deepEqual(
      await filterOf((_) => _.nor([{ a: 1 }, { tags: _.all(["x"]) }]).and({ a: _.exists(true) })),
      { $nor: [{ a: 1 }, { tags: { $all: ["x"] } }], a: { $exists: true } },
    );
    assert.deepEqual(await filterOf((_) => _.not({ a: 1 })), { $not: { a: 1 } });
  });

  test("conditions that cannot share one object are joined with $and", async () => {
    assert.deepEqual(await filterOf((_) => ({ a: _.or(1, 2), b: _.or(3, 4) })), {
      $and: [{ $or: [{ a: 1 }, { a: 2 }] }, { $or: [{ b: 3 }, { b: 4 }] }],
    });
    assert.deepEqual(await filterOf((_) => ({ a: { b: 1 }, "a.b": _.gt(0) })), {
      $and: [{ "a.b": 1 }, { "a.b": { $gt: 0 } }],
    });
  });

  test("regular expressions: a JS RegExp or db.RegExp, with or without new", async () => {
    assert.deepEqual(await filterOf(() => ({ title: /^mini/i, body: /pro.ram/ })), {
      title: { $regex: "^mini", $options: "i" },
      body: { $regex: "pro.ram" },
    });
    assert.deepEqual(
      await filterOf((_, db) => ({
        a: db.RegExp({ regexp: "^x", options: "i" }),
        b: new db.RegExp({ regexp: "y$" }),
      })),
      { a: { $regex: "^x", $options: "i" }, b: { $regex: "y$" } },
    );
  });

  test("_.search is the server's $search, alone or beside other conditions", async () => {
    assert.deepEqual(await filterOf((_) => _.search("拿铁")), { $search: "拿铁" });
    assert.deepEqual(await filterOf((_) => _.and([_.search("拿铁"), { price: _.lt(30) }])), {
      $search: "拿铁",
      price: { $lt: 30 },
    });
    assert.deepEqual(await filterOf((_) => _.and(_.search("la"), _.or([{ a: 1 }, { b: 2 }]))), {
      $search: "la",
      $or: [{ a: 1 }, { b: 2 }],
    });
    assert.deepEqual(await filterOf((_) => _.or([_.search("拿铁"), _.search("摩卡")])), {
      $or: [{ $search: "拿铁" }, { $search: "摩卡" }],
    });
    // 2 and 100 characters as the server counts them: code points, not UTF-16 units
    assert.deepEqual(await filterOf((_) => _.search("☕🍵")), { $search: "☕🍵" });
    const long = "拿".repeat(100);
    assert.deepEqual(await filterOf((_) => _.search(long)), { $search: long });
  });

  test("an empty where() sends no filter", async () => {
    assert.equal(await filterOf(() => ({})), undefined);
  });
});

describe("get() lists a page; after(nextCursor) lists the next", () => {
  test("orderBy, limit and field become sort, limit and fields", async () => {
    const { db, _, calls } = recorded();
    await db
      .collection("posts")
      .where({ score: _.gte(5) })
      .orderBy("score", "desc")
      .orderBy("title", "asc")
      .limit(10)
      .field({ title: true, "author.name": 1 })
      .get();
    assert.deepEqual(calls, [
      {
        method: "GET",
        path: "/api/collections/posts/records",
        query: {
          filter: '{"score":{"$gte":5}}',
          sort: "-score,title",
          fields: "title,author.name",
          expand: undefined,
          limit: 10,
          cursor: undefined,
        },
      },
    ]);
  });

  test("the answer is { data, nextCursor }, and the cursor asks for the next page", async () => {
    const pages = {
      undefined: { items: [{ _id: "a" }, { _id: "b" }], next_cursor: "c1" },
      c1: { items: [{ _id: "c" }], next_cursor: null },
    };
    const { db, calls } = recorded((call) => pages[call.query.cursor]);
    const posts = db.collection("posts").orderBy("score", "desc").limit(2);
    const first = await posts.get();
    assert.deepEqual(first, { data: [{ _id: "a" }, { _id: "b" }], nextCursor: "c1" });
    const second = await posts.after(first.nextCursor).get();
    assert.deepEqual(second, { data: [{ _id: "c" }], nextCursor: null });
    assert.equal(calls[1].query.sort, "-score");
    assert.equal(calls[1].query.limit, 2);
  });

  test("a query is a value: building on it leaves it as it was", async () => {
    const { db, calls } = recorded();
    const all = db.collection("posts");
    const published = all.where({ status: "published" });
    await all.get();
    await published.limit(5).get();
    await published.get();
    assert.deepEqual(
      calls.map((call) => [call.query.filter, call.query.limit]),
      [
        [undefined, undefined],
        ['{"status":"published"}', 5],
        ['{"status":"published"}', undefined],
      ],
    );
  });

  test("count() asks for the total of the same filter", async () => {
    const { db, _, calls } = recorded(() => ({ items: [], next_cursor: null, total: 42 }));
    const answer = await db.collection("posts").where({ score: _.gt(1) }).count();
    assert.deepEqual(answer, { total: 42 });
    assert.deepEqual(calls[0].query, {
      filter: '{"score":{"$gt":1}}',
      count: true,
      limit: 1,
      fields: "_id",
    });
  });
});

describe("expand() brings related records under _expand", () => {
  test("a query sends its paths as expand, each once; records come as answered", async () => {
    const post = { _id: "p1", author: "ann", _expand: { author: { _id: "ann", name: "Ann" } } };
    const { db, calls } = recorded(() => ({ items: [post], next_cursor: null }));
    const page = await db
      .collection("posts")
      .expand("author", "comments_via_post.author", "author")
      .field({ title: true })
      .get();
    assert.deepEqual(page.data, [post]);
    assert.equal(calls[0].query.expand, "author,comments_via_post.author");
    assert.equal(calls[0].query.fields, "title");
    await db.collection("posts").expand(["author", "meta.editor"]).get();
    assert.equal(calls[1].query.expand, "author,meta.editor");
  });

  test("the last expand() counts, and the query it was built on is left as it was", async () => {
    const { db, calls } = recorded();
    const posts = db.collection("posts").expand("author");
    await posts.expand("comments_via_post").get();
    await posts.get();
    await db.collection("posts").get();
    assert.deepEqual(
      calls.map((call) => call.query.expand),
      ["comments_via_post", "author", undefined],
    );
  });

  test("the pages after next() and after(cursor) expand the same", async () => {
    const pages = {
      undefined: { items: [{ _id: "a" }], next_cursor: "c1" },
      c1: { items: [{ _id: "b" }], next_cursor: "c2" },
      c2: { items: [], next_cursor: null },
    };
    const { db, calls } = recorded((call) => pages[call.query.cursor]);
    const posts = db.collection("posts").where({ draft: false }).expand("author").limit(1);
    const first = await posts.get();
    const second = await first.next();
    await posts.after(second.nextCursor).get();
    assert.deepEqual(
      calls.map((call) => [call.query.cursor, call.query.expand, call.query.filter]),
      [
        [undefined, "author", '{"draft":false}'],
        ["c1", "author", '{"draft":false}'],
        ["c2", "author", '{"draft":false}'],
      ],
    );
  });

  test("doc(id).expand() reads one record with its relations, beside field()", async () => {
    const { db, calls } = recorded(() => ({ _id: "p1", _expand: { author: { _id: "ann" } } }));
    const { data } = await db
      .collection("posts")
      .doc("p1")
      .field({ title: true })
      .expand("author", "comments_via_post")
      .get();
    assert.deepEqual(data._expand, { author: { _id: "ann" } });
    assert.deepEqual(calls[0].query, { fields: "title", expand: "author,comments_via_post" });
  });

  test("count() and writes do not send it", async () => {
    const { db, calls } = recorded(() => ({ items: [], next_cursor: null, total: 0 }));
    await db.collection("posts").expand("author").count();
    await db.collection("posts").doc("p1").expand("author").update({ data: { a: 1 } });
    assert.equal(calls[0].query.expand, undefined);
    assert.equal(calls[1].query, undefined);
  });
});

describe("one record: doc(id)", () => {
  const stored = { _id: "p1", _version: 2, title: "t" };

  test("get() reads it as { data }, field() picks fields", async () => {
    const { db, calls } = recorded(() => stored);
    assert.deepEqual(await db.collection("posts").doc("p1").get(), { data: stored });
    await db.collection("posts").doc("p 1").field({ title: true }).get();
    assert.deepEqual(calls, [
      {
        method: "GET",
        path: "/api/collections/posts/records/p1",
        query: { fields: undefined, expand: undefined },
      },
      {
        method: "GET",
        path: "/api/collections/posts/records/p%201",
        query: { fields: "title", expand: undefined },
      },
    ]);
  });

  test("set() replaces it with PUT, dates and points as the server stores them", async () => {
    const { db, calls } = recorded(() => stored);
    const answer = await db
      .collection("posts")
      .doc("p1")
      .set({
        data: {
          title: "t",
          due: new Date("2026-09-01T00:00:00Z"),
          place: new db.Geo.Point(113, 23),
          skipped: undefined,
        },
      });
    assert.deepEqual(answer, { _id: "p1", stats: { created: 0, updated: 1 }, data: stored });
    assert.deepEqual(calls[0].body, {
      title: "t",
      due: "2026-09-01T00:00:00.000Z",
      place: { type: "Point", coordinates: [113, 23] },
    });
    assert.equal(calls[0].method, "PUT");
  });

  test("set() creates the record with this id when there is none, as CloudBase does", async () => {
    const { db, calls } = recorded((call) => {
      if (call.method === "PUT") throw notFound();
      return { ...call.body, _version: 1 };
    });
    const answer = await db.collection("posts").doc("p9").set({ data: { title: "new" } });
    assert.deepEqual(answer.stats, { created: 1, updated: 0 });
    assert.deepEqual(calls[1], {
      method: "POST",
      path: "/api/collections/posts/records",
      body: { title: "new", _id: "p9" },
    });
  });

  test("set() with _version replaces only that version and never creates", async () => {
    const { db, calls } = recorded(() => {
      throw notFound();
    });
    const setting = db.collection("posts").doc("p9").set({ data: { title: "x", _version: 3 } });
    await assert.rejects(setting, { code: "records.not_found" });
    assert.deepEqual(calls.length, 1);
    assert.deepEqual(calls[0].body, { title: "x", _version: 3 });
  });

  test("update() sends each command as minibase's operator", async () => {
    assert.deepEqual(
      await patchOf((_) => ({
        title: "new",
        style: { color: "red", size: _.set({ w: 1 }) },
        score: _.inc(1),
        old: _.remove(),
        tags: _.push(["a", "b"]),
        one: _.push("x"),
        each: _.push({ each: [1] }),
        drop: _.pull("y"),
        dropSome: _.pull(_.in(["p", "q"])),
        dropAll: _.pullAll([1, 2]),
        when: new Date("2026-01-01T00:00:00Z"),
        list: [1, { a: 2 }],
        emptied: {},
      })),
      {
        $set: {
          title: "new",
          "style.color": "red",
          "style.size": { w: 1 },
          when: "2026-01-01T00:00:00.000Z",
          list: [1, { a: 2 }],
          emptied: {},
        },
        $inc: { score: 1 },
        $unset: { old: true },
        $push: { tags: { $each: ["a", "b"] }, one: "x", each: { $each: [1] } },
        $pull: { drop: "y", dropSome: { $in: ["p", "q"] }, dropAll: { $in: [1, 2] } },
      },
    );
  });

  test("update() with _version is refused by the server if the record changed since", async () => {
    assert.deepEqual(await patchOf((_) => ({ score: _.inc(-1), _version: 4 })), {
      $inc: { score: -1 },
      _version: 4,
    });
  });

  test("update() answers stats.updated 1 and the record, or 0 when there is none", async () => {
    const found = recorded(() => stored);
    assert.deepEqual(await found.db.collection("posts").doc("p1").update({ data: { a: 1 } }), {
      stats: { updated: 1 },
      data: stored,
    });
    const missing = recorded(() => {
      throw notFound();
    });
    assert.deepEqual(await missing.db.collection("posts").doc("p1").update({ data: { a: 1 } }), {
      stats: { updated: 0 },
    });
  });

  test("a version conflict reaches the caller with the server's code", async () => {
    const { db } = recorded(() => {
      throw new MinibaseError("records.version_conflict", "stale", {
        status: 409,
        details: { current_version: 5 },
      });
    });
    await assert.rejects(
      db.collection("posts").doc("p1").update({ data: { a: 1, _version: 4 } }),
      { code: "records.version_conflict", details: { current_version: 5 } },
    );
  });

  test("remove() deletes, guarded by If-Match when given the _version", async () => {
    const { db, calls } = recorded(() => undefined);
    assert.deepEqual(await db.collection("posts").doc("p1").remove(), { stats: { removed: 1 } });
    await db.collection("posts").doc("p1").remove({ _version: 3 });
    assert.deepEqual(calls, [
      { method: "DELETE", path: "/api/collections/posts/records/p1" },
      {
        method: "DELETE",
        path: "/api/collections/posts/records/p1",
        headers: { "if-match": '"3"' },
      },
    ]);
    const missing = recorded(() => {
      throw notFound();
    });
    assert.deepEqual(await missing.db.collection("posts").doc("x").remove(), {
      stats: { removed: 0 },
    });
  });
});

describe("add() creates records", () => {
  test("one record: { _id, data }", async () => {
    const { db, calls } = recorded((call) => ({ _id: "new1", ...call.body, _version: 1 }));
    const answer = await db.collection("posts").add({ data: { title: "hi", _id: undefined } });
    assert.deepEqual(answer, { _id: "new1", data: { _id: "new1", title: "hi", _version: 1 } });
    assert.deepEqual(calls[0], {
      method: "POST",
      path: "/api/collections/posts/records",
      body: { title: "hi" },
    });
  });

  test("a list of records: all or none through bulk-create, { _ids, data }", async () => {
    const { db, calls } = recorded((call) => ({
      items: call.body.records.map((record, i) => ({ _id: record._id ?? `n${i}`, ...record })),
    }));
    const answer = await db.collection("posts").add({ data: [{ _id: "mine", a: 1 }, { a: 2 }] });
    assert.deepEqual(answer._ids, ["mine", "n1"]);
    assert.deepEqual(calls[0], {
      method: "POST",
      path: "/api/collections/posts/records/bulk-create",
      body: { records: [{ _id: "mine", a: 1 }, { a: 2 }] },
    });
  });
});

describe("where(...).update() and .remove() change every match", () => {
  test("update() posts the filter and the operators to bulk-update", async () => {
    const { db, _, calls } = recorded(() => ({ matched: 3, updated: 2, skipped: 1 }));
    const answer = await db
      .collection("posts")
      .where({ status: "draft" })
      .update({ data: { status: "published", score: _.inc(1) } });
    assert.deepEqual(answer, { stats: { updated: 2, matched: 3, skipped: 1 } });
    assert.deepEqual(calls[0], {
      method: "POST",
      path: "/api/collections/posts/records/bulk-update",
      body: {
        filter: { status: "draft" },
        update: { $set: { status: "published" }, $inc: { score: 1 } },
      },
    });
  });

  test("remove() posts the filter to bulk-delete; where({}) names every record", async () => {
    const { db, calls } = recorded(() => ({ deleted: 7 }));
    assert.deepEqual(await db.collection("posts").where({}).remove(), { stats: { removed: 7 } });
    assert.deepEqual(calls[0], {
      method: "POST",
      path: "/api/collections/posts/records/bulk-delete",
      body: { filter: {} },
    });
  });
});
