// The built SDK with what the platform asks the person, against a real `minibase serve --dev`
// and its sandbox: the payment sheet (app.pay), the subscribe-message prompt
// (app.requestSubscribe) and the phone-number button (auth.bindPhone), on the platforms that
// have them, and a clear client.unsupported before any request on those that do not.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SHOP, appOn, failure } from "./support/sdk.mjs";
import { startServer } from "./support/server.mjs";

let server;
before(async () => {
  server = await startServer({ functions: { "shop.py": SHOP } });
});
after(() => server?.stop());

/** Wraps the runtime's API `name` to count its calls: answers the count so far. */
function counted(runtime, name) {
  const api = runtime[name];
  let calls = 0;
  runtime[name] = (options) => {
    calls += 1;
    return api(options);
  };
  return () => calls;
}

const SHEETS = { wechat: "requestPayment", alipay: "tradePay" };

describe("payments", () => {
  for (const [platform, sheet] of Object.entries(SHEETS)) {
    it(`on ${platform}, pay() places the order, opens ${sheet} and answers the paid order`, async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: "buyer" });
      const sheets = counted(runtime, sheet);
      const order = await app.pay({ product: "coffee", idempotencyKey: `${platform}-cart-1` });
      assert.equal(order.state, "paid");
      assert.equal(order.amount, 1800); // the @price hook's, not the client's
      assert.equal(order.product, "coffee");
      assert.equal(sheets(), 1);

      const again = await app.pay({ product: "coffee", idempotencyKey: `${platform}-cart-1` });
      assert.equal(again.id, order.id);
      assert.equal(again.state, "paid");
      assert.equal(sheets(), 1, "a paid order opens no second payment sheet");
      const { items } = await app.call("GET", "/api/pay/orders");
      assert.deepEqual(
        items.map((listed) => listed.id),
        [order.id],
      );
    });

    it(`on ${platform}, a closed payment sheet rejects with pay.cancelled and the order`, async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: "hesitant" });
      runtime.fake.answers.payment = "cancel";
      const cancelled = await failure(
        app.pay({ product: "coffee", idempotencyKey: `${platform}-cart-2` }),
      );
      assert.equal(cancelled.code, "pay.cancelled");
      const { order } = cancelled.details;
      assert.equal(order.state, "created");
      assert.equal(order.product, "coffee");

      runtime.fake.answers.payment = "pay"; // they change their mind: the same order is paid
      const paid = await app.pay({ product: "coffee", idempotencyKey: `${platform}-cart-2` });
      assert.equal(paid.id, order.id);
      assert.equal(paid.state, "paid");
    });
  }

  for (const platform of ["douyin", "baidu", "qq"]) {
    it(`on ${platform}, pay() rejects with client.unsupported before any request`, async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: "buyer" });
      await app.auth.getUser(); // signed in: the refusal is not for want of a user
      const sent = runtime.fake.requests.length;
      const refused = await failure(app.pay({ product: "coffee", idempotencyKey: "cart" }));
      assert.equal(refused.code, "client.unsupported");
      assert.equal(refused.status, 0);
      assert.equal(runtime.fake.requests.length, sent);
    });
  }
});

describe("subscribe messages", () => {
  for (const platform of ["wechat", "douyin", "alipay"]) {
    it(`on ${platform}, requestSubscribe() records what the person accepted`, async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: "subscriber" });
      runtime.fake.answers.subscribe = { "tmpl-declined": "reject" };
      const grants = await app.requestSubscribe(["tmpl-shipped", "tmpl-declined"]);
      assert.deepEqual(grants, { "tmpl-shipped": 1, "tmpl-declined": 0 });
      assert.deepEqual(await app.call("GET", "/api/messages/grants"), { "tmpl-shipped": 1 });

      const more = await app.requestSubscribe(["tmpl-shipped"]);
      assert.equal(more["tmpl-shipped"], 2, "each acceptance lets one more message through");
    });
  }

  it("on Douyin, a template whose subscription failed counts 0, and the others are recorded", async (t) => {
    const { app, runtime } = appOn(t, "douyin", server, { person: "unlucky" });
    runtime.fake.answers.subscribe = { "tmpl-failed": "fail", "tmpl-banned": "ban" };
    const grants = await app.requestSubscribe(["tmpl-shipped", "tmpl-failed", "tmpl-banned"]);
    assert.deepEqual(grants, { "tmpl-shipped": 1, "tmpl-failed": 0, "tmpl-banned": 0 });
  });

  it("a prompt that answers for none of the templates grants none", async (t) => {
    const { app, runtime } = appOn(t, "wechat", server, { person: "silent" });
    runtime.requestSubscribeMessage = (options) => {
      const answer = { errMsg: "requestSubscribeMessage:ok" };
      setTimeout(() => (options.success?.(answer), options.complete?.(answer)));
    };
    const grants = await app.requestSubscribe(["tmpl-shipped"]);
    assert.deepEqual(grants, { "tmpl-shipped": 0 });
  });

  for (const platform of ["baidu", "qq"]) {
    it(`on ${platform}, requestSubscribe() rejects with client.unsupported before any request`, async (t) => {
      const { app, runtime } = appOn(t, platform, server, { person: "subscriber" });
      const refused = await failure(app.requestSubscribe(["tmpl-shipped"]));
      assert.equal(refused.code, "client.unsupported");
      assert.equal(runtime.fake.requests.length, 0);
    });
  }
});

describe("phone numbers", () => {
  /** The user each auth.onChange call was told of (null on sign-out). */
  function changes(app) {
    const told = [];
    app.auth.onChange((user) => told.push(user));
    return told;
  }

  /** What my.getPhoneNumber answers, as the page hands it to bindPhone. */
  function alipayPhoneNumber(runtime) {
    return new Promise((resolve, reject) => {
      runtime.getPhoneNumber({ success: resolve, fail: reject });
    });
  }

  it("on WeChat, bindPhone() takes getPhoneNumber's code: the user has the number, masked", async (t) => {
    const { app, runtime } = appOn(t, "wechat", server, { person: "caller" });
    const told = changes(app);
    const code = await runtime.fake.phoneCode("13800138001");
    const user = await app.auth.bindPhone(code);
    assert.equal(user.phone, "138****8001");
    assert.equal(app.auth.currentUser.phone, "138****8001");
    assert.deepEqual(
      told.map((seen) => seen.phone),
      [null, "138****8001"], // signed in silently, then the number
    );
  });

  it("on Alipay, bindPhone() takes what my.getPhoneNumber answers", async (t) => {
    const { app, runtime } = appOn(t, "alipay", server, { person: "caller" });
    runtime.fake.phone = "13900139001";
    await app.auth.getUser();
    const told = changes(app);
    const user = await app.auth.bindPhone(await alipayPhoneNumber(runtime));
    assert.equal(user.phone, "139****9001");
    assert.deepEqual(
      told.map((seen) => seen.phone),
      ["139****9001"],
    );
  });

  it("a number another account holds gives users.phone_taken, whose merge_token merges them", async (t) => {
    const wechat = appOn(t, "wechat", server, { person: "dana" });
    const code = await wechat.runtime.fake.phoneCode("13700137000");
    const held = await wechat.app.auth.bindPhone(code);

    // the same person on Alipay: another account, until the number joins them
    const { app, runtime } = appOn(t, "alipay", server, { person: "dana" });
    runtime.fake.phone = "13700137000";
    const before = await app.auth.getUser();
    assert.notEqual(before.id, held.id);
    const told = changes(app);
    const taken = await failure(app.auth.bindPhone(await alipayPhoneNumber(runtime)));
    assert.equal(taken.code, "users.phone_taken");
    assert.equal(taken.status, 409);

    const merged = await app.auth.merge(taken.details.merge_token);
    assert.equal(merged.id, held.id);
    assert.equal(app.auth.currentUser.id, held.id);
    assert.deepEqual(
      app.auth.currentUser.identities.map((identity) => identity.platform).sort(),
      ["alipay", "wechat"],
    );
    assert.deepEqual(
      told.map((seen) => seen.id),
      [held.id],
    );
    assert.equal((await app.auth.getUser()).id, held.id, "the new tokens are the held account's");
  });
});
