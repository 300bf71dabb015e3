/** Which mini program runtime this is, from its global object. */
import { MinibaseError } from "../errors";
import { Alipay, type AlipayRuntime } from "./alipay";
import type { Platform, PlatformName } from "./types";
import { WechatLike, type WechatLikeRuntime } from "./wechatlike";

/** Each platform's global; QQ and Douyin are tried before wx, which some of them also expose. */
const GLOBALS: ReadonlyArray<[PlatformName, string]> = [
  ["qq", "qq"],
  ["douyin", "tt"],
  ["baidu", "swan"],
  ["alipay", "my"],
  ["wechat", "wx"],
];

declare const qq: unknown;
declare const tt: unknown;
declare const swan: unknown;
declare const my: unknown;

/** The runtime globals, read as free variables: a mini program's modules see them so, whether
 * or not they hang on globalThis. */
export function runtimeGlobals(): Record<string, unknown> {
  return {
    qq: typeof qq === "undefined" ? undefined : qq,
    tt: typeof tt === "undefined" ? undefined : tt,
    swan: typeof swan === "undefined" ? undefined : swan,
    my: typeof my === "undefined" ? undefined : my,
    wx: typeof wx === "undefined" ? undefined : wx,
  };
}

export function detectPlatform(scope: Record<string, unknown>, wanted?: PlatformName): Platform {
  for (const [name, global] of GLOBALS) {
    if (wanted && name !== wanted) continue;
    const runtime = scope[global];
    if (runtime && typeof runtime === "object") {
      return name === "alipay"
        ? new Alipay(runtime as AlipayRuntime)
        : new WechatLike(name, runtime as WechatLikeRuntime);
    }
  }
  const which = wanted ? `${wanted}'s global` : "wx, my, tt, swan or qq";
  throw new MinibaseError("client.unsupported", `no mini program runtime found (${which})`);
}
