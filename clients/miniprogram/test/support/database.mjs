// The data API straight from its TypeScript (src/database), bundled in memory by esbuild, with
// the SDK's MinibaseError from the same bundle (the data API tells the server's answers apart
// by it), and a Caller over fetch for tests against a real server. Importing this file does
// nothing by itself.
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

/** The Caller contract over fetch, as the user whose access token this is: the server's errors
 * as `MinibaseError` (the one loadDatabase answers), as the SDK's own caller makes them. */
export function userCaller(url, token, MinibaseError) {
  return {
    async call(method, path, options = {}) {
      try {
        return await send(url, method, path, { ...options, token });
      } catch (error) {
        if (!error.data) throw error;
        const { code, message, details, request_id: requestId } = error.data;
        throw new MinibaseError(code, message, { status: error.status, requestId, details });
      }
    },
  };
}

async function send(url, method, path, { query, body, headers, token } = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(key, String(value));
  }
  const response = await fetch(url + path + (params.size ? `?${params}` : ""), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    throw Object.assign(new Error(data?.message), { status: response.status, data });
  }
  return data;
}
