// Calls the data API refuses before any request: what minibase cannot do
// (client.unsupported) and what is malformed (client.invalid_argument).
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { loadDatabase, recordingCaller } from "./support/database.mjs";

let database;
before(async () => ({ database } = await loadDatabase()));

/** Each case: [what, (db, _) => the call]; every one rejects with `code` and sends nothing. */
async function refusedBeforeSending(code, cases) {
  for (const [what, run] of cases) {
    const caller = recordingCaller();
    const db = database(caller);
    await assert.rejects(
      (async () => run(db, db.command))(),
      (error) => {
        assert.equal(error.name, "MinibaseError", what);
        assert.equal(error.code, code, `${what}: ${error.message}`);
        assert.equal(error.status, 0, what);
        return true;
      },
      what,
    );
    assert.deepEqual(caller.calls, [], `${what} sent a request`);
  }
}

/** A case listing posts where `condition(_, db)`. */
const where = (condition) => (db, _) => db.collection("posts").where(condition(_, db)).get();
/** A case updating a post with `data(_, db)`. */
const update = (data) => (db, _) => db.collection("posts").doc("p1").update({ data: data(_, db) });
/** A case ending the pipeline `build(aggregate, $, _)` on orders. */
const aggregate = (build) => (db, _) =>
  build(db.collection("orders").aggregate(), db.command.aggregate, _).end();

describe("what minibase cannot do fails with client.unsupported before any request", () => {
  test("query commands without a minibase operator", async () => {
    await refusedBeforeSending("client.unsupported", [
      ["_.size", where((_) => ({ tags: _.size(2) }))],
      ["chained .size", where((_) => ({ tags: _.exists().size(2) }))],
      ["_.elemMatch", where((_) => ({ items: _.elemMatch({ qty: _.gt(1) }) }))],
      ["_.all of _.elemMatch", where((_) => ({ items: _.all([_.elemMatch({ a: 1 })]) }))],
      ["_.mod", where((_) => ({ n: _.mod(2, 0) }))],
      ["_.expr", where((_) => ({ n: _.expr({}) }))],
      ["_.geoNear", where((_) => ({ place: _.geoNear({}) }))],
      ["_.geoWithin", where((_) => ({ place: _.geoWithin({}) }))],
      ["_.geoIntersects", where((_) => ({ place: _.geoIntersects({}) }))],
      ["a geo point as a value", where((_, db) => ({ place: new db.Geo.Point(1, 2) }))],
      ["an array compared whole", where(() => ({ tags: ["a", "b"] }))],
      ["an object compared with _.eq", where((_) => ({ meta: _.eq({ a: 1 }) }))],
      ["an empty object compared", where(() => ({ meta: {} }))],
      ["regex flags other than i", where(() => ({ title: /x/m }))],
      ["db.RegExp option s", where((_, db) => ({ t: db.RegExp({ regexp: "x", options: "s" }) }))],
      ["_openid", where(() => ({ _openid: "{openid}" }))],
    ]);
  });

  test("update commands without a minibase operator", async () => {
    await refusedBeforeSending("client.unsupported", [
      ["_.mul", update((_) => ({ n: _.mul(2) }))],
      ["_.min", update((_) => ({ n: _.min(1) }))],
      ["_.max", update((_) => ({ n: _.max(1) }))],
      ["_.rename", update((_) => ({ n: _.rename("m") }))],
      ["_.pop", update((_) => ({ tags: _.pop() }))],
      ["_.shift", update((_) => ({ tags: _.shift() }))],
      ["_.unshift", update((_) => ({ tags: _.unshift(["a"]) }))],
      ["_.addToSet", update((_) => ({ tags: _.addToSet("a") }))],
      ["_.bit", update((_) => ({ n: _.bit({ and: 1 }) }))],
      ["_.push with position", update((_) => ({ tags: _.push({ each: ["a"], position: 0 }) }))],
      ["_.push with sort", update((_) => ({ tags: _.push({ each: ["a"], sort: 1 }) }))],
      ["_.push with slice", update((_) => ({ tags: _.push({ each: ["a"], slice: 5 }) }))],
      ["_.pull by a condition", update((_) => ({ n: _.pull(_.gt(5)) }))],
      ["_.pull of an object", update((_) => ({ items: _.pull({ a: 1 }) }))],
      ["db.serverDate()", update((_, db) => ({ at: db.serverDate() }))],
      ["db.Geo.Polygon", update((_, db) => ({ area: new db.Geo.Polygon([]) }))],
    ]);
  });

  test("offsets, field exclusion and callbacks", async () => {
    await refusedBeforeSending("client.unsupported", [
      ["skip()", (db) => db.collection("posts").skip(20).get()],
      ["skip() on count", (db) => db.collection("posts").skip(20).count()],
      ["field({ a: false })", (db) => db.collection("posts").field({ body: false }).get()],
      ["a success callback", (db) => db.collection("posts").add({ data: {}, success() {} })],
      ["serverDate in add", (db) => db.collection("posts").add({ data: { at: db.serverDate() } })],
    ]);
  });

  test("in aggregate(): stages, operators and shapes minibase lacks", async () => {
    const lookup = { from: "buyers", localField: "buyer", foreignField: "_id", as: "b" };
    await refusedBeforeSending("client.unsupported", [
      ["addFields()", aggregate((a) => a.addFields({ total: 1 }))],
      ["bucket()", aggregate((a) => a.bucket({ groupBy: "$price", boundaries: [0, 50] }))],
      ["bucketAuto()", aggregate((a) => a.bucketAuto({ groupBy: "$price", buckets: 2 }))],
      ["geoNear()", aggregate((a) => a.match({}).geoNear({ distanceField: "d" }))],
      ["replaceRoot()", aggregate((a) => a.replaceRoot({ newRoot: "$author" }))],
      ["sample()", aggregate((a) => a.sample({ size: 1 }))],
      ["sortByCount()", aggregate((a) => a.sortByCount("$status"))],
      ["lookup with pipeline", aggregate((a) => a.lookup({ ...lookup, pipeline: [] }))],
      ["lookup with let", aggregate((a) => a.lookup({ ...lookup, let: { x: "$x" } }))],
      ["nested inclusion", aggregate((a) => a.project({ author: { name: 1 } }))],
      ["nested inclusion, deeper", aggregate((a) => a.project({ a: { b: "$b", c: { d: true } } }))],
      ["a dotted field kept", aggregate((a) => a.project({ "author.name": 1 }))],
      ["a dotted field computed", aggregate((a) => a.project({ "a.b": "$c" }))],
      ["$$ROOT", aggregate((a, $) => a.group({ _id: null, all: $.push("$$ROOT") }))],
      ["a list of expressions", aggregate((a) => a.project({ pair: ["$a", "$b"] }))],
      ["a sum in project()", aggregate((a, $) => a.project({ n: $.sum("$items") }))],
      ["$.first", aggregate((a, $) => a.group({ _id: "$s", first: $.first("$a") }))],
      ["$.cond", aggregate((a, $) => a.project({ big: $.cond({ if: 1, then: 1, else: 0 }) }))],
      [
        "dateToString onNull",
        aggregate((a, $) => a.project({ d: $.dateToString({ date: "$at", onNull: "-" }) })),
      ],
      ["_.size in match()", aggregate((a, $, _) => a.match({ tags: _.size(2) }))],
      ["_openid in match()", aggregate((a) => a.match({ _openid: "{openid}" }))],
      ["end() callbacks", (db) => db.collection("o").aggregate().match({}).end({ success() {} })],
    ]);
  });

  test("the skip() message points at cursor paging", async () => {
    const db = database(recordingCaller());
    await assert.rejects(db.collection("posts").skip(20).get(), /nextCursor.*after\(nextCursor\)/);
  });
});

describe("malformed calls fail with client.invalid_argument before any request", () => {
  test("in where()", async () => {
    await refusedBeforeSending("client.invalid_argument", [
      ["where() twice", (db) => db.collection("posts").where({ a: 1 }).where({ b: 2 }).get()],
      ["where(a string)", where(() => "score > 5")],
      ["a raw operator", where(() => ({ score: { $gt: 5 } }))],
      ["undefined", where(() => ({ owner: undefined }))],
      ["_.gt(null)", where((_) => ({ n: _.gt(null) }))],
      ["_.lt(true)", where((_) => ({ n: _.lt(true) }))],
      ["_.in(not a list)", where((_) => ({ n: _.in("a") }))],
      ["_.exists('yes')", where((_) => ({ n: _.exists("yes") }))],
      ["_.or() of nothing", where((_) => ({ n: _.or() }))],
      ["NaN", where(() => ({ n: Number.NaN }))],
      ["an update command", where((_) => ({ n: _.inc(1) }))],
      ["a field command alone", where((_) => _.gt(1))],
      ["db.RegExp without a pattern", where((_, db) => ({ t: db.RegExp({}) }))],
      ["a function", where(() => ({ n: () => 1 }))],
    ]);
  });

  test("a text search that is not _.search(text) of 2 to 100 characters", async () => {
    await refusedBeforeSending("client.invalid_argument", [
      ["$search as a key", where(() => ({ $search: "拿铁" }))],
      ["$search beside fields", where(() => ({ price: 5, $search: "拿铁" }))],
      ["_.search on a field", where((_) => ({ title: _.search("拿铁") }))],
      ["_.search of one character", where((_) => _.search("拿"))],
      ["_.search of 101", where((_) => _.search("a".repeat(101)))],
      ["_.search of a number", where((_) => _.search(12))],
      ["_.search()", where((_) => _.search())],
      ["_.search in match() on a field", aggregate((a, $, _) => a.match({ t: _.search("拿铁") }))],
      ["_.search of one in match()", aggregate((a, $, _) => a.match(_.search("x")))],
    ]);
  });

  test("in writes", async () => {
    const posts = (db) => db.collection("posts");
    await refusedBeforeSending("client.invalid_argument", [
      ["_.inc of text", update((_) => ({ n: _.inc("1") }))],
      ["_.inc of Infinity", update((_) => ({ n: _.inc(Infinity) }))],
      ["a query command", update((_) => ({ n: _.gt(1) }))],
      ["a raw operator", update(() => ({ $inc: { n: 1 } }))],
      ["no field", update(() => ({}))],
      ["a system field", update(() => ({ _owner: "u1" }))],
      ["_version not a whole number", update(() => ({ a: 1, _version: "3" }))],
      ["_.pullAll of not a list", update((_) => ({ tags: _.pullAll("a") }))],
      ["update without data", (db) => posts(db).doc("p1").update({ date: {} })],
      ["a command in add()", (db, _) => posts(db).add({ data: { n: _.inc(1) } })],
      ["a regex in add()", (db) => posts(db).add({ data: { n: /x/ } })],
      ["_id in set()", (db) => posts(db).doc("p1").set({ data: { _id: "p1", a: 1 } })],
      ["add({ data: [] })", (db) => posts(db).add({ data: [] })],
      ["add() of a non-object", (db) => posts(db).add({ data: [1] })],
      ["a bad point", (db) => posts(db).add({ data: { p: db.Geo.Point(200, 0) } })],
      ["remove(_version 0)", (db) => posts(db).doc("p1").remove({ _version: 0 })],
      ["bulk update, _version", (db) => posts(db).where({}).update({ data: { _version: 2 } })],
    ]);
  });

  test("in the query's shape", async () => {
    const posts = (db) => db.collection("posts");
    await refusedBeforeSending("client.invalid_argument", [
      ["a bad collection name", (db) => db.collection("my posts").get()],
      ["an empty id", (db) => posts(db).doc("").get()],
      ["orderBy without a direction", (db) => posts(db).orderBy("score").get()],
      ["orderBy('-score')", (db) => posts(db).orderBy("-score", "asc").get()],
      ["limit(0)", (db) => posts(db).limit(0).get()],
      ["limit(2.5)", (db) => posts(db).limit(2.5).get()],
      ["after(null)", (db) => posts(db).after(null).get()],
      ["field({})", (db) => posts(db).field({}).get()],
      ["expand()", (db) => posts(db).expand().get()],
      ["expand([])", (db) => posts(db).expand([]).get()],
      ["expand('')", (db) => posts(db).expand("").get()],
      ["expand('a,b')", (db) => posts(db).expand("author,tags").get()],
      ["expand('a b')", (db) => posts(db).expand("author ").get()],
      ["expand('.a')", (db) => posts(db).expand(".author").get()],
      ["expand('a..b')", (db) => posts(db).expand("comments_via_post..author").get()],
      ["expand(1)", (db) => posts(db).expand(1).get()],
      ["expand() of a doc", (db) => posts(db).doc("p1").expand("-author").get()],
      ["a bulk remove with expand", (db) => posts(db).where({}).expand("author").remove()],
      ["a bulk update without where", (db) => posts(db).update({ data: { a: 1 } })],
      ["a bulk remove without where", (db) => posts(db).remove()],
      ["a bulk remove with limit", (db) => posts(db).where({}).limit(5).remove()],
      [
        "a bulk update with orderBy",
        (db) => posts(db).where({}).orderBy("a", "asc").update({ data: { a: 1 } }),
      ],
    ]);
  });

  test("in aggregate()", async () => {
    const lookup = { from: "buyers", localField: "buyer", foreignField: "_id", as: "b" };
    await refusedBeforeSending("client.invalid_argument", [
      ["no stage", aggregate((a) => a)],
      ["a bad collection name", (db) => db.collection("my orders").aggregate().match({}).end()],
      ["match(a string)", aggregate((a) => a.match("status = paid"))],
      ["a raw operator in match()", aggregate((a) => a.match({ n: { $gt: 1 } }))],
      ["an update command in match()", aggregate((a, $, _) => a.match({ n: _.inc(1) }))],
      ["an operator in match()", aggregate((a, $) => a.match({ n: $.sum(1) }))],
      ["group() without _id", aggregate((a, $) => a.group({ n: $.sum(1) }))],
      ["a group() output of a field", aggregate((a) => a.group({ _id: null, n: "$amount" }))],
      ["a raw accumulator", aggregate((a) => a.group({ _id: null, n: { $sum: "$amount" } }))],
      ["an expression as an output", aggregate((a, $) => a.group({ _id: null, n: $.add([1]) }))],
      ["$.count(1)", aggregate((a, $) => a.group({ _id: null, n: $.count(1) }))],
      ["a raw operator in _id", aggregate((a) => a.group({ _id: { $year: "$at" } }))],
      ["a query command in _id", aggregate((a, $, _) => a.group({ _id: _.gt(1) }))],
      ["sort 'desc'", aggregate((a) => a.sort({ n: "desc" }))],
      ["sort({})", aggregate((a) => a.sort({}))],
      ["skip(-1)", aggregate((a) => a.skip(-1))],
      ["limit(0)", aggregate((a) => a.limit(0))],
      ["limit(2.5)", aggregate((a) => a.limit(2.5))],
      ["project({})", aggregate((a) => a.project({}))],
      ["project() keeping and removing", aggregate((a) => a.project({ a: 1, b: 0 }))],
      ["project() of a number", aggregate((a) => a.project({ a: 5 }))],
      ["NaN in project()", aggregate((a, $) => a.project({ a: $.add(["$a", Number.NaN]) }))],
      ["unwind without $", aggregate((a) => a.unwind("tags"))],
      ["unwind of $$", aggregate((a) => a.unwind("$$tags"))],
      ["unwind without path", aggregate((a) => a.unwind({ includeArrayIndex: "i" }))],
      ["unwind option unknown", aggregate((a) => a.unwind({ path: "$t", keep: true }))],
      ["count('')", aggregate((a) => a.count(""))],
      ["count('a.b')", aggregate((a) => a.count("a.b"))],
      ["lookup without as", aggregate((a) => a.lookup({ ...lookup, as: undefined }))],
      ["lookup of '$buyer'", aggregate((a) => a.lookup({ ...lookup, localField: "$buyer" }))],
      ["lookup from a bad name", aggregate((a) => a.lookup({ ...lookup, from: "my buyers" }))],
      ["lookup option unknown", aggregate((a) => a.lookup({ ...lookup, where: {} }))],
      ["$.subtract of three", aggregate((a, $) => a.project({ d: $.subtract([1, 2, 3]) }))],
      ["$.add of a field", aggregate((a, $) => a.project({ d: $.add("$a") }))],
      ["$.add([])", aggregate((a, $) => a.project({ d: $.add([]) }))],
      ["$.literal()", aggregate((a, $) => a.project({ d: $.literal() }))],
      ["dateToString of no date", aggregate((a, $) => a.project({ d: $.dateToString({}) }))],
      [
        "dateToString of a value",
        aggregate((a, $) => a.project({ d: $.dateToString({ date: "paid_at" }) })),
      ],
      [
        "dateToString of a Date",
        aggregate((a, $) => a.project({ d: $.dateToString({ date: new Date() }) })),
      ],
      ["end(1)", (db) => db.collection("orders").aggregate().match({}).end(1)],
      ["an operator in where()", where((_) => ({ n: _.aggregate.sum(1) }))],
      ["an operator in update()", update((_) => ({ n: _.aggregate.sum(1) }))],
      ["an operator in add()", (db, _) => db.collection("o").add({ data: { n: _.aggregate.max(1) } })],
    ]);
  });
});
