/** Subscribe messages: the platform's prompt, and the person's answer recorded on the server
 * so that it may send them that many messages. */
import type { Caller } from "./caller";
import { invalidArgument } from "./errors";
import type { Platform } from "./platform/types";

/** The messages of each template the user can still receive, after recording the answer. */
export async function requestSubscribe(
  caller: Caller,
  platform: Platform,
  templateIds: string[],
): Promise<Record<string, number>> {
  if (!Array.isArray(templateIds) || templateIds.length === 0 || !templateIds.every((id) => typeof id === "string" && id)) {
    throw invalidArgument("requestSubscribe takes a list of template ids");
  }
  const choices = await platform.requestSubscribe(templateIds);
  return caller.call<Record<string, number>>("POST", "/api/messages/grants", { body: choices });
}
