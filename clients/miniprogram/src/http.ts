/** Requests to the server through the platform's `request`: URLs, JSON, the server's errors as
 * MinibaseError, and retries where they are safe. */
import type { CallOptions, Method, QueryValue, Upload } from "./caller";
import { MinibaseError } from "./errors";
import type { HttpAnswer, Platform } from "./platform/types";

/** Statuses that say "try again later" without the request having been acted on. */
const RETRIABLE = new Set([502, 503, 504]);
const BACKOFF_MS = [300, 1000];
/** The multipart part the server takes an upload's file from (its files_part_name). */
const FILE_PART = "file";
/** An upload may take this long at least, whatever a request may (the runtimes' default). */
const UPLOAD_TIMEOUT_MS = 60_000;

export interface HttpOptions {
  url: string;
  platform: Platform;
  /** milliseconds per attempt */
  timeout: number;
  /** waits between retries (tests shorten them) */
  backoff?: number[];
}

export interface Sent extends Omit<CallOptions, "auth"> {
  token?: string;
}

export class Http {
  private readonly base: string;
  private readonly backoff: number[];

  constructor(private readonly options: HttpOptions) {
    this.base = options.url.replace(/\/+$/, "");
    this.backoff = options.backoff ?? BACKOFF_MS;
  }

  /** The server's answer, whatever its status; rejects only when no answer came (after the
   * retries a read allows). */
  async send(method: Method, path: string, sent: Sent = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: "application/json", ...sent.headers };
    let sentMethod: string = method;
    if (method === "PATCH") {
      // no mini program's request API sends PATCH: the server takes a POST standing for it
      headers["x-http-method-override"] = "PATCH";
      sentMethod = "POST";
    }
    if (sent.token) headers.authorization = `Bearer ${sent.token}`;
    let body: string | undefined;
    if (sent.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(sent.body);
    }
    const request = {
      url: this.base + path + queryString(sent.query),
      method: sentMethod,
      body,
      headers,
      timeout: this.options.timeout,
    };
    const retry = sent.retry ?? method === "GET";
    for (let attempt = 0; ; attempt++) {
      const last = !retry || attempt >= this.backoff.length;
      try {
        const answer = await this.options.platform.request(request);
        if (last || !RETRIABLE.has(answer.status)) return answer;
      } catch (error) {
        if (last || !(error instanceof MinibaseError) || !error.isNetwork) throw error;
      }
      await sleep(this.backoff[attempt]);
    }
  }

  /** POST a local file as multipart/form-data through the runtime's uploadFile: the server's
   * answer, whatever its status. Not retried: a repeat could store the file twice. */
  upload(path: string, upload: Upload, token?: string): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    return this.options.platform.uploadFile({
      url: this.base + path,
      filePath: upload.filePath,
      part: FILE_PART,
      formData: upload.formData ?? {},
      headers,
      timeout: Math.max(this.options.timeout, UPLOAD_TIMEOUT_MS),
      onProgress: upload.onProgress,
    });
  }
}

/** The answer's body, or its error as a MinibaseError. */
export function unwrap<T>(answer: HttpAnswer): T {
  if (answer.status >= 200 && answer.status < 300) return answer.data as T;
  throw errorOf(answer);
}

export function errorOf(answer: HttpAnswer): MinibaseError {
  const body = (answer.data && typeof answer.data === "object" ? answer.data : {}) as {
    code?: unknown;
    message?: unknown;
    details?: unknown;
    request_id?: unknown;
  };
  const requestId =
    typeof body.request_id === "string" ? body.request_id : answer.headers["x-request-id"];
  const code = typeof body.code === "string" ? body.code : `http.${answer.status}`;
  const message =
    typeof body.message === "string" ? body.message : `the server answered ${answer.status}`;
  const details =
    body.details && typeof body.details === "object"
      ? (body.details as Record<string, unknown>)
      : undefined;
  return new MinibaseError(code, message, { status: answer.status, requestId, details });
}

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return "";
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
