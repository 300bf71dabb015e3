// What docs/files.md shows "From the mini program", run as a reader would on WeChat: the doc's
// js block, in a page's async handler (a fake page for `this`, getApp() holding the SDK inited
// against a real `minibase serve --dev`), with the picture the reader picks in wx.chooseImage.
// The curl walk of the same page is tests/e2e/test_files_doc_walk.py.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { docBlock } from "./support/docs.mjs";
import { appOn } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";
import { PNG } from "./support/upload.mjs";

const AsyncFunction = (async () => {}).constructor;

let server;
before(async () => {
  server = await startServer();
  // the collection of the doc's curl walk
  await server.createCollection({
    name: "posts",
    fields: {
      title: { type: "string" },
      photo: { type: "file", types: ["image/*"], thumbs: ["200x200"] },
    },
    rules: { preset: "owner_only" },
  });
});
after(() => server?.stop());

/** A page instance as `this` in its handlers: data, and setData merging into it. */
function fakePage() {
  const data = {};
  return { data, setData: (changes) => Object.assign(data, changes) };
}

/** `app` as the page gets it: its file calls keep their answers (answers.uploadFile[0] ...) and
 * let `look(name, answer)` finish before the page carries on. */
function keepingAnswers(app, look) {
  const answers = { uploadFile: [], getTempFileURL: [], deleteFile: [] };
  const kept = { ...app };
  for (const name of Object.keys(answers)) {
    kept[name] = async (options) => {
      const answer = await app[name](options);
      answers[name].push(answer);
      await look(name, answer);
      return answer;
    };
  }
  return { kept, answers };
}

async function download(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  return Buffer.from(await response.arrayBuffer());
}

describe("docs/files.md, from the mini program", () => {
  it("uploads, posts, shows, replaces and deletes the photo, as written", async (t) => {
    const { app, runtime } = appOn(t, "wechat", server, { person: "reader" });
    runtime.fake.answers.images = [PNG]; // the picture the reader picks
    const posts = app.database().collection("posts");
    // what the page shows, looked at as it gets the URL: the next lines replace the photo
    const shown = {};
    const { kept, answers } = keepingAnswers(app, async (name, answer) => {
      if (name !== "getTempFileURL") return;
      shown.bytes = await download(answer.fileList[0].tempFileURL);
      shown.posts = (await posts.get()).data;
    });
    const page = fakePage();

    const js = docBlock("files.md", "js", "## From the mini program");
    await new AsyncFunction("getApp", js).call(page, () => ({ minibase: kept }));

    // the upload went through wx.uploadFile, then into the post the block added
    const [uploaded, replaced] = answers.uploadFile;
    const uploads = runtime.fake.requests.filter((request) => request.upload);
    assert.deepEqual(
      uploads.map((request) => [request.path, request.upload.part]),
      [
        ["/api/collections/posts/files/photo", "file"],
        [`/api/collections/posts/records/${replaced.record._id}/files/photo`, "file"],
      ],
    );
    assert.equal(uploaded.file.type, "image/png");
    assert.equal(shown.posts.length, 1);
    const [post] = shown.posts;
    assert.equal(post.title, "teal");
    assert.deepEqual(post.photo, uploaded.file); // the server's reference, not just the id

    // the page shows a temporary URL that downloads the picture picked
    const [link] = answers.getTempFileURL[0].fileList;
    assert.equal(link.fileID, uploaded.fileID);
    assert.equal(page.data.photo, link.tempFileURL);
    assert.ok(PNG.equals(shown.bytes), "the temporary URL gave other bytes");

    // the upload into the post replaced its photo: the old file went with it
    assert.equal(replaced.record._id, post._id);
    assert.notEqual(replaced.fileID, uploaded.fileID);
    assert.deepEqual(replaced.record.photo, replaced.file);
    const [old] = (await app.getTempFileURL({ fileList: [uploaded.fileID] })).fileList;
    assert.equal(old.status, "files.not_found");

    // deleteFile answers as the doc's comment says, and takes the photo out of the post
    assert.deepEqual(answers.deleteFile, [
      { fileList: [{ fileID: replaced.fileID, status: 0, errMsg: "ok" }] },
    ]);
    const { data } = await posts.doc(post._id).get();
    assert.equal(data.title, "teal");
    assert.equal(data.photo ?? null, null);
  });
});
