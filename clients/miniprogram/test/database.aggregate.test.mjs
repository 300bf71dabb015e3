// aggregate() and db.command.aggregate in CloudBase's shape: the pipeline each builder call
// sends to POST /api/collections/{name}/aggregate, and what end() answers. (Pipelines refused
// before any request: database.refused.test.mjs; on a real server:
// database.aggregate.server.test.mjs.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { loadDatabase, recordingCaller } from "./support/database.mjs";

let database;
before(async () => ({ database } = await loadDatabase()));

/** A db over a recording caller; `answer` plays the server. */
function recorded(answer = () => ({ items: [] })) {
  const caller = recordingCaller(answer);
  const db = database(caller);
  return { db, _: db.command, $: db.command.aggregate, calls: caller.calls };
}

/** The pipeline that `build(aggregate, $, _, db)` sends for the orders collection. */
async function pipelineOf(build) {
  const { db, _, $, calls } = recorded();
  await build(db.collection("orders").aggregate(), $, _, db).end();
  assert.equal(calls.length, 1);
  return calls[0].body.pipeline;
}

describe("aggregate().end() posts the pipeline", () => {
  test("posts to the collection's aggregate route, as a read; { list } is the items", async () => {
    const items = [{ _id: "paid", total: 42 }];
    const { db, $, calls } = recorded(() => ({ items }));
    const answer = await db
      .collection("orders")
      .aggregate()
      .group({ _id: "$status", total: $.sum("$amount") })
      .end();
    assert.deepEqual(answer, { list: items });
    assert.deepEqual(calls, [
      {
        method: "POST",
        path: "/api/collections/orders/aggregate",
        body: { pipeline: [{ $group: { _id: "$status", total: { $sum: "$amount" } } }] },
        retry: true,
      },
    ]);
  });

  test("one stage a call, in order, each in the server's form", async () => {
    assert.deepEqual(
      await pipelineOf((agg, $) =>
        agg
          .match({ status: "paid" })
          .lookup({ from: "buyers", localField: "buyer", foreignField: "_id", as: "buyers" })
          .unwind("$tags")
          .unwind({ path: "$items", includeArrayIndex: "i", preserveNullAndEmptyArrays: true })
          .group({ _id: "$buyer", spent: $.sum("$amount") })
          .sort({ spent: -1, _id: 1 })
          .skip(0)
          .skip(10)
          .limit(5)
          .project({ _id: 0, buyer: "$_id", spent: 1 })
          .count("buyers"),
      ),
      [
        { $match: { status: "paid" } },
        { $lookup: { from: "buyers", localField: "buyer", foreignField: "_id", as: "buyers" } },
        { $unwind: "$tags" },
        { $unwind: { path: "$items", includeArrayIndex: "i", preserveNullAndEmptyArrays: true } },
        { $group: { _id: "$buyer", spent: { $sum: "$amount" } } },
        { $sort: { spent: -1, _id: 1 } },
        { $skip: 0 },
        { $skip: 10 },
        { $limit: 5 },
        { $project: { _id: 0, buyer: "$_id", spent: 1 } },
        { $count: "buyers" },
      ],
    );
  });

  test("match() sends exactly the filter where() sends for the same condition", async () => {
    const conditions = [
      (_) => ({ score: _.gt(1).lt(9), author: { name: "ann" }, tags: _.all(["x"]) }),
      (_, db) => _.or([{ title: /^mini/i }, { title: db.RegExp({ regexp: "x$" }) }]),
      (_) => ({ paid_at: _.gte(new Date("2026-12-07T16:00:00Z")), note: _.exists(false) }),
      (_) => _.nor([{ a: 1 }, { b: _.in([1, 2]) }]).and({ c: _.not(_.eq(null)) }),
      (_) => _.and([_.search("拿铁"), { status: "paid" }]),
    ];
    for (const condition of conditions) {
      const listing = recorded(() => ({ items: [], next_cursor: null }));
      await listing.db.collection("orders").where(condition(listing._, listing.db)).get();
      const [{ $match }] = await pipelineOf((agg, $, _, db) => agg.match(condition(_, db)));
      assert.deepEqual($match, JSON.parse(listing.calls[0].query.filter));
    }
    assert.deepEqual(await pipelineOf((agg) => agg.match({})), [{ $match: {} }]);
  });

  test("every accumulator of $ becomes the server's", async () => {
    const [{ $group }] = await pipelineOf((agg, $) =>
      agg.group({
        _id: null,
        total: $.sum("$amount"),
        orders: $.sum(1),
        mean: $.avg("$amount"),
        least: $.min("$amount"),
        most: $.max("$paid_at"),
        amounts: $.push("$amount"),
        lines: $.push({ sku: "$sku", qty: "$qty" }),
        buyers: $.addToSet("$_owner"),
        count: $.count(),
      }),
    );
    assert.deepEqual($group, {
      _id: null,
      total: { $sum: "$amount" },
      orders: { $sum: 1 },
      mean: { $avg: "$amount" },
      least: { $min: "$amount" },
      most: { $max: "$paid_at" },
      amounts: { $push: "$amount" },
      lines: { $push: { sku: "$sku", qty: "$qty" } },
      buyers: { $addToSet: "$_owner" },
      count: { $count: {} },
    });
  });

  test("expressions: arithmetic, dateToString, literal, objects of them, nested", async () => {
    const [{ $group }, { $project }] = await pipelineOf((agg, $) =>
      agg
        .group({
          _id: {
            day: $.dateToString({ date: "$paid_at", format: "%Y-%m-%d", timezone: "+08:00" }),
            status: "$status",
          },
          revenue: $.sum($.multiply(["$price", "$qty"])),
        })
        .project({
          net: $.subtract([$.add(["$revenue", "$shipping", 1.5]), "$discount"]),
          share: $.divide(["$revenue", 100]),
          utc: $.dateToString({ date: "$_created" }),
          label: $.literal("$not a field"),
          list: $.literal([1, { a: "$b" }]),
          since: new Date("2026-01-01T00:00:00Z"),
          nothing: null,
          pair: { a: "$a", b: "text" },
        }),
    );
    assert.deepEqual($group, {
      _id: {
        day: {
          $dateToString: { date: "$paid_at", format: "%Y-%m-%d", timezone: "+08:00" },
        },
        status: "$status",
      },
      revenue: { $sum: { $multiply: ["$price", "$qty"] } },
    });
    assert.deepEqual($project, {
      net: { $subtract: [{ $add: ["$revenue", "$shipping", 1.5] }, "$discount"] },
      share: { $divide: ["$revenue", 100] },
      utc: { $dateToString: { date: "$_created" } },
      label: { $literal: "$not a field" },
      list: { $literal: [1, { a: "$b" }] },
      since: "2026-01-01T00:00:00.000Z",
      nothing: null,
      pair: { a: "$a", b: "text" },
    });
  });

  test("project() keeps, computes and removes; undefined fields are left out", async () => {
    assert.deepEqual(
      await pipelineOf((agg) =>
        agg.project({ title: true, score: 1, _id: false, skipped: undefined }).project({
          body: 0,
          "author.email": false,
        }),
      ),
      [
        { $project: { title: true, score: 1, _id: false } },
        { $project: { body: 0, "author.email": false } },
      ],
    );
  });

  test("a pipeline is a value: building on it leaves it as it was", async () => {
    const { db, $, calls } = recorded();
    const paid = db.collection("orders").aggregate().match({ status: "paid" });
    const byBuyer = paid.group({ _id: "$buyer", n: $.sum(1) });
    await paid.count("n").end();
    await byBuyer.end();
    await paid.end();
    assert.deepEqual(
      calls.map((call) => call.body.pipeline.map((stage) => Object.keys(stage)[0])),
      [["$match", "$count"], ["$match", "$group"], ["$match"]],
    );
  });

  test("db.command.aggregate is $; one operator may serve in several pipelines", async () => {
    const { db, $ } = recorded();
    assert.equal(db.command.aggregate, $);
    const total = $.sum("$amount");
    const one = await pipelineOf((agg) => agg.group({ _id: "$a", total }));
    const two = await pipelineOf((agg) => agg.group({ _id: "$b", total }));
    assert.deepEqual(one[0].$group.total, two[0].$group.total);
  });
});

const TYPINGS = "../node_modules/miniprogram-api-typings/types/wx/lib.wx.cloud.d.ts";

/** The methods declared from `start` to `end` in wx's typings (miniprogram-api-typings): what
 * CloudBase's mini program SDK has. */
function cloudbaseNames(start, end) {
  const typings = readFileSync(new URL(TYPINGS, import.meta.url), "utf8");
  const from = typings.indexOf(start);
  assert.ok(from >= 0, `the typings lost ${start}`);
  const block = typings.slice(from, typings.indexOf(end, from));
  return [...block.matchAll(/^\s+(\w+)\(/gm)].map((match) => match[1]);
}

describe("every name CloudBase has is there", () => {
  test("every stage of CloudBase's Aggregate is a method", () => {
    const names = cloudbaseNames("interface Aggregate {", "\n    }");
    assert.ok(names.length >= 17, names.join(" "));
    const { db } = recorded();
    const aggregate = db.collection("orders").aggregate();
    for (const name of names) assert.equal(typeof aggregate[name], "function", name);
  });

  test("every operator of CloudBase's db.command.aggregate is on $", () => {
    const names = cloudbaseNames("aggregate: {", "\n        }");
    assert.ok(names.length >= 100, names.join(" "));
    const { $ } = recorded();
    for (const name of names) assert.equal(typeof $[name], "function", name);
  });

  test("those minibase lacks reject end() with client.unsupported, sending nothing", async () => {
    const supported = "sum avg min max push addToSet count add subtract multiply divide";
    const lacking = cloudbaseNames("aggregate: {", "\n        }").filter(
      (name) => !`${supported} dateToString literal`.split(" ").includes(name),
    );
    assert.ok(lacking.includes("first") && lacking.includes("cond"), lacking.join(" "));
    const unsupported = { name: "MinibaseError", code: "client.unsupported" };
    for (const name of lacking) {
      const { db, $, calls } = recorded();
      const computing = db.collection("orders").aggregate().project({ x: $[name]("$a") });
      await assert.rejects(computing.end(), unsupported, name);
      assert.deepEqual(calls, [], name);
    }
    for (const name of ["first", "last", "stdDevPop", "stdDevSamp"]) {
      const { db, $, calls } = recorded();
      const grouping = db.collection("orders").aggregate().group({ _id: null, x: $[name]("$a") });
      await assert.rejects(grouping.end(), unsupported, name);
      assert.deepEqual(calls, [], name);
    }
  });
});
