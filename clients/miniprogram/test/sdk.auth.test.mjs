// The signed-in user, as a mini program lives it: silent login, one refresh however many calls
// wait, a silent login again when the refresh token is dead, sign-out, and the server's errors
// and the network's failures told apart. Against a real `minibase serve --dev`, through fake wx.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, afterEach, before, describe, it } from "node:test";
import { fakePlatform, useGlobal } from "./support/fakes.mjs";
import { startServer } from "./support/server.mjs";

const minibase = createRequire(import.meta.url)("../dist/minibase.js");

let server;
before(async () => {
  server = await startServer();
  await server.createCollection({ name: "notes", rules: { preset: "owner_only" } });
});
after(() => server?.stop());

let restore = () => {};
afterEach(() => restore());

/** A WeChat mini program used by `person`: its fake wx and its minibase app. */
function miniProgram(person = "ann") {
  const wx = fakePlatform("wechat", server, { person });
  restore = useGlobal(wx);
  const app = minibase.init({ url: server.url });
  return { wx, app, session: () => wx.fake.storage.get(`minibase:session:${app.appid}`) };
}

/** Makes the stored access token one the server refuses as expired, without the client
 * knowing: what a device whose clock is behind sees. */
function expireOnTheServer(mp) {
  const session = mp.session();
  const [head, , signature] = session.access_token.split(".");
  const claims = JSON.parse(Buffer.from(session.access_token.split(".")[1], "base64url"));
  const stale = Buffer.from(JSON.stringify({ ...claims, exp: 1 })).toString("base64url");
  mp.wx.fake.storage.set(`minibase:session:${mp.app.appid}`, {
    ...session,
    access_token: `${head}.${stale}.${signature}`,
  });
}

describe("login", () => {
  it("happens silently on the first call, once, and is kept in storage", async () => {
    const mp = miniProgram();
    const told = [];
    mp.app.auth.onChange((user) => told.push(user && user.id));
    const [me, again] = await Promise.all([mp.app.auth.getUser(), mp.app.call("GET", "/api/auth/me")]);
    assert.equal(me.id, again.id);
    assert.equal(mp.wx.fake.requestCount("/api/auth/wechat/login"), 1);
    assert.deepEqual(told, [me.id]);
    assert.equal(mp.session().user.id, me.id);
    assert.equal(mp.app.auth.currentUser.id, me.id);
    assert.equal(typeof mp.session().refresh_token, "string");
  });

  it("is not repeated by a new app object on the same phone", async () => {
    const mp = miniProgram();
    const first = await mp.app.auth.getUser();
    const reopened = minibase.init({ url: server.url });
    assert.equal((await reopened.auth.getUser()).id, first.id);
    assert.equal(mp.wx.fake.requestCount("/api/auth/wechat/login"), 1);
  });
});

describe("refresh", () => {
  it("is one request for 20 concurrent calls with an expired token, and nobody is signed out", async () => {
    const mp = miniProgram();
    const me = await mp.app.auth.getUser();
    const told = [];
    mp.app.auth.onChange((user) => told.push(user));
    mp.wx.fake.storage.set(`minibase:session:${mp.app.appid}`, { ...mp.session(), expires_at: 0 });

    const answers = await Promise.all(
      Array.from({ length: 20 }, () => mp.app.call("GET", "/api/auth/me")),
    );
    assert.ok(answers.every((answer) => answer.id === me.id));
    assert.equal(mp.wx.fake.requestCount("/api/auth/refresh"), 1);
    assert.equal(mp.wx.fake.requestCount("/api/auth/wechat/login"), 1, "no second login");
    assert.deepEqual(told, [], "the same user throughout");
    assert.ok(mp.session().expires_at > Date.now());
  });

  it("is one request when the server refuses the token of 20 concurrent calls", async () => {
    const mp = miniProgram();
    const me = await mp.app.auth.getUser();
    expireOnTheServer(mp);

    const answers = await Promise.all(
      Array.from({ length: 20 }, () => mp.app.database().collection("notes").get()),
    );
    assert.ok(answers.every((answer) => Array.isArray(answer.data)));
    assert.equal(mp.wx.fake.requestCount("/api/auth/refresh"), 1);
    assert.equal(mp.app.auth.currentUser.id, me.id);
  });

  it("with a revoked refresh token logs in again silently, as the same person", async () => {
    const mp = miniProgram();
    const me = await mp.app.auth.getUser();
    await server.admin("POST", `/api/admin/users/${me.id}/revoke`);
    mp.wx.fake.storage.set(`minibase:session:${mp.app.appid}`, { ...mp.session(), expires_at: 0 });

    const again = await mp.app.call("GET", "/api/auth/me");
    assert.equal(again.id, me.id);
    assert.equal(mp.wx.fake.requestCount("/api/auth/refresh"), 1);
    assert.equal(mp.wx.fake.requestCount("/api/auth/wechat/login"), 2);
  });

  it("after an admin signed the user out everywhere, the next call still works", async () => {
    const mp = miniProgram();
    const me = await mp.app.auth.getUser();
    await server.admin("POST", `/api/admin/users/${me.id}/revoke`); // the access token stops too
    const notes = await mp.app.database().collection("notes").get();
    assert.deepEqual(notes.data, []);
    assert.equal(mp.wx.fake.requestCount("/api/auth/wechat/login"), 2);
  });
});

describe("a disabled user", () => {
  it("gets auth.user_revoked and is signed out", async () => {
    const mp = miniProgram("dora");
    const me = await mp.app.auth.getUser();
    const told = [];
    mp.app.auth.onChange((user) => told.push(user));
    await server.admin("PATCH", `/api/admin/users/${me.id}`, { disabled: true });

    await assert.rejects(mp.app.call("GET", "/api/auth/me"), (error) => {
      assert.equal(error.name, "MinibaseError");
      assert.equal(error.code, "auth.user_revoked");
      assert.equal(error.status, 401);
      return true;
    });
    assert.deepEqual(told, [null]);
    assert.equal(mp.session(), undefined);
    await server.admin("PATCH", `/api/admin/users/${me.id}`, { disabled: false });
  });
});

describe("sign out", () => {
  it("ends the session, and nothing logs in until signIn", async () => {
    const mp = miniProgram("sam");
    const me = await mp.app.auth.getUser();
    const told = [];
    mp.app.auth.onChange((user) => told.push(user && user.id));
    const refreshToken = mp.session().refresh_token;

    await mp.app.auth.signOut();
    assert.equal(mp.app.auth.currentUser, null);
    await assert.rejects(mp.app.call("GET", "/api/auth/me"), { code: "auth.required" });
    assert.equal(mp.wx.fake.requestCount("/api/auth/wechat/login"), 1);
    // the server ended the session: its refresh token is dead
    const refreshed = await fetch(`${server.url}/api/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    assert.equal(refreshed.status, 401);

    assert.equal((await mp.app.auth.signIn()).id, me.id);
    assert.equal((await mp.app.call("GET", "/api/auth/me")).id, me.id);
    assert.deepEqual(told, [null, me.id]);
  });
});

describe("errors", () => {
  it("from the server carry its code, message, status, request id and details", async () => {
    const mp = miniProgram();
    await assert.rejects(mp.app.call("GET", "/api/collections/nope/records"), (error) => {
      assert.equal(error instanceof minibase.MinibaseError, true);
      assert.equal(error.code, "collections.not_found");
      assert.equal(error.status, 404);
      assert.equal(error.isNetwork, false);
      assert.match(error.requestId, /^[0-9a-f]{16}$/);
      assert.equal(typeof error.message, "string");
      return true;
    });
  });

  it("a read that times out is retried and answers", async () => {
    const mp = miniProgram();
    await mp.app.auth.getUser();
    mp.wx.fake.failNextRequests(2, { kind: "timeout", path: "/api/collections/notes/records" });
    const page = await mp.app.database().collection("notes").get();
    assert.ok(Array.isArray(page.data));
    assert.equal(mp.wx.fake.requestCount("/api/collections/notes/records"), 3);
  });

  it("a write whose answer was lost is not sent again, and says it was the network", async () => {
    const mp = miniProgram("walt");
    await mp.app.auth.getUser();
    mp.wx.fake.failNextRequests(1, {
      kind: "offline",
      path: "/api/collections/notes/records",
      reachServer: true,
    });
    await assert.rejects(
      mp.app.database().collection("notes").add({ data: { text: "once" } }),
      (error) => {
        assert.equal(error.code, "network.failed");
        assert.equal(error.status, 0);
        assert.equal(error.isNetwork, true);
        return true;
      },
    );
    assert.equal(mp.wx.fake.requestCount("/api/collections/notes/records"), 1);
    const { data } = await mp.app.database().collection("notes").get();
    assert.deepEqual(
      data.map((note) => note.text),
      ["once"],
    );
  });

  it("a timeout is network.timeout", async () => {
    const mp = miniProgram("tim");
    await mp.app.auth.getUser();
    mp.wx.fake.failNextRequests(3, { kind: "timeout", path: "/api/auth/me" });
    await assert.rejects(mp.app.call("GET", "/api/auth/me"), { code: "network.timeout" });
  });
});

describe("profile", () => {
  it("stores what the platform signed, and tells onChange", async () => {
    const mp = miniProgram("pat");
    await mp.app.auth.getUser();
    const told = [];
    mp.app.auth.onChange((user) => told.push(user));
    const rawData = JSON.stringify({ nickName: "Pat", avatarUrl: "https://example.com/p.png" });
    const { signature } = await server.control("/raw-data-signature", {
      platform: "wechat",
      appid: mp.app.appid,
      person: "pat",
      raw_data: rawData,
    });

    const user = await mp.app.auth.updateProfile({ rawData, signature });
    assert.equal(user.profile.nickName ?? user.profile.nickname, "Pat");
    assert.equal(told.length, 1);
    assert.equal(mp.app.auth.currentUser.id, user.id);
    await assert.rejects(
      mp.app.auth.updateProfile({ rawData, signature: "0".repeat(40) }),
      { code: "auth.invalid_encrypted_data" },
    );
  });
});
