// expand() against a real `minibase serve --dev`: posts with their authors and comments, as a
// signed-in user of a mini program reads them; one author (Bo) is hidden by the read rule.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadDatabase, userCaller } from "./support/database.mjs";
import { docBlock } from "./support/docs.mjs";
import { startServer } from "./support/server.mjs";

/** records one answer's expand may bring (the server's expand_max_records), kept small */
const MAX_EXPANDED = 8;

let server;
let db;

before(async () => {
  const [{ database, MinibaseError }, started] = await Promise.all([
    loadDatabase(),
    startServer({ settings: { expand_max_records: MAX_EXPANDED } }),
  ]);
  server = started;
  const user = await server.admin("POST", "/api/admin/users", {});
  const { access_token } = await server.admin("POST", `/api/admin/users/${user.id}/tokens`);
  db = database(userCaller(server.url, access_token, MinibaseError));
  await relations();
});

after(() => server?.stop());

/** authors (Bo hidden from users), posts by them, comments on the posts (docs/data-api.md,
 * Walking relations with curl), and a post with more comments than an answer may bring. */
async function relations() {
  const collection = (definition) =>
    server.createCollection({ rules: { preset: "public_read_admin_write" }, ...definition });
  const reference = (name) => ({ type: "reference", collection: name });
  await collection({
    name: "authors",
    fields: { name: { type: "string" }, shown: { type: "boolean" } },
    rules: { preset: "public_read_admin_write", read: "doc.shown" },
  });
  await collection({
    name: "posts",
    fields: { title: { type: "string" }, author: reference("authors") },
  });
  await collection({
    name: "comments",
    fields: { text: { type: "string" }, post: reference("posts"), author: reference("authors") },
    indexes: [{ fields: ["post"] }],
  });
  const create = (name, records) =>
    server.admin("POST", `/api/collections/${name}/records/bulk-create`, { records });
  await create("authors", [
    { _id: "ann", name: "Ann", shown: true },
    { _id: "bo", name: "Bo", shown: false },
  ]);
  await create("posts", [
    { _id: "p1", title: "Hello", author: "ann" },
    { _id: "p2", title: "Draft", author: "bo" },
    { _id: "p3", title: "Again", author: "ann" },
    { _id: "p4", title: "Busy", author: "ann" },
  ]);
  await create("comments", [
    { _id: "c1", post: "p1", author: "bo", text: "Nice" },
    { _id: "c2", post: "p1", author: "ann", text: "Thanks" },
    ...Array.from({ length: MAX_EXPANDED + 1 }, (_, i) => ({
      _id: `busy${i}`,
      post: "p4",
      author: "ann",
      text: `#${i}`,
    })),
  ]);
}

/** The error a call rejects with. */
async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the call did not fail");
}

describe("expand() against the server", () => {
  test("a post with its author, its comments and theirs; a hidden author is absent", async () => {
    const { data: post } = await db
      .collection("posts")
      .doc("p1")
      .expand("author", "comments_via_post.author")
      .get();
    assert.equal(post.title, "Hello");
    assert.equal(post.author, "ann");
    assert.equal(post._expand.author.name, "Ann");
    const comments = post._expand.comments_via_post;
    assert.deepEqual(
      comments.map((comment) => [comment._id, comment.text, comment._expand?.author?.name]),
      [
        ["c1", "Nice", undefined],
        ["c2", "Thanks", "Ann"],
      ],
    );
    assert.equal("_expand" in comments[0], false, "Bo's comment has nothing to expand");
  });

  test("a list expands every page, after next() too; field() keeps _expand", async () => {
    const posts = db
      .collection("posts")
      .where({ _id: db.command.in(["p1", "p2", "p3"]) })
      .orderBy("_id", "asc")
      .limit(2)
      .field({ title: true })
      .expand("author");
    const first = await posts.get();
    const second = await first.next();
    assert.deepEqual(
      [...first.data, ...second.data].map((post) => [post.title, post._expand?.author?.name]),
      [
        ["Hello", "Ann"],
        ["Draft", undefined],
        ["Again", "Ann"],
      ],
    );
    assert.deepEqual(Object.keys(first.data[0]).sort(), ["_expand", "_id", "title"]);
    assert.equal("_expand" in first.data[1], false, "Bo is hidden: no entry, no _expand");
  });

  test("a back-relation brings the records pointing at this one, in _id order", async () => {
    const authors = db.collection("authors");
    const { data: ann } = await authors.doc("ann").expand(["posts_via_author"]).get();
    assert.deepEqual(
      ann._expand.posts_via_author.map((post) => post._id),
      ["p1", "p3", "p4"],
    );
    const { data: post } = await db.collection("posts").doc("p1").expand("comments_via_post").get();
    assert.deepEqual(
      post._expand.comments_via_post.map((comment) => comment._id),
      ["c1", "c2"],
    );
  });

  test("a misspelt step is the server's records.invalid_expand, with the closest", async () => {
    const error = await failure(db.collection("posts").expand("comments_via_post.autor").get());
    assert.equal(error.name, "MinibaseError");
    assert.equal(error.code, "records.invalid_expand");
    assert.equal(error.status, 400);
    assert.equal(error.details.did_you_mean, "comments_via_post.author");
    const read = await failure(db.collection("posts").doc("p1").expand("autor").get());
    assert.equal(read.code, "records.invalid_expand");
  });

  test("an expand that would bring too many records is records.expand_too_large", async () => {
    const error = await failure(db.collection("posts").doc("p4").expand("comments_via_post").get());
    assert.equal(error.code, "records.expand_too_large");
    assert.equal(error.status, 400);
    const comments = db.collection("comments").where({ post: "p4" });
    const fewer = await comments.limit(2).expand("post").get();
    assert.deepEqual(
      fewer.data.map((comment) => comment._expand.post._id),
      ["p4", "p4"],
    );
  });

  test("docs/client.md's expand example answers what it says", async () => {
    const block = docBlock("client.md", "js", "## Relations");
    const summary = "page.data.map((p) => [p.title, p._expand?.author?.name ?? null])";
    const body = `return (async () => {\n${block}\nreturn { post, page: ${summary} };\n})();`;
    const { post, page } = await new Function("app", body)({ minibase: { database: () => db } });
    const told = [...block.matchAll(/^\/\/ (\[.*\]|\{.*\})$/gm)].map(([, value]) =>
      new Function(`return ${value};`)(),
    );
    assert.deepEqual(
      {
        title: post.title,
        by: post._expand.author.name,
        comments: post._expand.comments_via_post.map((comment) => [
          comment.text,
          comment._expand?.author?.name ?? null,
        ]),
      },
      told[0],
    );
    assert.deepEqual(page, told[1]);
  });
});
