/** Cloud functions, called the way wx.cloud.callFunction is. */
import type { Caller } from "./caller";
import { invalidArgument } from "./errors";

export interface CallFunctionOptions {
  name: string;
  /** the function's input: a JSON object */
  data?: Record<string, unknown>;
}

export async function callFunction<T = unknown>(
  caller: Caller,
  options: CallFunctionOptions,
): Promise<{ result: T }> {
  if (!options || typeof options.name !== "string" || !options.name) {
    throw invalidArgument("callFunction needs { name }");
  }
  return caller.call<{ result: T }>("POST", `/api/functions/${encodeURIComponent(options.name)}`, {
    body: options.data ?? {},
  });
}
