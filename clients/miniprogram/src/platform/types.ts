/** What the SDK needs from a mini program runtime, one adapter per platform. */
export type PlatformName = "wechat" | "alipay" | "douyin" | "baidu" | "qq";

export interface HttpRequest {
  url: string;
  method: string;
  /** a JSON text, sent with content-type application/json */
  body?: string;
  headers: Record<string, string>;
  /** milliseconds */
  timeout: number;
}

export interface HttpAnswer {
  status: number;
  /** the parsed JSON body; undefined when empty */
  data: unknown;
  /** lower-cased names */
  headers: Record<string, string>;
}

/** A local file (a temporary path the runtime gave, as chooseImage does) sent as
 * multipart/form-data by the runtime's uploadFile. */
export interface UploadRequest {
  url: string;
  /** the runtime's path of the file: wxfile://tmp_..., https://resource/apml... */
  filePath: string;
  /** the multipart part the file goes under */
  part: string;
  /** text fields sent with it */
  formData: Record<string, string>;
  headers: Record<string, string>;
  /** milliseconds */
  timeout: number;
  onProgress?: (progress: UploadProgress) => void;
}

/** How far an upload is, as WeChat's UploadTask.onProgressUpdate tells it. */
export interface UploadProgress {
  /** percent, 0..100 */
  progress: number;
  totalBytesSent: number;
  totalBytesExpectedToSend: number;
}

/** What the platform's login gives, as POST /api/auth/{platform}/login takes it. */
export interface LoginCodes {
  code?: string;
  /** Douyin: tt.login's anonymousCode (alone for a guest) */
  anonymous_code?: string;
}

export interface Storage {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  remove(key: string): void;
}

export interface Platform {
  readonly name: PlatformName;
  /** the app's id, when the runtime tells it (wx.getAccountInfoSync and the like) */
  appid(): string | undefined;
  login(): Promise<LoginCodes>;
  /** resolves with any HTTP status; rejects with MinibaseError network.* when no answer came */
  request(request: HttpRequest): Promise<HttpAnswer>;
  /** the runtime's uploadFile: resolves with any HTTP status (the body parsed as `request`'s
   * is); rejects with MinibaseError network.* when no answer came, client.invalid_argument
   * when the runtime cannot read the file */
  uploadFile(request: UploadRequest): Promise<HttpAnswer>;
  readonly storage: Storage;
  /** the platform's payment sheet with what the server's order answered in `payment`;
   * rejects with pay.cancelled or pay.failed, resolves "paid" or "unknown" (still processing) */
  requestPayment(payment: Record<string, unknown>): Promise<"paid" | "unknown">;
  /** the platform's subscribe-message prompt; what it answered, as the platform gives it */
  requestSubscribe(templateIds: string[]): Promise<Record<string, unknown>>;
  /** a WebSocket through the runtime's connectSocket (its SocketTask); every event reaches
   * `events`, and a connection that could not open ends in `closed` like one that dropped */
  connectSocket(request: SocketRequest, events: SocketEvents): PlatformSocket;
}

/** A WebSocket to open: a ws:// or wss:// URL, and headers for the upgrade request. */
export interface SocketRequest {
  url: string;
  headers: Record<string, string>;
}

export interface SocketEvents {
  opened(): void;
  /** a text frame */
  message(text: string): void;
  /** the socket is gone: the close code when the runtime tells it (0 when it does not) */
  closed(code: number, reason: string): void;
}

export interface PlatformSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** The runtime's SocketTask, as WeChat, QQ, Douyin, Baidu and Alipay (multiple: true) give it. */
export interface SocketTask {
  send(options: Record<string, unknown>): void;
  close(options: Record<string, unknown>): void;
  onOpen(listener: (event: unknown) => void): void;
  onMessage(listener: (event: unknown) => void): void;
  onClose(listener: (event: unknown) => void): void;
  onError(listener: (event: unknown) => void): void;
}

/**
 * Drives a SocketTask: one `closed` however the socket ends (the runtime's close or error
 * event, or connectSocket's fail), none after `close()` was called here, and text frames only
 * (`textOf` reads the runtime's message event).
 */
export function followSocket(
  connect: (options: Record<string, unknown>) => unknown,
  options: Record<string, unknown>,
  events: SocketEvents,
  textOf: (event: unknown) => string | undefined,
): PlatformSocket {
  let ended = false;
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    events.closed(code, reason);
  };
  const said = (event: unknown) => {
    const fields = (event ?? {}) as Record<string, unknown>;
    return String(fields.errMsg ?? fields.errorMessage ?? fields.reason ?? "");
  };
  const task = connect({ ...options, fail: (error: unknown) => end(0, said(error)) }) as
    | SocketTask
    | undefined;
  if (!task || typeof task.onOpen !== "function") {
    end(0, "connectSocket answered no SocketTask");
    return { send: () => undefined, close: () => undefined };
  }
  task.onOpen(() => {
    if (!ended) events.opened();
  });
  task.onMessage((event) => {
    const text = textOf(event);
    if (!ended && text !== undefined) events.message(text);
  });
  // Douyin tells the code as text; Alipay's close event tells none
  task.onClose((event) => {
    const fields = (event ?? {}) as Record<string, unknown>;
    end(Number(fields.code) || 0, String(fields.reason ?? ""));
  });
  task.onError((event) => {
    end(0, said(event));
    try {
      task.close({});
    } catch {
      // already gone
    }
  });
  return {
    send: (text) => {
      if (!ended) task.send({ data: text });
    },
    close: (code = 1000, reason = "") => {
      ended = true;
      try {
        task.close({ code, reason });
      } catch {
        // already gone
      }
    },
  };
}

/** A runtime API in callback style: { ...args, success, fail }. */
export type CallbackApi = (options: Record<string, unknown>) => unknown;

export function promised<T>(api: CallbackApi, options: Record<string, unknown>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    api({ ...options, success: (value: T) => resolve(value), fail: (error: unknown) => reject(error) });
  });
}

export function lowerCased(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers && typeof headers === "object") {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      out[name.toLowerCase()] = String(value);
    }
  }
  return out;
}

/** An UploadTask's progress event: WeChat and the like name the bytes Sent, Alipay Written. */
function uploadProgress(event: unknown): UploadProgress {
  const said = (event ?? {}) as Record<string, unknown>;
  const number = (...names: string[]) => {
    for (const name of names) if (typeof said[name] === "number") return said[name] as number;
    return 0;
  };
  return {
    progress: number("progress"),
    totalBytesSent: number("totalBytesSent", "totalBytesWritten"),
    totalBytesExpectedToSend: number("totalBytesExpectedToSend", "totalBytesExpectedToWrite"),
  };
}

/** Listens to the UploadTask a runtime's uploadFile answered, when it has progress events. */
export function followProgress(
  task: unknown,
  listener: ((progress: UploadProgress) => void) | undefined,
): void {
  const on = (task as { onProgressUpdate?: unknown } | undefined)?.onProgressUpdate;
  if (!listener || typeof on !== "function") return;
  on.call(task, (event: unknown) => {
    try {
      listener(uploadProgress(event));
    } catch {
      // a listener's mistake is not the upload's failure
    }
  });
}

/** JSON bodies come parsed, as text, or empty, depending on the runtime. */
export function parsedBody(data: unknown): unknown {
  if (typeof data !== "string") return data === null ? undefined : data;
  if (data === "") return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
