// aggregate() against a real `minibase serve --dev`: what CloudBase-shaped pipelines answer to
// two signed-in users of a mini program, Ann and Bob, each owning their orders.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadDatabase, userCaller } from "./support/database.mjs";
import { docBlock } from "./support/docs.mjs";
import { startServer } from "./support/server.mjs";

let server;
/** the data API as Ann, and as Bob */
let ann;
let bob;
let $;
let _;
let collections = 0;

before(async () => {
  const [{ database, MinibaseError }, started] = await Promise.all([loadDatabase(), startServer()]);
  server = started;
  const signedIn = async () => {
    const user = await server.admin("POST", "/api/admin/users", {});
    const { access_token } = await server.admin("POST", `/api/admin/users/${user.id}/tokens`);
    return database(userCaller(server.url, access_token, MinibaseError));
  };
  [ann, bob] = [await signedIn(), await signedIn()];
  $ = ann.command.aggregate;
  _ = ann.command;
});

after(() => server?.stop());

/** A new collection of orders that each user owns (list rule: their own), for one test. */
async function orders() {
  const name = `orders${++collections}`;
  await server.admin("POST", "/api/admin/collections", {
    name,
    fields: {
      amount: { type: "number" },
      status: { type: "string" },
      buyer: { type: "string" },
      paid_at: { type: "datetime" },
      tags: { type: "array", items: { type: "string" } },
    },
    additional: true,
    rules: { preset: "owner_only" },
  });
  return name;
}

/** A new collection everyone may list and only admins write (unless `rules` say otherwise),
 * holding `records`. */
async function shared(records, options = {}) {
  const { name = `shared${++collections}`, rules = { preset: "public_read_admin_write" } } =
    options;
  await server.admin("POST", "/api/admin/collections", { name, additional: true, rules });
  if (records.length) {
    await server.admin("POST", `/api/collections/${name}/records/bulk-create`, { records });
  }
  return name;
}

describe("aggregate() on the server", () => {
  test("group() totals the user's own orders by status, never another user's", async () => {
    const name = await orders();
    await ann.collection(name).add({
      data: [
        { amount: 30, status: "paid" },
        { amount: 12.5, status: "paid" },
        { amount: 7, status: "new" },
      ],
    });
    await bob.collection(name).add({
      data: [
        { amount: 1000, status: "paid" },
        { amount: 5, status: "refunded" },
      ],
    });
    const byStatus = (db) =>
      db
        .collection(name)
        .aggregate()
        .group({
          _id: "$status",
          sales: $.sum("$amount"),
          orders: $.sum(1),
          counted: $.count(),
          least: $.min("$amount"),
          most: $.max("$amount"),
          mean: $.avg("$amount"),
        })
        .sort({ _id: 1 })
        .end();
    assert.deepEqual(await byStatus(ann), {
      list: [
        { _id: "new", sales: 7, orders: 1, counted: 1, least: 7, most: 7, mean: 7 },
        { _id: "paid", sales: 42.5, orders: 2, counted: 2, least: 12.5, most: 30, mean: 21.25 },
      ],
    });
    assert.deepEqual(
      (await byStatus(bob)).list.map(({ _id, sales }) => [_id, sales]),
      [
        ["paid", 1000],
        ["refunded", 5],
      ],
    );
  });

  test("match() takes where()'s conditions and finds what where() finds", async () => {
    const name = await orders();
    await ann.collection(name).add({
      data: [
        { amount: 5, status: "paid", buyer: "Ann", paid_at: new Date("2026-12-07T10:00:00Z") },
        { amount: 9, status: "paid", buyer: "bo", paid_at: new Date("2026-12-08T10:00:00Z") },
        { amount: 20, status: "new", buyer: "cy" },
      ],
    });
    const conditions = [
      { amount: _.gt(4).lt(10) },
      { buyer: /^(ann|cy)$/i },
      _.or([{ status: "new" }, { paid_at: _.gte(new Date("2026-12-08T00:00:00Z")) }]),
      { paid_at: _.exists(false) },
    ];
    for (const condition of conditions) {
      const listed = await ann.collection(name).where(condition).orderBy("amount", "asc").get();
      const { list } = await ann
        .collection(name)
        .aggregate()
        .match(condition)
        .sort({ amount: 1 })
        .project({ amount: 1 })
        .end();
      assert.deepEqual(list, listed.data.map(({ _id, amount }) => ({ _id, amount })));
      assert.ok(list.length > 0 && list.length < 3, JSON.stringify(condition));
    }
  });

  test("dateToString() buckets sales by day in Asia/Shanghai, not in UTC", async () => {
    const name = await orders();
    await ann.collection(name).add({
      data: [
        { amount: 30, paid_at: new Date("2026-12-07T15:00:00Z") },
        { amount: 12.5, paid_at: new Date("2026-12-07T16:30:00Z") }, // 00:30 on the 8th there
        { amount: 20, paid_at: new Date("2026-12-08T02:00:00Z") },
      ],
    });
    const byDay = async (timezone) =>
      (
        await ann
          .collection(name)
          .aggregate()
          .group({
            _id: $.dateToString({ date: "$paid_at", format: "%Y-%m-%d", timezone }),
            sales: $.sum("$amount"),
          })
          .sort({ _id: 1 })
          .end()
      ).list;
    assert.deepEqual(await byDay("Asia/Shanghai"), [
      { _id: "2026-12-07", sales: 30 },
      { _id: "2026-12-08", sales: 32.5 },
    ]);
    assert.deepEqual(await byDay(undefined), [
      { _id: "2026-12-07", sales: 42.5 },
      { _id: "2026-12-08", sales: 20 },
    ]);
  });

  test("lookup() brings each best buyer's record, through its collection's list rule", async () => {
    const buyers = await shared([
      { _id: "ann", name: "Ann" },
      { _id: "bo", name: "Bo" },
    ]);
    const name = await orders();
    await ann.collection(name).add({
      data: [
        { amount: 30, buyer: "ann" },
        { amount: 12.5, buyer: "bo" },
        { amount: 20, buyer: "ann" },
      ],
    });
    const best = ann
      .collection(name)
      .aggregate()
      .group({ _id: "$buyer", spent: $.sum("$amount") })
      .sort({ spent: -1 });
    const joined = (from) =>
      best.lookup({ from, localField: "_id", foreignField: "_id", as: "buyer" });
    const named = joined(buyers).project({ _id: 0, spent: 1, name: "$buyer.0.name" });
    assert.deepEqual(await named.end(), {
      list: [
        { spent: 50, name: "Ann" },
        { spent: 12.5, name: "Bo" },
      ],
    });
    const hidden = await shared([], { rules: { preset: "admin_only" } });
    await assert.rejects(joined(hidden).end(), { code: "auth.forbidden", status: 403 });
  });

  test("unwind(), computed fields, skip(), limit() and count() answer as CloudBase's", async () => {
    const name = await orders();
    await ann.collection(name).add({
      data: [
        { _id: "o1", price: 3, qty: 2, tags: ["a", "b"] },
        { _id: "o2", price: 10, qty: 1, tags: [] },
        { _id: "o3", price: 4, qty: 5, tags: ["c"] },
      ],
    });
    const aggregate = () => ann.collection(name).aggregate();
    const totals = await aggregate()
      .project({
        total: $.multiply(["$price", "$qty"]),
        net: $.subtract([$.multiply(["$price", "$qty"]), 1]),
        half: $.divide(["$price", 2]),
        plus: $.add(["$price", "$qty", 0.5]),
        kind: $.literal("$order"),
      })
      .sort({ total: -1 })
      .skip(1)
      .limit(1)
      .end();
    assert.deepEqual(totals.list, [
      { _id: "o2", total: 10, net: 9, half: 5, plus: 11.5, kind: "$order" },
    ]);
    const tags = await aggregate()
      .unwind({ path: "$tags", includeArrayIndex: "i", preserveNullAndEmptyArrays: true })
      .sort({ _id: 1, i: 1 })
      .project({ _id: 1, tags: 1, i: 1 })
      .end();
    assert.deepEqual(tags.list, [
      { _id: "o1", tags: "a", i: 0 },
      { _id: "o1", tags: "b", i: 1 },
      { _id: "o2", i: null },
      { _id: "o3", tags: "c", i: 0 },
    ]);
    assert.deepEqual(await aggregate().unwind("$tags").count("tagged").end(), {
      list: [{ tagged: 3 }],
    });
    const sets = await aggregate()
      .unwind("$tags")
      .sort({ _id: 1 })
      .group({ _id: null, tags: $.push("$tags"), orders: $.addToSet("$_id") })
      .end();
    assert.deepEqual(sets.list[0].tags, ["a", "b", "c"]);
    assert.deepEqual([...sets.list[0].orders].sort(), ["o1", "o3"]);
  });

  test("a pipeline the server cannot run rejects with its code and details.at", async () => {
    const name = await orders();
    const late = ann
      .collection(name)
      .aggregate()
      .group({ _id: "$status", n: $.sum(1) })
      .project({ day: $.dateToString({ date: "$paid_at" }) });
    await assert.rejects(late.end(), (error) => {
      assert.equal(error.name, "MinibaseError");
      assert.equal(error.code, "aggregate.invalid_pipeline");
      assert.equal(error.status, 400);
      assert.deepEqual(error.details, { at: "pipeline.1.$project.day.$dateToString" });
      assert.match(error.message, /before stages that reshape/);
      return true;
    });
    const zone = ann
      .collection(name)
      .aggregate()
      .project({ day: $.dateToString({ date: "$paid_at", timezone: "Mars/Olympus" }) });
    await assert.rejects(zone.end(), {
      code: "aggregate.invalid_pipeline",
      details: { at: "pipeline.0.$project.day.$dateToString" },
    });
    await assert.rejects(ann.collection("nosuch").aggregate().count("n").end(), {
      code: "collections.not_found",
      status: 404,
    });
  });

  test("docs/client.md's example answers what its comments say", async () => {
    await server.admin("POST", "/api/admin/collections", {
      name: "orders",
      fields: { amount: { type: "integer" }, paid_at: { type: "datetime" } },
      additional: true,
      rules: { preset: "owner_only" },
    });
    await shared(
      [
        { _id: "roast", name: "Roastery" },
        { _id: "tea", name: "Tea House" },
      ],
      { name: "shops" },
    );
    const paid = (amount, shop, at) => ({ amount, shop, status: "paid", paid_at: new Date(at) });
    await ann.collection("orders").add({
      data: [
        paid(3000, "roast", "2026-12-07T10:00:00+08:00"),
        paid(1250, "tea", "2026-12-08T00:30:00+08:00"),
        paid(2000, "roast", "2026-12-08T10:00:00+08:00"),
        paid(999, "tea", "2026-11-30T12:00:00+08:00"),
        { amount: 500, shop: "tea", status: "new" },
      ],
    });
    await bob.collection("orders").add({ data: paid(99999, "tea", "2026-12-07T10:00:00+08:00") });
    const block = docBlock("client.md", "js", "## Aggregating");
    const body = `return (async () => {\n${block}\nreturn { days, best };\n})();`;
    const run = new Function("app", body);
    const { days, best } = await run({ minibase: { database: () => ann } });
    const [toldDays, toldBest] = [...block.matchAll(/^\/\/ (\[.*\])$/gm)].map(([, told]) =>
      new Function(`return ${told};`)(),
    );
    assert.deepEqual(days, toldDays);
    assert.deepEqual(best, toldBest);
  });
});
