// The data API straight from its TypeScript (src/database), bundled in memory by esbuild, with
// the SDK's MinibaseError from the same bundle (the data API tells the server's answers apart
// by it). Importing this file does nothing by itself.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** `{ database, MinibaseError }` */
export async function loadDatabase() {
  const result = await build({
    stdin: {
      contents:
        'export { database } from "./src/database/index.ts";\n' +
        'export { MinibaseError } from "./src/errors.ts";\n',
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2015",
  });
  const code = Buffer.from(result.outputFiles[0].text).toString("base64");
  return import(`data:text/javascript;base64,${code}`);
}

/** A Caller that records every call and answers with `answer(call)` (a value, or a throw). */
export function recordingCaller(answer = defaultAnswer) {
  const calls = [];
  return {
    calls,
    async call(method, path, options = {}) {
      const call = { method, path, ...options };
      calls.push(call);
      return answer(call);
    },
  };
}

function defaultAnswer(call) {
  const listing = call.method === "GET" && call.path.endsWith("/records");
  return listing ? { items: [], next_cursor: null } : {};
}
