/** Subscribe messages: the platform's prompt, and the person's answer recorded on the server
 * so that it may send them that many messages. */
import type { Caller } from "./caller";
import { invalidArgument } from "./errors";
import type { Platform } from "./platform/types";

/** The answers the server records; the platforms' others (Douyin's "fail") grant nothing. */
const RECORDED = new Set(["accept", "reject", "ban", "filter"]);

/** The messages of each template the user can still receive, after recording the answer: a
 * count for every template asked (0 when none) and for those granted before. */
export async function requestSubscribe(
  caller: Caller,
  platform: Platform,
  templateIds: string[],
): Promise<Record<string, number>> {
  if (!Array.isArray(templateIds) || templateIds.length === 0 || !templateIds.every((id) => typeof id === "string" && id)) {
    throw invalidArgument("requestSubscribe takes a list of template ids");
  }
  const choices = await platform.requestSubscribe(templateIds);
  const answers: Record<string, string> = {};
  for (const id of templateIds) {
    const choice = choices[id];
    // a template the prompt did not answer for (or answered "fail") was not granted
    answers[id] = typeof choice === "string" && RECORDED.has(choice) ? choice : "reject";
  }
  const counts = await caller.call<Record<string, number>>("POST", "/api/messages/grants", {
    body: answers,
  });
  const none: Record<string, number> = {};
  for (const id of templateIds) none[id] = 0;
  return { ...none, ...counts };
}
