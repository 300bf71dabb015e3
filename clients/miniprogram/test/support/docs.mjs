// The examples of docs/*.md, to run as a reader would:
//
//   const js = docBlock("files.md", "js", "## From the mini program");
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

/** The repository's root. */
export const REPO = new URL("../../../../", import.meta.url);

/** The first ```language block of docs/`doc` after the text `after` (as tests/e2e do). */
export function docBlock(doc, language, after) {
  const text = readFileSync(new URL(`docs/${doc}`, REPO), "utf8");
  const at = text.indexOf(after);
  assert.ok(at >= 0, `docs/${doc} lost the text "${after}"`);
  const rest = text.slice(at + after.length);
  const match = new RegExp("```" + language + "\\n([\\s\\S]*?)```").exec(rest);
  assert.ok(match, `docs/${doc} lost its ${language} example after "${after}"`);
  return match[1];
}
