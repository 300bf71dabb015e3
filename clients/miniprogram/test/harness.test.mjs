// The test harness itself: a real server, and fake runtimes that behave like each platform's.
// Everything here goes through the fakes' own APIs, the way the SDK will.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fakePlatform, GLOBALS, useGlobal } from "./support/fakes.mjs";
import { startServer } from "./support/server.mjs";
import { PNG } from "./support/upload.mjs";

const GREETER = `
from minibase.functions import function


@function(auth="user")
async def greet(ctx, input):
    return {"hello": input["name"]}
`;

let server;
before(async () => {
  server = await startServer({
    settings: { access_token_ttl: 600 },
    functions: { "greeter.py": GREETER },
  });
  await server.createCollection({ name: "notes", rules: { preset: "owner_only" } });
  await server.createCollection({
    name: "pics",
    fields: { photo: { type: "file", types: ["image/*"] } },
    rules: { preset: "owner_only" },
  });
});
after(() => server?.stop());

const api = (path) => `${server.url}${path}`;

/** Calls a callback-style API; resolves to { ok, res } once complete ran after success or fail. */
function call(method, options = {}) {
  return new Promise((done) => {
    let outcome;
    method({
      ...options,
      success: (res) => (outcome = { ok: true, res }),
      fail: (res) => (outcome = { ok: false, res }),
      complete: (res) => {
        assert.equal(res, outcome.res, "complete gets what success or fail got, after it");
        done(outcome);
      },
    });
  });
}

/** The runtime's own request, its headers option spelt its own way. */
function request(runtime, { url, method = "GET", data, accessToken }) {
  const headersKey = runtime.fake.platform === "alipay" ? "headers" : "header";
  const headers = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  return call(runtime.request, { url, method, data, [headersKey]: headers });
}

const post = (runtime, url, data, accessToken) =>
  request(runtime, { url, method: "POST", data, accessToken });

/** The login code each platform's own login API gives, in the body the server takes. */
async function loginBody(runtime) {
  const appid = runtime.fake.appid;
  switch (runtime.fake.platform) {
    case "wechat":
    case "qq": {
      const { res } = await call(runtime.login);
      assert.equal(res.errMsg, "login:ok");
      return { appid, code: res.code };
    }
    case "alipay": {
      const { res } = await call(runtime.getAuthCode, { scopes: "auth_base" });
      assert.deepEqual(res.authSuccessScopes, ["auth_base"]);
      return { appid, code: res.authCode };
    }
    case "douyin": {
      const { res } = await call(runtime.login);
      assert.equal(res.isLogin, true);
      return { appid, code: res.code, anonymous_code: res.anonymousCode };
    }
    case "baidu": {
      const { res } = await call(runtime.getLoginCode);
      return { appid, code: res.code };
    }
  }
}

/** Signs the fake's person in with the fake's login and request: the login answer. */
async function signIn(runtime) {
  const url = api(`/api/auth/${runtime.fake.platform}/login`);
  const { ok, res } = await post(runtime, url, await loginBody(runtime));
  assert.ok(ok, JSON.stringify(res));
  return res.data;
}

describe("logins", () => {
  for (const platform of Object.keys(GLOBALS)) {
    it(`a ${platform} login code signs the person in, as the same user every time`, async () => {
      const first = await signIn(fakePlatform(platform, server, { person: "ann" }));
      const again = await signIn(fakePlatform(platform, server, { person: "ann" }));
      const other = await signIn(fakePlatform(platform, server, { person: "bob" }));
      assert.equal(first.identity.platform, platform);
      assert.equal(first.identity.appid, server.apps[platform]);
      assert.equal(again.user.id, first.user.id);
      assert.notEqual(other.user.id, first.user.id);
    });
  }

  it("a login code is single-use, as the platforms' are", async () => {
    const wx = fakePlatform("wechat", server);
    const body = await loginBody(wx);
    await post(wx, api("/api/auth/wechat/login"), body);
    const { res } = await post(wx, api("/api/auth/wechat/login"), body);
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.code, "auth.invalid_code");
  });

  it("someone logged out of Douyin is a guest with tt.login({ force: false })", async () => {
    const tt = fakePlatform("douyin", server, { person: "cy" });
    tt.fake.loggedIn = false;
    const { res } = await call(tt.login, { force: false });
    assert.equal(res.code, undefined);
    assert.equal(res.isLogin, false);
    const body = { appid: tt.fake.appid, anonymous_code: res.anonymousCode };
    const login = await post(tt, api("/api/auth/douyin/login"), body);
    assert.equal(login.res.data.identity.guest, true);

    const prompted = await call(tt.login); // force defaults to true: the person logs in
    assert.equal(prompted.res.isLogin, true);
    assert.equal(typeof prompted.res.code, "string");
  });

  it("each runtime tells its app id its own way", () => {
    const appIds = {
      wechat: (wx) => wx.getAccountInfoSync().miniProgram.appId,
      qq: (qq) => qq.getAccountInfoSync().miniProgram.appId,
      alipay: (my) => my.getAppIdSync().appId,
      douyin: (tt) => tt.getEnvInfoSync().microapp.appId,
      baidu: (swan) => swan.getEnvInfoSync().appKey,
    };
    for (const [platform, appId] of Object.entries(appIds)) {
      assert.equal(appId(fakePlatform(platform, server)), server.apps[platform]);
    }
  });

  it("the server runs with the test's settings and functions", async () => {
    const wx = fakePlatform("wechat", server);
    const session = await signIn(wx);
    assert.equal(session.expires_in, 600);
    const greet = api("/api/functions/greet");
    const greeted = await post(wx, greet, { name: "ann" }, session.access_token);
    assert.deepEqual(greeted.res.data, { result: { hello: "ann" } });
  });

  it("useGlobal leaves one runtime global, and puts the others back", () => {
    globalThis.wx = "before";
    const tt = fakePlatform("douyin", server);
    const restore = useGlobal(tt);
    assert.equal(globalThis.tt, tt);
    assert.equal(typeof globalThis.wx, "undefined");
    restore();
    assert.equal(globalThis.wx, "before");
    assert.equal(typeof globalThis.tt, "undefined");
    delete globalThis.wx;
  });
});

describe("requests", () => {
  it("WeChat calls success for every HTTP status, with statusCode and header", async () => {
    const wx = fakePlatform("wechat", server);
    const { ok, res } = await call(wx.request, { url: api("/api/auth/me") });
    assert.ok(ok);
    assert.equal(res.statusCode, 401);
    assert.equal(res.data.code, "auth.required");
    assert.equal(res.header["x-request-id"], res.data.request_id);
    assert.equal(res.errMsg, "request:ok");
  });

  it("Alipay calls fail for a non-2xx status: error 19, status, data, headers", async () => {
    const my = fakePlatform("alipay", server);
    const { ok, res } = await call(my.request, { url: api("/api/auth/me") });
    assert.ok(!ok);
    assert.equal(res.error, 19);
    assert.equal(res.status, 401);
    assert.equal(res.data.code, "auth.required");
    assert.equal(res.headers["x-request-id"], res.data.request_id);
  });

  it("Alipay reads its headers from `headers`, not from WeChat's `header`", async () => {
    const my = fakePlatform("alipay", server);
    const authorization = { Authorization: `Bearer ${(await signIn(my)).access_token}` };
    const url = api("/api/auth/me");
    assert.equal((await call(my.request, { url, headers: authorization })).res.status, 200);
    assert.equal((await call(my.request, { url, header: authorization })).res.status, 401);
  });

  it("data goes as JSON, as a form with a form content-type, and in a GET's query", async () => {
    const wx = fakePlatform("wechat", server);
    const url = api("/api/auth/wechat/login");
    const data = { appid: "x", code: "y" };
    await call(wx.request, { url, method: "POST", data });
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    await call(wx.request, { url, method: "POST", data, header: form });
    await call(wx.request, { url: api("/api/health?a=1"), data: { b: 2 } });
    const [asJson, asForm, asQuery] = wx.fake.requests;
    assert.equal(asJson.body, '{"appid":"x","code":"y"}');
    assert.equal(asJson.headers["content-type"], "application/json");
    assert.equal(asForm.body, "appid=x&code=y");
    assert.equal(asQuery.url, api("/api/health?a=1&b=2"));
  });

  it("no platform's request takes PATCH", async () => {
    for (const platform of Object.keys(GLOBALS)) {
      const runtime = fakePlatform(platform, server);
      const { ok } = await call(runtime.request, { url: api("/api/health"), method: "PATCH" });
      assert.ok(!ok, platform);
      assert.equal(runtime.fake.requests.length, 0);
    }
  });

  it("network failures come in each platform's shape, then requests go through", async () => {
    const timeouts = {
      wechat: { errMsg: "request:fail timeout", errno: 5 },
      qq: { errMsg: "request:fail timeout", errno: 5 },
      douyin: { errMsg: "request:fail timeout" },
      baidu: { errCode: 1001, errMsg: "request:fail timeout" },
      alipay: { error: 13, errorMessage: "超时" },
    };
    const url = api("/api/health");
    for (const [platform, failure] of Object.entries(timeouts)) {
      const runtime = fakePlatform(platform, server);
      runtime.fake.failNextRequests(1, { kind: "timeout" });
      assert.deepEqual(await call(runtime.request, { url }), { ok: false, res: failure });
      assert.ok((await call(runtime.request, { url })).ok, platform);
    }
    const my = fakePlatform("alipay", server);
    my.fake.failNextRequests(1, { kind: "offline" });
    assert.deepEqual((await call(my.request, { url })).res, { error: 12, errorMessage: "网络出错" });
  });

  it("a failure can aim at one path, and be lost after the server did the work", async () => {
    const wx = fakePlatform("wechat", server);
    const { access_token: accessToken } = await signIn(wx);
    const path = "/api/collections/notes/records";
    wx.fake.failNextRequests(1, { kind: "timeout", path, reachServer: true });
    assert.ok((await call(wx.request, { url: api("/api/health") })).ok);
    const lost = await post(wx, api(path), { text: "sent once" }, accessToken);
    assert.equal(lost.res.errMsg, "request:fail timeout");
    const listed = await request(wx, { url: api(path), accessToken });
    assert.deepEqual(
      listed.res.data.items.map((note) => note.text),
      ["sent once"],
    );
    assert.equal(wx.fake.requestCount(path), 2);
    assert.equal(wx.fake.requestCount("/api/health"), 1);
  });

  it("a request's timeout option is honoured, and abort() fails it", async () => {
    // the sandbox holds the next call to WeChat for a second; the request waits 200 ms
    await server.control("/outage", { platform: "wechat", mode: "timeout", count: 1, seconds: 1 });
    const my = fakePlatform("alipay", server);
    const url = `${server.sandboxUrl}/wechat/cgi-bin/token`;
    const waiting = call(my.request, { url, timeout: 200 });
    // a garbage collection while it waits must not lose the timeout (nodejs/node#57736)
    setTimeout(() => globalThis.gc(), 50);
    assert.deepEqual((await waiting).res, { error: 13, errorMessage: "超时" });

    const wx = fakePlatform("wechat", server);
    const aborted = new Promise((done) => {
      wx.request({ url: api("/api/health"), fail: done, success: done }).abort();
    });
    assert.deepEqual(await aborted, { errMsg: "request:fail abort" });
  });
});

describe("storage", () => {
  it("WeChat keeps copies by key, and answers '' for a missing key", () => {
    const wx = fakePlatform("wechat", server);
    assert.equal(wx.getStorageSync("session"), "");
    const session = { token: "t" };
    wx.setStorageSync("session", session);
    session.token = "changed after storing";
    assert.deepEqual(wx.getStorageSync("session"), { token: "t" });
    assert.deepEqual(wx.fake.storage.get("session"), { token: "t" });
    wx.removeStorageSync("session");
    assert.equal(wx.fake.storage.has("session"), false);
  });

  it("Alipay takes { key, data } and answers { data }, null for a missing key", () => {
    const my = fakePlatform("alipay", server);
    assert.deepEqual(my.getStorageSync({ key: "session" }), { data: null });
    my.setStorageSync({ key: "session", data: { token: "t" } });
    assert.deepEqual(my.getStorageSync({ key: "session" }), { data: { token: "t" } });
    my.fake.storage.set("session", { token: "planted" });
    assert.deepEqual(my.getStorageSync({ key: "session" }).data, { token: "planted" });
  });

  it("the callback versions report a missing key through fail", async () => {
    const tt = fakePlatform("douyin", server);
    assert.equal((await call(tt.getStorage, { key: "nothing" })).ok, false);
    await call(tt.setStorage, { key: "k", data: 1 });
    assert.deepEqual((await call(tt.getStorage, { key: "k" })).res.data, 1);
  });
});

describe("uploads", () => {
  /** What each runtime's uploadFile takes besides url, filePath, header and formData. */
  const PART = {
    wechat: { name: "file" },
    qq: { name: "file" },
    douyin: { name: "file" },
    baidu: { name: "file" },
    alipay: { fileName: "file", fileType: "image" },
  };
  /** The bytes sent so far and in all, as each UploadTask's progress event names them. */
  const SENT = {
    alipay: ["totalBytesWritten", "totalBytesExpectedToWrite"],
    other: ["totalBytesSent", "totalBytesExpectedToSend"],
  };

  /** The runtime's uploadFile, with the progress events its UploadTask told. */
  function upload(runtime, options) {
    const progress = [];
    return new Promise((done) => {
      const task = runtime.uploadFile({
        ...options,
        success: (res) => done({ ok: true, res, progress }),
        fail: (res) => done({ ok: false, res, progress }),
      });
      task.onProgressUpdate((event) => progress.push(event));
    });
  }

  it("each platform's sends the phone's file as multipart, and answers in text", async () => {
    const paths = [];
    for (const [platform, part] of Object.entries(PART)) {
      const runtime = fakePlatform(platform, server);
      const { access_token: accessToken } = await signIn(runtime);
      const filePath = runtime.fake.tempFile(PNG, "png");
      paths.push(filePath);
      const { ok, res, progress } = await upload(runtime, {
        url: api("/api/collections/pics/files/photo"),
        filePath,
        ...part,
        formData: { name: `from ${platform}` },
        header: { Authorization: `Bearer ${accessToken}` },
      });
      assert.ok(ok, `${platform}: ${JSON.stringify(res)}`);
      assert.equal(res.statusCode, 201);
      assert.equal(typeof res.data, "string");
      assert.equal(JSON.parse(res.data).file.name, `from ${platform}`);
      assert.equal(runtime.fake.requests.at(-1).upload.filename, filePath.split("/").pop());
      const [sent, total] = SENT[platform] ?? SENT.other;
      assert.equal(progress.at(-1).progress, 100, platform);
      assert.equal(progress.at(-1)[sent], progress.at(-1)[total], platform);
      if (platform === "alipay") assert.equal(typeof res.header["x-request-id"], "string");
    }
    const [wechat, qq, douyin, baidu, alipay] = paths;
    assert.match(wechat, /^wxfile:\/\/tmp_\w+\.png$/);
    assert.match(qq, /^qqfile:\/\/tmp_\w+\.png$/);
    assert.match(douyin, /^ttfile:\/\/temp\/\w+\.png$/);
    assert.match(baidu, /^bdfile:\/\/tmp_\w+\.png$/);
    assert.match(alipay, /^https:\/\/resource\/apml\w+\.image$/);
  });

  it("Alipay's needs fileType; a path the phone lacks fails in each one's shape", async () => {
    const url = api("/api/collections/pics/files/photo");
    const my = fakePlatform("alipay", server);
    const filePath = my.fake.tempFile(PNG, "png");
    const untyped = await call(my.uploadFile, { url, filePath, fileName: "file" });
    assert.equal(untyped.res.error, 2);
    const gone = { url, filePath: "https://resource/apmlgone.image", fileName: "file" };
    const missing = await call(my.uploadFile, { ...gone, fileType: "image" });
    assert.deepEqual(missing.res, { error: 11, errorMessage: "文件不存在" });
    const wx = fakePlatform("wechat", server);
    const lost = await call(wx.uploadFile, { url, filePath: "wxfile://tmp_gone.png", name: "f" });
    assert.equal(lost.ok, false);
    assert.match(lost.res.errMsg, /^uploadFile:fail file not found/);
    assert.equal(my.fake.requests.length + wx.fake.requests.length, 0);
  });

  it("wx.chooseImage puts the pictures picked on the phone; with no callback, promises", async () => {
    const wx = fakePlatform("wechat", server);
    const closed = await call(wx.chooseImage, { count: 1 });
    assert.deepEqual(closed, { ok: false, res: { errMsg: "chooseImage:fail cancel" } });
    await assert.rejects(wx.chooseImage({ count: 1 }), { errMsg: "chooseImage:fail cancel" });

    wx.fake.answers.images = [PNG, PNG];
    const { tempFilePaths, tempFiles, errMsg } = await wx.chooseImage({ count: 1 });
    assert.equal(errMsg, "chooseImage:ok");
    assert.equal(tempFilePaths.length, 1);
    assert.match(tempFilePaths[0], /^wxfile:\/\/tmp_\w+\.png$/);
    assert.deepEqual(tempFiles, [{ path: tempFilePaths[0], size: PNG.length }]);
    assert.ok(PNG.equals(wx.fake.files.get(tempFilePaths[0])), "uploadFile can send it");
    const { res } = await call(wx.chooseImage); // count: 9 unless told
    assert.equal(res.tempFilePaths.length, 2);
  });
});

describe("payments", () => {
  /** Signs the runtime's person in and places an order with the runtime's request. */
  async function placeOrder(runtime, key) {
    const { access_token: accessToken } = await signIn(runtime);
    const order = { product: "coffee", amount: 1800, idempotency_key: key };
    const placed = await post(runtime, api("/api/pay/orders"), order, accessToken);
    return { accessToken, ...placed.res.data };
  }

  async function orderState(runtime, accessToken, id) {
    const { res } = await request(runtime, { url: api(`/api/pay/orders/${id}`), accessToken });
    return res.data.order.state;
  }

  it("wx.requestPayment pays with the parameters the server signed", async () => {
    const wx = fakePlatform("wechat", server, { person: "payer" });
    const { accessToken, order, payment } = await placeOrder(wx, "cart-wechat");
    assert.deepEqual(await call(wx.requestPayment, payment), {
      ok: true,
      res: { errMsg: "requestPayment:ok" },
    });
    assert.equal(await orderState(wx, accessToken, order.id), "paid");
  });

  it("wx.requestPayment fails on cancel (the person closes it) and on a bad paySign", async () => {
    const wx = fakePlatform("wechat", server, { person: "payer" });
    const { accessToken, order, payment } = await placeOrder(wx, "cart-wechat-cancel");
    wx.fake.answers.payment = "cancel";
    assert.deepEqual(await call(wx.requestPayment, payment), {
      ok: false,
      res: { errMsg: "requestPayment:fail cancel" },
    });
    wx.fake.answers.payment = "pay";
    const forged = await call(wx.requestPayment, { ...payment, paySign: payment.paySign.slice(1) });
    assert.match(forged.res.errMsg, /^requestPayment:fail .*paySign/);
    assert.equal(await orderState(wx, accessToken, order.id), "created");
  });

  it("my.tradePay answers resultCode 6001 when the person cancels, 9000 once paid", async () => {
    const my = fakePlatform("alipay", server, { person: "payer" });
    const { accessToken, order, payment } = await placeOrder(my, "cart-alipay");
    my.fake.answers.payment = "cancel";
    const cancelled = await call(my.tradePay, { tradeNO: payment.tradeNO });
    assert.deepEqual(cancelled.res, { resultCode: "6001" });
    assert.equal(await orderState(my, accessToken, order.id), "created");
    my.fake.answers.payment = "pay";
    const paid = await call(my.tradePay, { tradeNO: payment.tradeNO });
    assert.deepEqual(paid.res, { resultCode: "9000" });
    assert.equal(await orderState(my, accessToken, order.id), "paid");
  });
});

describe("subscribe messages and phone numbers", () => {
  it("a WeChat template the person accepts lets the server send them a message", async () => {
    const wx = fakePlatform("wechat", server, { person: "subscriber" });
    const session = await signIn(wx);
    wx.fake.answers.subscribe = { "tmpl-declined": "reject" };
    const tmplIds = ["tmpl-shipped", "tmpl-declined"];
    const { res } = await call(wx.requestSubscribeMessage, { tmplIds });
    assert.deepEqual(res, {
      errMsg: "requestSubscribeMessage:ok",
      "tmpl-shipped": "accept",
      "tmpl-declined": "reject",
    });

    const answers = Object.fromEntries(tmplIds.map((id) => [id, res[id]]));
    const grants = await post(wx, api("/api/messages/grants"), answers, session.access_token);
    assert.deepEqual(grants.res.data, { "tmpl-shipped": 1 });
    await server.admin("POST", "/api/messages/subscribe", {
      user: session.user.id,
      template_id: "tmpl-shipped",
      data: { thing1: "a flat white" },
    });
    let delivered = [];
    for (let tries = 0; tries < 100 && delivered.length === 0; tries++) {
      await new Promise((done) => setTimeout(done, 100));
      const { items } = await server.control("/subscribe-messages");
      delivered = items.filter((message) => message.person === "subscriber");
    }
    assert.deepEqual(
      delivered.map((message) => message.template_id),
      ["tmpl-shipped"],
    );
  });

  it("Alipay's prompt answers a behavior, result lists and the answer per template", async () => {
    const my = fakePlatform("alipay", server, { person: "subscriber" });
    my.fake.answers.subscribe = { "tmpl-b": "reject" };
    const { res } = await call(my.requestSubscribeMessage, { entityIds: ["tmpl-a", "tmpl-b"] });
    assert.equal(res.behavior, "subscribe");
    assert.deepEqual(res.result.subscribedEntityIds, ["tmpl-a"]);
    assert.deepEqual(res.result.unsubscribedEntityIds, ["tmpl-b"]);
    assert.equal(res["tmpl-a"], "accept");
  });

  it("a WeChat phone code binds the number; Alipay hands it over sealed", async () => {
    const wx = fakePlatform("wechat", server, { person: "phoned" });
    const { access_token: wechatToken } = await signIn(wx);
    const code = await wx.fake.phoneCode("13800138000");
    const bound = await post(wx, api("/api/auth/phone"), { code }, wechatToken);
    assert.equal(bound.res.data.phone, "138****8000");

    const my = fakePlatform("alipay", server, { person: "phoned" });
    my.fake.phone = "13900139000";
    const { access_token: alipayToken } = await signIn(my);
    const { res } = await call(my.getPhoneNumber);
    const { response, sign } = JSON.parse(res.response);
    const sealed = await post(my, api("/api/auth/phone"), { response, sign }, alipayToken);
    assert.equal(sealed.res.data.phone, "139****9000");
  });
});
