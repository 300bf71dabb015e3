// The person's phone behind a fake runtime (`<global>.fake`): what the test controls and
// inspects, and what the platform's client does for the person (mint login codes, pay, accept
// subscribe messages) through the sandbox's control API.
import { HttpError } from "./server.mjs";
import { tempPath } from "./upload.mjs";

export class Phone {
  constructor(platform, server, { person, appid }) {
    /** "wechat", "alipay", "douyin", "baidu" or "qq" */
    this.platform = platform;
    this.server = server;
    /** who uses the phone: the sandbox makes the same name the same openid every time */
    this.person = person;
    this.appid = appid;
    /** the runtime's storage, key -> a copy of the data: read it, or plant values in it */
    this.storage = new Map();
    /** the files on the phone that uploadFile can send: temporary path -> bytes (tempFile()
     * adds one as chooseImage would) */
    this.files = new Map();
    /** every request made through the runtime's request or uploadFile, oldest first:
     * { method, url, path, headers, body, upload? }, network failures included */
    this.requests = [];
    /** what the person does when asked:
     * payment: "pay" or "cancel" (close the payment sheet);
     * subscribe: { [templateId]: answer } in the platform's words (WeChat: accept, reject,
     * ban, filter; Douyin: accept, reject, ban, fail; Alipay: accept, reject), "accept" when
     * a template is not named;
     * images: the pictures (bytes each) the person picks when wx.chooseImage asks, none: they
     * close the picker */
    this.answers = { payment: "pay", subscribe: {}, images: [] };
    /** Douyin only: whether the person is logged in to the Douyin app. Logged out, tt.login
     * with force: false gives only an anonymousCode (a guest); with force (the default) the
     * person logs in at the prompt. */
    this.loggedIn = true;
    /** the number my.getPhoneNumber hands over, and phoneCode()'s default */
    this.phone = "13800138000";
    /** every socket connectSocket opened, oldest first (socket.mjs) */
    this.sockets = [];
    /** when set, (url, headers, handlers, socket) => { send, close, drop }: plays the server
     * of every socket opened (a test's in-memory peer); otherwise sockets reach the server */
    this.socketPeer = undefined;
    this._failures = [];
    this._trades = new Map();
  }

  /**
   * Makes the next `count` requests (to `path` only, when given) fail at the network level:
   * kind "timeout" or "offline". With reachServer, the request is sent and the server acts
   * on it, but its answer is lost (a timeout after the server did the work).
   */
  failNextRequests(count, { kind = "timeout", path, reachServer = false } = {}) {
    if (!["timeout", "offline"].includes(kind)) {
      throw new Error(`kind is timeout or offline, not ${kind}`);
    }
    this._failures.push({ remaining: count, kind, path, reachServer });
  }

  /** Puts `bytes` on the phone as the runtime's chooseImage (chooseMedia ...) would: answers
   * its temporary path in the platform's form (wxfile://tmp_….jpg, https://resource/apml….image
   * on Alipay). */
  tempFile(bytes, extension = "jpg") {
    const path = tempPath(this.platform, extension);
    this.files.set(path, new Uint8Array(bytes));
    return path;
  }

  /** How many requests went to `path` (the URL's path, without its query). */
  requestCount(path) {
    return this.requests.filter((request) => request.path === path).length;
  }

  /** A WeChat getPhoneNumber code (the button's e.detail.code) for the person and a number. */
  async phoneCode(phone = this.phone, countryCode = "86") {
    const minted = await this.server.control("/phone-code", {
      appid: this.appid,
      person: this.person,
      phone,
      country_code: countryCode,
    });
    return minted.code;
  }

  // --- used by the fake runtime -------------------------------------------------------------

  /** Calls the API's success or fail, then complete, with what `work` resolves to
   * ({ ok, res }), after the call returned, as the runtimes do. */
  respond(options, work) {
    const callbacks = options ?? {};
    work().then(
      ({ ok, res }) => {
        callBack(ok ? callbacks.success : callbacks.fail, res);
        callBack(callbacks.complete, res);
      },
      (error) => setImmediate(() => {
        throw error;
      }),
    );
  }

  /** The failure planned for the next request to `path`, if any (and counts it). */
  takeFailure(path) {
    const failure = this._failures.find(
      (planned) => planned.remaining > 0 && (planned.path === undefined || planned.path === path),
    );
    if (!failure) return undefined;
    failure.remaining -= 1;
    return failure;
  }

  /** Remembers an order the app was answered with (POST /api/pay/orders and the like), so
   * that the payment sheet knows which order a prepay id or trade number pays, as the
   * platform's client does. */
  learnTrade(data) {
    const order = data && typeof data === "object" ? data.order : undefined;
    const payment = data && typeof data === "object" ? data.payment : undefined;
    if (!order || !payment || typeof order.out_trade_no !== "string") return;
    if (typeof payment.package === "string") this._trades.set(payment.package, order.out_trade_no);
    if (typeof payment.tradeNO === "string") this._trades.set(payment.tradeNO, order.out_trade_no);
  }

  async mintLoginCode(extra = {}) {
    const minted = await this._control("/login-code", {
      platform: this.platform,
      appid: this.appid,
      person: this.person,
      ...extra,
    });
    return minted.ok ? { ok: true, ...minted.body } : minted;
  }

  async douyinLogin(options) {
    if (!this.loggedIn && options.force !== false) this.loggedIn = true; // logs in at the prompt
    const minted = await this.mintLoginCode(this.loggedIn ? {} : { guest: true });
    if (!minted.ok) return { ok: false, res: { errMsg: `login:fail ${minted.message}` } };
    const res = {
      anonymousCode: minted.anonymous_code,
      isLogin: this.loggedIn,
      errMsg: "login:ok",
    };
    if (minted.code) res.code = minted.code;
    return { ok: true, res };
  }

  /** wx.chooseImage({ count }): the pictures the person picks (at most count), put on the
   * phone as temporary files: { tempFilePaths, tempFiles: [{ path, size }], errMsg }. */
  async chooseImages(options = {}) {
    const count = options.count ?? 9;
    if (!Number.isInteger(count) || count < 1 || count > 9) {
      return { ok: false, res: { errMsg: `chooseImage:fail parameter error: count ${count}` } };
    }
    const picked = this.answers.images.slice(0, count);
    if (!picked.length) return { ok: false, res: { errMsg: "chooseImage:fail cancel" } };
    const tempFiles = picked.map((bytes) => ({
      path: this.tempFile(bytes, imageExtension(bytes)),
      size: bytes.length,
    }));
    const tempFilePaths = tempFiles.map((file) => file.path);
    return { ok: true, res: { tempFilePaths, tempFiles, errMsg: "chooseImage:ok" } };
  }

  /** wx.requestPayment: the sandbox checks paySign over the parameters, as WeChat would. */
  async payWechat(options = {}) {
    const fail = (why) => ({ ok: false, res: { errMsg: `requestPayment:fail ${why}` } });
    const names = ["timeStamp", "nonceStr", "package", "paySign"];
    const missing = names.filter((name) => typeof options[name] !== "string" || !options[name]);
    if (missing.length) return fail(`parameter error: ${missing.join(", ")} must be strings`);
    const outTradeNo = this._trades.get(options.package);
    if (!outTradeNo) return fail(`(harness) no order answered with package ${options.package}`);
    if (this.answers.payment === "cancel") return fail("cancel");
    const payment = { appid: this.appid };
    for (const name of [...names, "signType"]) {
      if (options[name] !== undefined) payment[name] = options[name];
    }
    const paid = await this._control("/wechatpay/pay", {
      mchid: this.server.merchant.mchid,
      out_trade_no: outTradeNo,
      payment,
    });
    return paid.ok ? { ok: true, res: { errMsg: "requestPayment:ok" } } : fail(paid.message);
  }

  /** my.tradePay: resultCode "9000" paid, "6001" the person cancelled, "4000" refused. */
  async payAlipay(options = {}) {
    if (typeof options.tradeNO !== "string" || !options.tradeNO) {
      return { ok: false, res: { error: 2, errorMessage: "tradeNO is required" } };
    }
    const outTradeNo = this._trades.get(options.tradeNO);
    if (!outTradeNo) {
      const why = `(harness) no order answered with tradeNO ${options.tradeNO}`;
      return { ok: false, res: { error: 2, errorMessage: why } };
    }
    if (this.answers.payment === "cancel") return { ok: true, res: { resultCode: "6001" } };
    const paid = await this._control("/alipay/pay", {
      appid: this.appid,
      out_trade_no: outTradeNo,
    });
    return { ok: true, res: { resultCode: paid.ok ? "9000" : "4000" } };
  }

  /** wx. and tt.requestSubscribeMessage({ tmplIds }): { errMsg, [id]: answer }. */
  async subscribeByTemplate(options = {}, platform, allowed) {
    const ids = options.tmplIds;
    if (!Array.isArray(ids) || ids.length === 0) {
      const [errCode, why] =
        platform === "wechat" ? [10001, "TmplIds can't be empty"] : [1002, "invalid params"];
      return { ok: false, res: { errMsg: `requestSubscribeMessage:fail ${why}`, errCode } };
    }
    const answers = this._answersFor(ids, allowed);
    const granted = await this._grant(platform, ids.filter((id) => answers[id] === "accept"));
    if (!granted.ok) {
      return { ok: false, res: { errMsg: `requestSubscribeMessage:fail ${granted.message}` } };
    }
    return { ok: true, res: { errMsg: "requestSubscribeMessage:ok", ...answers } };
  }

  /** my.requestSubscribeMessage({ entityIds }): behavior, result lists and [id]: answer. */
  async subscribeAlipay(options = {}) {
    const ids = options.entityIds;
    if (!Array.isArray(ids) || ids.length === 0) {
      return { ok: false, res: { errorCode: 203, errorMessage: "无效的参数" } };
    }
    const answers = this._answersFor(ids, ["accept", "reject"]);
    const accepted = ids.filter((id) => answers[id] === "accept");
    const granted = await this._grant("alipay", accepted);
    if (!granted.ok) return { ok: false, res: { errorCode: -1, errorMessage: granted.message } };
    const result = {
      subscribeEntityIds: accepted,
      subscribedEntityIds: accepted,
      unsubscribedEntityIds: ids.filter((id) => answers[id] !== "accept"),
      currentSubscribedEntityIds: accepted,
    };
    return {
      ok: true,
      res: { behavior: "subscribe", show: true, keep: false, refuse: false, result, ...answers },
    };
  }

  /** my.getPhoneNumber: res.response is a JSON string holding response and sign. */
  async alipayPhoneNumber() {
    const sealed = await this._control("/alipay-phone", {
      appid: this.appid,
      person: this.person,
      phone: this.phone,
    });
    if (!sealed.ok) return { ok: false, res: { error: 3, errorMessage: sealed.message } };
    return { ok: true, res: { response: JSON.stringify(sealed.body) } };
  }

  _answersFor(ids, allowed) {
    const answers = {};
    for (const id of ids) {
      const answer = this.answers.subscribe[id] ?? "accept";
      if (!allowed.includes(answer)) {
        throw new Error(`${this.platform} subscribe answers: ${allowed.join(", ")}; not ${answer}`);
      }
      answers[id] = answer;
    }
    return answers;
  }

  /** The platform lets one message of each accepted template through to the person. */
  async _grant(platform, templateIds) {
    for (const templateId of templateIds) {
      const granted = await this._control("/subscribe", {
        platform,
        appid: this.appid,
        person: this.person,
        template_id: templateId,
      });
      if (!granted.ok) return granted;
    }
    return { ok: true };
  }

  async _control(path, body) {
    try {
      return { ok: true, body: await this.server.control(path, body) };
    } catch (error) {
      const refused = error instanceof HttpError && error.body?.message;
      return { ok: false, message: refused || error.message };
    }
  }
}

/** The extension the runtime gives a picture's temporary file: its format's. */
function imageExtension(bytes) {
  const head = Buffer.from(bytes.subarray(0, 8));
  if (head.equals(Buffer.from("89504e470d0a1a0a", "hex"))) return "png";
  if (head.subarray(0, 4).toString("latin1") === "GIF8") return "gif";
  return "jpg";
}

/** A callback's exception is the test's to see: thrown outside the runtime, as uncaught. */
function callBack(fn, res) {
  if (typeof fn !== "function") return;
  try {
    fn(res);
  } catch (error) {
    setImmediate(() => {
      throw error;
    });
  }
}
