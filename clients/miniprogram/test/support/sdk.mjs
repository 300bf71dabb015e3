// The built SDK as a mini program requires it (dist/minibase.js, one CommonJS file), and an
// app of it on a fake runtime:
//
//   const { app, runtime } = appOn(t, "alipay", server, { person: "ann" });
//   await app.database().collection("notes").get();   // my.getAuthCode, then my.request
//   runtime.fake.requestCount("/api/auth/alipay/login")
//
// The fake is the only mini program global while the test `t` runs, as in a real runtime.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fakePlatform, useGlobal } from "./fakes.mjs";

/** dist/minibase.js: `npm test` builds it first. */
export const minibase = createRequire(import.meta.url)("../../dist/minibase.js");

/** A functions file whose @price hook sells every product for 18 yuan (startServer's
 * `functions: { "shop.py": SHOP }`), so that app.pay needs no amount. */
export const SHOP = `
from minibase.functions import price


@price()
async def catalogue(ctx, product, input):
    return {"amount": 1800, "description": f"minibase coffee: {product}"}
`;

/** The login API each platform's SDK must use, and the other login APIs its runtime has. */
export const LOGIN_API = Object.freeze({
  wechat: "login",
  qq: "login",
  douyin: "login",
  baidu: "getLoginCode",
  alipay: "getAuthCode",
});

/**
 * `minibase.init({ url: server.url, ...init })` on a fake `platform` runtime used by `person`,
 * the fake installed as the only global until the next appOn or the end of test `t`. Answers
 * the app, the runtime, and `logins`: how many times each of the runtime's login APIs was
 * called.
 */
export function appOn(t, platform, server, { person = "ann", ...init } = {}) {
  const runtime = fakePlatform(platform, server, { person });
  const logins = countLogins(runtime);
  const restore = useGlobal(runtime);
  // the test's first runtime puts back the globals as they were before the test
  if (!restoring.has(t)) {
    restoring.add(t);
    t.after(restore);
  }
  const app = minibase.init({ url: server.url, ...init });
  return { app, runtime, logins };
}

const restoring = new WeakSet();

/** Counts the calls of every login API the runtime has (login, getLoginCode, getAuthCode). */
function countLogins(runtime) {
  const logins = {};
  for (const name of ["login", "getLoginCode", "getAuthCode"]) {
    const api = runtime[name];
    if (typeof api !== "function") continue;
    logins[name] = 0;
    runtime[name] = (options) => {
      logins[name] += 1;
      return api(options);
    };
  }
  return logins;
}

/** The MinibaseError `promise` rejects with (fails the test if it resolves or rejects with
 * anything else). */
export async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof minibase.MinibaseError, `not a MinibaseError: ${error?.stack}`);
    return error;
  }
  assert.fail("resolved; a MinibaseError was expected");
}
