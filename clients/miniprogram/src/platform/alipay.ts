/** Alipay: `headers` and `status`, storage by `{ key, data }`, getAuthCode, my.tradePay. */
import { MinibaseError, unsupported } from "../errors";
import {
  type CallbackApi,
  type HttpAnswer,
  type HttpRequest,
  type LoginCodes,
  type Platform,
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
import { networkError, uploadError } from "./wechatlike";

export interface AlipayRuntime {
  request: CallbackApi;
  uploadFile?: CallbackApi;
  getStorageSync(options: { key: string }): { data?: unknown } | undefined;
  setStorageSync(options: { key: string; data: unknown }): void;
  removeStorageSync(options: { key: string }): void;
  getAuthCode: CallbackApi;
  tradePay?: CallbackApi;
  requestSubscribeMessage?: CallbackApi;
  connectSocket?: CallbackApi;
  getAppIdSync?: () => { appId?: string };
}

interface Answer {
  status: number;
  data: unknown;
  headers?: unknown;
}

/** my.request's errors: 19 is an HTTP status it calls an error (the answer is still there),
 * 13 a timeout, 12 a network failure, 14 a body it could not decode. */
interface Failure {
  error?: number;
  errorMessage?: string;
  status?: number;
  data?: unknown;
  headers?: unknown;
}

export class Alipay implements Platform {
  readonly name = "alipay" as const;
  readonly storage: Storage;

  constructor(private readonly runtime: AlipayRuntime) {
    this.storage = {
      get: (key) => {
        const found = runtime.getStorageSync({ key });
        return found?.data ?? undefined;
      },
      set: (key, value) => runtime.setStorageSync({ key, data: value }),
      remove: (key) => runtime.removeStorageSync({ key }),
    };
  }

  appid(): string | undefined {
    return this.runtime.getAppIdSync?.().appId;
  }

  async login(): Promise<LoginCodes> {
    const got = await promised<{ authCode: string }>(this.runtime.getAuthCode, {
      scopes: "auth_base",
    });
    return { code: got.authCode };
  }

  request(request: HttpRequest): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      this.runtime.request({
        url: request.url,
        method: request.method,
        data: request.body,
        headers: request.headers,
        timeout: request.timeout,
        dataType: "json",
        success: (answer: Answer) =>
          resolve({
            status: answer.status,
            data: parsedBody(answer.data),
            headers: lowerCased(answer.headers),
          }),
        fail: (failure: Failure) => {
          if (typeof failure?.status === "number" && failure.status > 0) {
            resolve({
              status: failure.status,
              data: parsedBody(failure.data),
              headers: lowerCased(failure.headers),
            });
            return;
          }
          const said = failure?.errorMessage || `my.request failed (${failure?.error ?? "?"})`;
          reject(failure?.error === 13 ? new MinibaseError("network.timeout", said) : networkError(said));
        },
      });
    });
  }

  /** my.uploadFile: older versions take the part's name as `fileName`, newer ones document
   * `name`, so both are sent; `fileType` must be image, video or audio. It answers the body as
   * text, `statusCode` (read as a number, should it come as text) and `header`. */
  async uploadFile(upload: UploadRequest): Promise<HttpAnswer> {
    const api = this.runtime.uploadFile;
    if (!api) throw unsupported("this runtime has no uploadFile");
    return new Promise((resolve, reject) => {
      const answered = (answer: UploadAnswer) =>
        resolve({
          status: Number(answer.statusCode),
          data: parsedBody(answer.data),
          headers: lowerCased(answer.header),
        });
      const task = api({
        url: upload.url,
        filePath: upload.filePath,
        fileName: upload.part,
        name: upload.part,
        fileType: alipayFileType(upload.filePath),
        formData: upload.formData,
        header: upload.headers,
        timeout: upload.timeout,
        success: answered,
        fail: (failure: Failure & UploadAnswer) => {
          // should a version fail on an HTTP status, as my.request does, the answer is there
          if (Number(failure?.statusCode) > 0) return answered(failure);
          const said = failure?.errorMessage || `my.uploadFile failed (${failure?.error ?? "?"})`;
          // its error 11: the file does not exist
          const missing = failure?.error === 11 ? `file not found: ${said}` : said;
          reject(uploadError(missing, upload.filePath));
        },
      });
      followProgress(task, upload.onProgress);
    });
  }

  async requestPayment(payment: Record<string, unknown>): Promise<"paid" | "unknown"> {
    if (!this.runtime.tradePay) throw unsupported("this runtime has no tradePay");
    const tradeNO = payment.tradeNO;
    if (typeof tradeNO !== "string") throw new MinibaseError("pay.failed", "the order has no tradeNO");
    const result = await promised<{ resultCode?: string; memo?: string }>(this.runtime.tradePay, {
      tradeNO,
    }).catch((failure: Failure) => ({ resultCode: String(failure?.error ?? "4000"), memo: failure?.errorMessage }));
    switch (result.resultCode) {
      case "9000":
        return "paid";
      case "8000":
      case "6004":
        return "unknown"; // still processing: the order's state says
      case "6001":
        throw new MinibaseError("pay.cancelled", "the person cancelled the payment");
      default:
        throw new MinibaseError("pay.failed", `the payment failed (${result.resultCode}${result.memo ? `: ${result.memo}` : ""})`);
    }
  }

  async requestSubscribe(templateIds: string[]): Promise<Record<string, unknown>> {
    const prompt = this.runtime.requestSubscribeMessage;
    if (!prompt) throw unsupported("this runtime has no requestSubscribeMessage");
    const answer = await promised<AlipaySubscribeAnswer>(prompt, { entityIds: templateIds });
    const accepted = new Set(answer.result?.subscribeEntityIds ?? []);
    const choices: Record<string, unknown> = {};
    for (const id of templateIds) {
      const said = (answer as Record<string, unknown>)[id];
      choices[id] = typeof said === "string" ? said : accepted.has(id) ? "accept" : "reject";
    }
    return choices;
  }

  /** my.connectSocket answers a SocketTask only with `multiple: true` (else it is the one
   * global socket of my.onSocketMessage and the like). Its message event is `{ data,
   * isBuffer }`; a text frame has isBuffer false (some versions nest it once more in data). */
  connectSocket(request: SocketRequest, events: SocketEvents): PlatformSocket {
    const api = this.runtime.connectSocket;
    if (!api) throw unsupported("this runtime has no connectSocket");
    const options = { url: request.url, header: request.headers, multiple: true };
    return followSocket(api, options, events, (event) => {
      let said = event as { data?: unknown; isBuffer?: unknown } | undefined;
      if (said?.data && typeof said.data === "object" && !(said.data instanceof ArrayBuffer)) {
        said = said.data as typeof said;
      }
      return typeof said?.data === "string" && said.isBuffer !== true ? said.data : undefined;
    });
  }
}

interface UploadAnswer {
  statusCode?: number | string;
  data?: unknown;
  header?: unknown;
}

/** my.uploadFile's fileType, from the path's extension (Alipay's own temporary paths end in
 * .image, .video or .audio); image when it says nothing. */
function alipayFileType(filePath: string): "image" | "video" | "audio" {
  const extension = (/\.([A-Za-z0-9]+)$/.exec(filePath)?.[1] ?? "").toLowerCase();
  if (/^(video|mp4|mov|m4v|3gp|avi|mkv|webm|flv)$/.test(extension)) return "video";
  if (/^(audio|mp3|aac|m4a|wav|amr|ogg|flac|silk)$/.test(extension)) return "audio";
  return "image";
}

interface AlipaySubscribeAnswer {
  behavior?: string;
  result?: { subscribeEntityIds?: string[]; unsubscribeEntityIds?: string[] };
}
