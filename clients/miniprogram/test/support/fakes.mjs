// The global object a mini program runtime gives (wx, my, tt, swan, qq), with each platform's
// own shapes, talking to a real server: `request` and `uploadFile` do real HTTP (uploadFile
// sends files the phone holds), logins hand out real codes from the sandbox's control API,
// payments and subscribe prompts go through the sandbox as the person's phone would, storage
// lives in memory.
//
//   const wx = fakePlatform("wechat", server, { person: "ann" });
//   const restore = useGlobal(wx);      // globalThis.wx = wx, and no my, tt, swan or qq
//   wx.fake.storage                     // Map: what the SDK stored (plant values in it too)
//   wx.fake.tempFile(bytes, "jpg")      // a file on the phone: its wxfile://tmp_….jpg path
//   wx.fake.failNextRequests(2, { kind: "timeout" })
//   wx.fake.requestCount("/api/auth/refresh")
//   wx.fake.answers.payment = "cancel"  // the person closes the payment sheet
//   wx.fake.answers.images = [PNG]      // the picture the person picks in wx.chooseImage
//   wx.fake.sockets                     // every connectSocket: its url, headers, frames (socket.mjs)
//
// Every asynchronous API calls back as the real one does: success or fail, then complete,
// after the call has returned. None the SDK calls returns a Promise: not every platform and
// version does, so the SDK must not rely on it. wx.chooseImage, which only the app calls (as
// the docs do), also answers a Promise when given no callback, as WeChat's base library does
// since 2.10.2. The shapes come from each platform's documentation.
import { Phone } from "./phone.mjs";
import { requestApi } from "./request.mjs";
import { socketApi } from "./socket.mjs";
import { uploadApi } from "./upload.mjs";

/** The global variable each platform's runtime defines. */
export const GLOBALS = Object.freeze({
  wechat: "wx",
  alipay: "my",
  douyin: "tt",
  baidu: "swan",
  qq: "qq",
});

/**
 * A fake runtime global for `platform` ("wechat", "alipay", "douyin", "baidu" or "qq"), used
 * by `person` (the sandbox makes the same name the same openid every time) in the server's app
 * of that platform, or `appid`. Its test controls are `<global>.fake`, a Phone (phone.mjs).
 */
export function fakePlatform(platform, server, { person = "ann", appid } = {}) {
  const build = RUNTIMES[platform];
  if (!build) throw new Error(`no fake ${platform}: one of ${Object.keys(RUNTIMES).join(", ")}`);
  const phone = new Phone(platform, server, { person, appid: appid ?? server.apps[platform] });
  const runtime = build(phone);
  Object.defineProperty(runtime, "fake", { value: phone, enumerable: false });
  return runtime;
}

/** Makes `runtime` the only mini program global, as in a real runtime; returns the undo. */
export function useGlobal(runtime) {
  const names = Object.values(GLOBALS);
  const saved = names.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)]);
  for (const name of names) delete globalThis[name];
  globalThis[GLOBALS[runtime.fake.platform]] = runtime;
  return () => {
    for (const [name, descriptor] of saved) {
      delete globalThis[name];
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    }
  };
}

// The answers a person can give in each subscribe prompt (phone.answers.subscribe).
const WECHAT_SUBSCRIBE = ["accept", "reject", "ban", "filter"];
const DOUYIN_SUBSCRIBE = ["accept", "reject", "ban", "fail"];

const RUNTIMES = {
  wechat: (phone) => ({
    ...wechatLike(phone),
    requestPayment: (options) => phone.respond(options, () => phone.payWechat(options)),
    requestSubscribeMessage: (options) =>
      phone.respond(options, () => phone.subscribeByTemplate(options, "wechat", WECHAT_SUBSCRIBE)),
    chooseImage: (options) => promising(phone, options, () => phone.chooseImages(options)),
  }),

  // QQ's runtime copies WeChat's. Not here: qq.requestPayment (minibase takes no QQ payments)
  // and qq.subscribeAppMsg (its subscribe prompt; minibase sends no QQ subscribe messages).
  qq: (phone) => wechatLike(phone),

  alipay: (phone) => ({
    request: requestApi(phone),
    uploadFile: uploadApi(phone),
    connectSocket: socketApi(phone),
    getAuthCode: (options) => phone.respond(options, () => alipayAuthCode(phone, options ?? {})),
    getAppIdSync: () => ({ appId: phone.appid }),
    ...alipayStorage(phone),
    tradePay: (options) => phone.respond(options, () => phone.payAlipay(options)),
    requestSubscribeMessage: (options) =>
      phone.respond(options, () => phone.subscribeAlipay(options)),
    getPhoneNumber: (options) => phone.respond(options, () => phone.alipayPhoneNumber()),
  }),

  douyin: (phone) => ({
    request: requestApi(phone),
    uploadFile: uploadApi(phone),
    connectSocket: socketApi(phone),
    login: (options) => phone.respond(options, () => phone.douyinLogin(options ?? {})),
    getEnvInfoSync: () => ({
      microapp: { mpVersion: "1.0.0", envType: "development", appId: phone.appid },
      common: { USER_DATA_PATH: "ttfile://user" },
    }),
    ...keyedStorage(phone),
    requestSubscribeMessage: (options) =>
      phone.respond(options, () => phone.subscribeByTemplate(options, "douyin", DOUYIN_SUBSCRIBE)),
  }),

  baidu: (phone) => ({
    request: requestApi(phone),
    uploadFile: uploadApi(phone),
    connectSocket: socketApi(phone),
    getLoginCode: (options) => phone.respond(options, () => codeLogin(phone, "getLoginCode")),
    login: (options) => phone.respond(options, () => codeLogin(phone, "login")),
    getEnvInfoSync: () => ({
      appKey: phone.appid,
      appName: "minibase tests",
      lastAppURL: "",
      sdkVersion: "3.0.0",
      scheme: "baiduboxapp",
      env: "development",
    }),
    ...keyedStorage(phone),
  }),
};

/** What WeChat and QQ share: request, uploadFile, login, the app id, storage. */
function wechatLike(phone) {
  return {
    request: requestApi(phone),
    uploadFile: uploadApi(phone),
    connectSocket: socketApi(phone),
    login: (options) => phone.respond(options, () => codeLogin(phone, "login")),
    getAccountInfoSync: () => ({
      miniProgram: { appId: phone.appid, envVersion: "develop", version: "" },
      plugin: {},
    }),
    ...keyedStorage(phone),
  };
}

/** An API that calls back when given success, fail or complete, and otherwise answers a
 * Promise of what success would get (rejected with what fail would), as WeChat's do. */
function promising(phone, options, work) {
  const given = options ?? {};
  if (["success", "fail", "complete"].some((name) => name in given)) {
    return phone.respond(given, work);
  }
  return new Promise((success, fail) => phone.respond({ success, fail }, work));
}

/** wx.login, qq.login: { code, errMsg }; swan.getLoginCode, swan.login: { code }. */
async function codeLogin(phone, api) {
  const minted = await phone.mintLoginCode();
  if (!minted.ok) return { ok: false, res: { errMsg: `${api}:fail ${minted.message}` } };
  const { code } = minted;
  return { ok: true, res: phone.platform === "baidu" ? { code } : { code, errMsg: `${api}:ok` } };
}

/** my.getAuthCode({ scopes }): { authCode, authSuccessScopes, authErrorScopes }. */
async function alipayAuthCode(phone, options) {
  const minted = await phone.mintLoginCode();
  if (!minted.ok) return { ok: false, res: { error: 12, errorMessage: minted.message } };
  const scopes = [].concat(options.scopes ?? "auth_base");
  return {
    ok: true,
    res: { authCode: minted.code, authSuccessScopes: scopes, authErrorScopes: {} },
  };
}

/** wx / tt / swan / qq storage: setStorageSync(key, data), getStorageSync(key) ("" when
 * missing), and the callback versions taking { key, data }. Values are stored as copies. */
function keyedStorage(phone) {
  const { storage } = phone;
  const read = (key) => structuredClone(storage.get(String(key)));
  return {
    setStorageSync: (key, data) => void storage.set(String(key), structuredClone(data)),
    getStorageSync: (key) => (storage.has(String(key)) ? read(key) : ""),
    removeStorageSync: (key) => void storage.delete(String(key)),
    clearStorageSync: () => storage.clear(),
    getStorageInfoSync: () => ({ keys: [...storage.keys()], currentSize: 0, limitSize: 10240 }),
    setStorage: (options) =>
      phone.respond(options, async () => {
        storage.set(String(options.key), structuredClone(options.data));
        return { ok: true, res: { errMsg: "setStorage:ok" } };
      }),
    getStorage: (options) =>
      phone.respond(options, async () =>
        storage.has(String(options.key))
          ? { ok: true, res: { data: read(options.key), errMsg: "getStorage:ok" } }
          : { ok: false, res: { errMsg: "getStorage:fail data not found" } },
      ),
    removeStorage: (options) =>
      phone.respond(options, async () => {
        storage.delete(String(options.key));
        return { ok: true, res: { errMsg: "removeStorage:ok" } };
      }),
  };
}

/** Alipay storage: setStorageSync({ key, data }), getStorageSync({ key }) answering { data }
 * (null when missing), and the callback versions. Values are stored as copies. */
function alipayStorage(phone) {
  const { storage } = phone;
  const read = (key) => {
    const found = storage.get(String(key));
    return found === undefined ? null : structuredClone(found);
  };
  return {
    setStorageSync: ({ key, data }) => void storage.set(String(key), structuredClone(data)),
    getStorageSync: ({ key }) => ({ data: read(key) }),
    removeStorageSync: ({ key }) => void storage.delete(String(key)),
    clearStorageSync: () => storage.clear(),
    getStorageInfoSync: () => ({ keys: [...storage.keys()], currentSize: 0, limitSize: 10240 }),
    setStorage: (options) =>
      phone.respond(options, async () => {
        storage.set(String(options.key), structuredClone(options.data));
        return { ok: true, res: { success: true } };
      }),
    getStorage: (options) =>
      phone.respond(options, async () => ({ ok: true, res: { data: read(options.key) } })),
    removeStorage: (options) =>
      phone.respond(options, async () => {
        storage.delete(String(options.key));
        return { ok: true, res: { success: true } };
      }),
  };
}
