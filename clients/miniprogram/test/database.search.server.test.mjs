// _.search() against a real `minibase serve --dev`: a shop's goods with a search index on their
// titles, searched in Chinese as a signed-in user of a mini program would.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadDatabase, userCaller } from "./support/database.mjs";
import { docBlock } from "./support/docs.mjs";
import { startServer } from "./support/server.mjs";

let server;
let db;
let _;

before(async () => {
  const [{ database, MinibaseError }, started] = await Promise.all([loadDatabase(), startServer()]);
  server = started;
  const user = await server.admin("POST", "/api/admin/users", {});
  const { access_token } = await server.admin("POST", `/api/admin/users/${user.id}/tokens`);
  db = database(userCaller(server.url, access_token, MinibaseError));
  _ = db.command;
  const fields = { title: { type: "string" }, price: { type: "number" } };
  const rules = { preset: "public_read_admin_write" };
  await server.createCollection({
    name: "goods",
    fields,
    indexes: [{ fields: ["title"], search: true }],
    rules,
  });
  await server.createCollection({ name: "plain", fields, rules });
  await server.admin("POST", "/api/collections/goods/records/bulk-create", {
    records: [
      { _id: "a", title: "美式咖啡", price: 18 },
      { _id: "b", title: "冰的燕麦拿铁", price: 28 },
      { _id: "c", title: "拿铁咖啡", price: 22 },
      { _id: "d", title: "热拿铁", price: 35 },
      { _id: "e", title: "LATTE 拿铁", price: 30 },
    ],
  });
});

after(() => server?.stop());

/** The ids of a page. */
const ids = (page) => page.data.map((record) => record._id);

describe("_.search() against the server", () => {
  test("two Chinese characters find the titles holding them, most relevant first", async () => {
    const page = await db.collection("goods").where(_.search("拿铁")).get();
    // the earlier in the title, the more relevant; _id breaks ties
    assert.deepEqual(ids(page), ["c", "d", "b", "e"]);
  });

  test("the relevance order pages by cursor", async () => {
    const first = await db.collection("goods").where(_.search("拿铁")).limit(3).get();
    const second = await first.next();
    assert.deepEqual([ids(first), ids(second)], [["c", "d", "b"], ["e"]]);
  });

  test("beside another condition with _.and, and counted; an orderBy wins", async () => {
    const cheap = db.collection("goods").where(_.and([_.search("拿铁"), { price: _.lt(30) }]));
    assert.deepEqual(ids(await cheap.get()), ["c", "b"]);
    assert.deepEqual(await cheap.count(), { total: 2 });
    assert.deepEqual(ids(await cheap.orderBy("price", "desc").get()), ["b", "c"]);
    const latte = db.collection("goods").where(_.search("latte"));
    assert.deepEqual(ids(await latte.get()), ["e"], "ASCII letters in either case");
  });

  test("in aggregate().match()", async () => {
    const $ = db.command.aggregate;
    const { list } = await db
      .collection("goods")
      .aggregate()
      .match(_.and([_.search("拿铁"), { price: _.lte(30) }]))
      .group({ _id: null, n: $.sum(1), total: $.sum("$price") })
      .end();
    assert.deepEqual(list, [{ _id: null, n: 3, total: 80 }]);
  });

  test("a collection without a search index is the server's records.invalid_filter", async () => {
    await assert.rejects(db.collection("plain").where(_.search("拿铁")).get(), (error) => {
      assert.equal(error.name, "MinibaseError");
      assert.equal(error.code, "records.invalid_filter");
      assert.equal(error.status, 400);
      return true;
    });
  });

  test("docs/client.md's search example answers what it says", async () => {
    const block = docBlock("client.md", "js", "## Text search");
    const titles = (page) => page.data.map((record) => record.title);
    const answers = "[titles(found), titles(cheap), list]";
    const body = `return (async () => {\n${block}\nreturn ${answers};\n})();`;
    const run = new Function("app", "titles", body);
    const answered = await run({ minibase: { database: () => db } }, titles);
    const told = [...block.matchAll(/^\/\/ (\[.*\])$/gm)].map(([, value]) =>
      new Function(`return ${value};`)(),
    );
    assert.deepEqual(answered, told);
  });
});
