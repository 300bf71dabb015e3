/** WeChat, QQ, Douyin and Baidu: one runtime shape (`header`, `statusCode`, storage by key),
 * with their own login, app id and payment. */
import { MinibaseError, invalidArgument, unsupported } from "../errors";
import {
  type CallbackApi,
  type HttpAnswer,
  type HttpRequest,
  type LoginCodes,
  type Platform,
  type PlatformName,
  type PlatformSocket,
  type SocketEvents,
  type SocketRequest,
  type Storage,
  type UploadRequest,
  followProgress,
  followSocket,
  lowerCased,
  parsedBody,
  promised,
} from "./types";

/** The parts of wx / qq / tt / swan the SDK uses. */
export interface WechatLikeRuntime {
  request: CallbackApi;
  uploadFile?: CallbackApi;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: unknown): void;
  removeStorageSync(key: string): void;
  login?: CallbackApi;
  getLoginCode?: CallbackApi;
  requestPayment?: CallbackApi;
  requestSubscribeMessage?: CallbackApi;
  connectSocket?: CallbackApi;
  getAccountInfoSync?: () => { miniProgram?: { appId?: string } };
  getEnvInfoSync?: () => { microapp?: { appId?: string }; appKey?: string };
}

interface Answer {
  statusCode: number;
  data: unknown;
  header?: unknown;
}

export class WechatLike implements Platform {
  readonly storage: Storage;

  constructor(
    readonly name: Exclude<PlatformName, "alipay">,
    private readonly runtime: WechatLikeRuntime,
  ) {
    this.storage = {
      get: (key) => {
        const value = runtime.getStorageSync(key);
        return value === "" ? undefined : value; // "" is how a missing key reads
      },
      set: (key, value) => runtime.setStorageSync(key, value),
      remove: (key) => runtime.removeStorageSync(key),
    };
  }

  appid(): string | undefined {
    const runtime = this.runtime;
    if (this.name === "douyin") return runtime.getEnvInfoSync?.().microapp?.appId;
    if (this.name === "baidu") return runtime.getEnvInfoSync?.().appKey;
    return runtime.getAccountInfoSync?.().miniProgram?.appId;
  }

  async login(): Promise<LoginCodes> {
    const runtime = this.runtime;
    if (this.name === "baidu") {
      const got = await promised<{ code: string }>(needed(runtime.getLoginCode, "getLoginCode"), {});
      return { code: got.code };
    }
    if (this.name === "douyin") {
      // force: false lets a person who is not logged in to Douyin use the app as a guest
      const got = await promised<{ code?: string; anonymousCode?: string }>(
        needed(runtime.login, "login"),
        { force: false },
      );
      return { code: got.code || undefined, anonymous_code: got.anonymousCode || undefined };
    }
    const got = await promised<{ code: string }>(needed(runtime.login, "login"), {});
    return { code: got.code };
  }

  request(request: HttpRequest): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      this.runtime.request({
        url: request.url,
        method: request.method,
        data: request.body,
        header: request.headers,
        timeout: request.timeout,
        dataType: "json",
        success: (answer: Answer) =>
          resolve({
            status: answer.statusCode,
            data: parsedBody(answer.data),
            headers: lowerCased(answer.header),
          }),
        fail: (error: { errMsg?: string }) => reject(networkError(error.errMsg)),
      });
    });
  }

  async uploadFile(upload: UploadRequest): Promise<HttpAnswer> {
    const api = needed(this.runtime.uploadFile, "uploadFile");
    return new Promise((resolve, reject) => {
      const task = api({
        url: upload.url,
        filePath: upload.filePath,
        name: upload.part,
        formData: upload.formData,
        header: upload.headers,
        timeout: upload.timeout,
        // the body is text on every one of these runtimes
        success: (answer: Answer) =>
          resolve({
            status: answer.statusCode,
            data: parsedBody(answer.data),
            headers: lowerCased(answer.header),
          }),
        fail: (error: { errMsg?: string }) => reject(uploadError(error.errMsg, upload.filePath)),
      });
      followProgress(task, upload.onProgress);
    });
  }

  async requestPayment(payment: Record<string, unknown>): Promise<"paid" | "unknown"> {
    // which platforms minibase takes payments on is pay.ts's to say, before any request
    if (!this.runtime.requestPayment) throw unsupported("this runtime has no requestPayment");
    try {
      await promised(this.runtime.requestPayment, { ...payment });
      return "paid";
    } catch (error) {
      const said = String((error as { errMsg?: string })?.errMsg ?? error);
      if (said.includes("cancel")) throw new MinibaseError("pay.cancelled", "the person cancelled the payment");
      throw new MinibaseError("pay.failed", `the payment failed: ${said}`);
    }
  }

  async requestSubscribe(templateIds: string[]): Promise<Record<string, unknown>> {
    const prompt = this.runtime.requestSubscribeMessage;
    if (!prompt) throw unsupported(`${this.name} has no subscribe-message prompt`);
    const answer = await promised<Record<string, unknown>>(prompt, { tmplIds: templateIds });
    const choices: Record<string, unknown> = {};
    for (const id of templateIds) if (id in answer) choices[id] = answer[id];
    return choices;
  }

  /** wx.connectSocket and its copies: a SocketTask, the upgrade request's `header`, messages
   * as `{ data }`. */
  connectSocket(request: SocketRequest, events: SocketEvents): PlatformSocket {
    const options = { url: request.url, header: request.headers };
    return followSocket(needed(this.runtime.connectSocket, "connectSocket"), options, events, (event) => {
      const data = (event as { data?: unknown } | undefined)?.data;
      return typeof data === "string" ? data : undefined;
    });
  }
}

function needed(api: CallbackApi | undefined, name: string): CallbackApi {
  if (!api) throw unsupported(`this runtime has no ${name}`);
  return api;
}

export function networkError(said: string | undefined): MinibaseError {
  const text = said || "the request failed";
  const code = /time ?out/i.test(text) ? "network.timeout" : "network.failed";
  return new MinibaseError(code, text);
}

/** Why an upload got no answer: the runtime could not read the file (the caller's mistake), or
 * the network failed. */
export function uploadError(said: string | undefined, filePath: string): MinibaseError {
  if (said && /file not (found|exist)|no such file|文件不存在/i.test(said)) {
    return invalidArgument(`uploadFile: the runtime cannot read ${filePath} (${said})`);
  }
  return networkError(said);
}
