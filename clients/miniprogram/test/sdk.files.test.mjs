// Files on every platform, against a real `minibase serve --dev`: uploadFile sends a file the
// phone holds through the runtime's own uploadFile (a real multipart POST), its fileID goes
// into a record, getTempFileURL answers a URL that downloads the same bytes, deleteFile takes
// it away; the server's refusals (too large, a type the field does not take, someone else's
// file) come back as they do elsewhere in the SDK.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GLOBALS } from "./support/fakes.mjs";
import { appOn, failure } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";
import { PNG } from "./support/upload.mjs";

const PHOTO_MAX = 64 * 1024;
/** A fileID no file has. */
const NOWHERE = "0".repeat(26);

let server;
before(async () => {
  server = await startServer();
  await server.createCollection({
    name: "posts",
    fields: {
      title: { type: "string" },
      photo: { type: "file", types: ["image/*"], max_size: PHOTO_MAX },
      attachments: { type: "file", multiple: true, max_files: 10 },
    },
    rules: { preset: "owner_only" },
  });
});
after(() => server?.stop());

const PLATFORMS = Object.keys(GLOBALS);

/** `bytes` put on the phone, then uploaded for posts.`field` with the other `options`. */
function upload({ app, runtime }, bytes, { extension = "png", field = "photo", ...options } = {}) {
  const filePath = runtime.fake.tempFile(bytes, extension);
  return app.uploadFile({ collection: "posts", field, filePath, ...options });
}

async function download(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  return Buffer.from(await response.arrayBuffer());
}

describe("a pending upload, written into a record", () => {
  for (const platform of PLATFORMS) {
    it(`on ${platform}: is linked, downloads the same bytes, and is deleted`, async (t) => {
      const phone = appOn(t, platform, server);
      const { app, runtime } = phone;
      const progress = [];

      const { fileID, file } = await upload(phone, PNG, { onProgress: (p) => progress.push(p) });
      assert.equal(file.id, fileID);
      assert.equal(file.size, PNG.length);
      assert.equal(file.type, "image/png"); // read from the bytes, whatever the path says
      const [sent] = runtime.fake.requests.filter((request) => request.upload);
      assert.equal(sent.path, "/api/collections/posts/files/photo");
      assert.equal(sent.upload.part, "file");
      assert.equal(file.name, sent.upload.filename); // tmp_….png; apml….image on Alipay
      if (platform === "alipay") assert.equal(sent.upload.fileType, "image");
      const { totalBytesExpectedToSend: total } = progress.at(-1);
      assert.ok(total > PNG.length); // the whole multipart body
      assert.deepEqual(progress.at(-1), {
        progress: 100,
        totalBytesSent: total,
        totalBytesExpectedToSend: total,
      });

      const posts = app.database().collection("posts");
      const { _id } = await posts.add({ data: { title: "a cat", photo: fileID } });
      assert.equal((await posts.doc(_id).get()).data.photo.id, fileID);

      const { fileList } = await app.getTempFileURL({ fileList: [fileID] });
      assert.equal(fileList.length, 1);
      const [link] = fileList;
      assert.equal(link.fileID, fileID);
      assert.equal(link.status, 0);
      assert.ok(link.maxAge > 0);
      assert.ok(PNG.equals(await download(link.tempFileURL)));

      const deleted = await app.deleteFile({ fileList: [fileID] });
      assert.deepEqual(deleted.fileList, [{ fileID, status: 0, errMsg: "ok" }]);
      assert.equal((await posts.doc(_id).get()).data.photo ?? null, null); // out of the record
      const [gone] = (await app.getTempFileURL({ fileList: [fileID] })).fileList;
      assert.equal(gone.status, "files.not_found");
      assert.equal(gone.tempFileURL, "");
    });
  }
});

describe("an upload into a record", () => {
  for (const platform of PLATFORMS) {
    it(`on ${platform}: adds the file to the record and answers both`, async (t) => {
      const phone = appOn(t, platform, server);
      const posts = phone.app.database().collection("posts");
      const { _id } = await posts.add({ data: { title: "with attachments" } });
      const attach = (bytes, extension, name) =>
        upload(phone, bytes, { field: "attachments", record: _id, extension, name });

      const first = await attach(PNG, "png", "plan.png");
      assert.equal(first.file.name, "plan.png");
      assert.equal(first.record._id, _id);
      assert.deepEqual(
        first.record.attachments.map((file) => file.id),
        [first.fileID],
      );
      const second = await attach(Buffer.from("%PDF-1.4\n%%EOF\n"), "pdf");
      const { data } = await posts.doc(_id).get();
      assert.deepEqual(
        data.attachments.map((file) => file.id),
        [first.fileID, second.fileID],
      );
    });
  }
});

describe("Alipay's fileType", () => {
  it("follows the kind its path ends in: video, audio, else image", async (t) => {
    const phone = appOn(t, "alipay", server);
    const kinds = [];
    for (const extension of ["mp4", "mp3", "png"]) {
      await upload(phone, PNG, { field: "attachments", extension });
      kinds.push(phone.runtime.fake.requests.at(-1).upload.fileType);
    }
    assert.deepEqual(kinds, ["video", "audio", "image"]);
  });
});

describe("the server's refusals", () => {
  for (const platform of PLATFORMS) {
    it(`on ${platform}: a file past the field's max size is files.too_large`, async (t) => {
      const big = Buffer.concat([PNG, Buffer.alloc(PHOTO_MAX + 1)]);
      const error = await failure(upload(appOn(t, platform, server), big));
      assert.equal(error.code, "files.too_large");
      assert.equal(error.status, 413);
    });

    it(`on ${platform}: text named .jpg is files.type_not_allowed in an image field`, async (t) => {
      const text = Buffer.from("not a picture at all");
      const error = await failure(upload(appOn(t, platform, server), text, { extension: "jpg" }));
      assert.equal(error.code, "files.type_not_allowed");
      assert.equal(error.status, 415);
      assert.ok(error.requestId);
    });
  }

  it("someone else's file is not deleted: its own status says so, the rest are", async (t) => {
    const { fileID: hers } = await upload(appOn(t, "wechat", server, { person: "ann" }), PNG);
    const bob = appOn(t, "alipay", server, { person: "bob" });
    const { fileID: his } = await upload(bob, PNG);

    const { fileList } = await bob.app.deleteFile({ fileList: [hers, his] });
    assert.equal(fileList[0].fileID, hers);
    assert.match(fileList[0].status, /^files\./);
    assert.equal(typeof fileList[0].errMsg, "string");
    assert.deepEqual(fileList[1], { fileID: his, status: 0, errMsg: "ok" });

    const [hidden] = (await bob.app.getTempFileURL({ fileList: [hers] })).fileList;
    assert.equal(hidden.status, "files.not_found"); // nor may he read it
    const ann = appOn(t, "wechat", server, { person: "ann" });
    const [link] = (await ann.app.getTempFileURL({ fileList: [hers] })).fileList;
    assert.ok(PNG.equals(await download(link.tempFileURL)));
  });
});

describe("getTempFileURL", () => {
  it("asks once per maxAge and answers in the order asked", async (t) => {
    const phone = appOn(t, "douyin", server);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await upload(phone, PNG)).fileID);
    const [a, b, c] = ids;

    const { fileList } = await phone.app.getTempFileURL({
      fileList: [{ fileID: a, maxAge: 60 }, b, { fileID: c, maxAge: 60 }, NOWHERE],
    });
    assert.deepEqual(
      fileList.map((file) => [file.fileID, file.status]),
      [
        [a, 0],
        [b, 0],
        [c, 0],
        [NOWHERE, "files.not_found"],
      ],
    );
    assert.deepEqual(
      fileList.map((file) => file.maxAge > 0),
      [true, true, true, false],
    );
    assert.equal(fileList[0].maxAge, 60);
    const sent = phone.runtime.fake.requests.filter(({ path }) => path === "/api/files/temp-urls");
    const bodies = sent.map((request) => JSON.parse(request.body));
    bodies.sort((x, y) => ("expires" in x) - ("expires" in y));
    assert.deepEqual(bodies, [{ files: [b, NOWHERE] }, { files: [a, c], expires: 60 }]);
  });
});

describe("mistakes and the network", () => {
  it("bad arguments are refused before any request", async (t) => {
    const { app, runtime } = appOn(t, "wechat", server);
    const filePath = runtime.fake.tempFile(PNG, "png");
    const photo = { collection: "posts", field: "photo", filePath };
    const calls = [
      () => app.uploadFile({ collection: "posts", filePath }),
      () => app.uploadFile({ collection: "posts", field: "photo" }),
      () => app.uploadFile({ ...photo, collection: "my posts" }),
      () => app.uploadFile({ ...photo, record: "" }),
      () => app.uploadFile({ ...photo, cloudPath: "a.png" }), // CloudBase's: not minibase's
      () => app.getTempFileURL({ fileList: [] }),
      () => app.getTempFileURL({ fileList: [{ fileID: "x", maxAge: -1 }] }),
      () => app.deleteFile({ fileList: "x" }),
      () => app.deleteFile({ fileList: [42] }),
    ];
    for (const call of calls) {
      assert.equal((await failure(call())).code, "client.invalid_argument", String(call));
    }
    const callback = await failure(app.uploadFile({ ...photo, success: () => {} }));
    assert.equal(callback.code, "client.unsupported");
    assert.equal(runtime.fake.requests.length, 0);
  });

  it("a path the phone does not have is client.invalid_argument", async (t) => {
    const gone = { wechat: "wxfile://tmp_gone.png", alipay: "https://resource/apmlgone.image" };
    for (const [platform, filePath] of Object.entries(gone)) {
      const { app } = appOn(t, platform, server);
      const uploading = app.uploadFile({ collection: "posts", field: "photo", filePath });
      assert.equal((await failure(uploading)).code, "client.invalid_argument", platform);
    }
  });

  it("with a token the server refuses, refreshes once and uploads again", async (t) => {
    const phone = appOn(t, "qq", server);
    const { app, runtime } = phone;
    await app.auth.getUser();
    const key = `minibase:session:${app.appid}`;
    const session = runtime.fake.storage.get(key);
    const [head, claims, signature] = session.access_token.split(".");
    const expired = { ...JSON.parse(Buffer.from(claims, "base64url")), exp: 1 };
    const stale = Buffer.from(JSON.stringify(expired)).toString("base64url");
    runtime.fake.storage.set(key, { ...session, access_token: `${head}.${stale}.${signature}` });

    const { file } = await upload(phone, PNG);
    assert.equal(file.size, PNG.length);
    assert.equal(runtime.fake.requestCount("/api/auth/refresh"), 1);
    assert.equal(runtime.fake.requestCount("/api/collections/posts/files/photo"), 2);
  });

  it("an upload whose answer was lost is network.timeout, and is not sent again", async (t) => {
    const phone = appOn(t, "baidu", server);
    await phone.app.auth.getUser();
    const path = "/api/collections/posts/files/photo";
    phone.runtime.fake.failNextRequests(1, { kind: "timeout", path, reachServer: true });
    const error = await failure(upload(phone, PNG));
    assert.equal(error.code, "network.timeout");
    assert.ok(error.isNetwork);
    assert.equal(phone.runtime.fake.requestCount(path), 1);
  });
});
