/** Alipay: `headers` and `status`, storage by `{ key, data }`, getAuthCode, my.tradePay. */
import { MinibaseError, unsupported } from "../errors";
import {
  type CallbackApi,
  type HttpAnswer,
  type HttpRequest,
  type LoginCodes,
  type Platform,
  type Storage,
  lowerCased,
  parsedBody,
  promised,
} from "./types";
import { networkError } from "./wechatlike";

export interface AlipayRuntime {
  request: CallbackApi;
  getStorageSync(options: { key: string }): { data?: unknown } | undefined;
  setStorageSync(options: { key: string; data: unknown }): void;
  removeStorageSync(options: { key: string }): void;
  getAuthCode: CallbackApi;
  tradePay?: CallbackApi;
  requestSubscribeMessage?: CallbackApi;
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
}

interface AlipaySubscribeAnswer {
  behavior?: string;
  result?: { subscribeEntityIds?: string[]; unsubscribeEntityIds?: string[] };
}
