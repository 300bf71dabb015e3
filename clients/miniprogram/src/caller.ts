/** What every feature module (database, functions, pay, messages, and later files and
 * realtime) gets from the core: one signed-in call to the server. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export type QueryValue = string | number | boolean | undefined;

export interface CallOptions {
  /** URL query parameters; undefined ones are left out */
  query?: Record<string, QueryValue>;
  /** a JSON body */
  body?: unknown;
  headers?: Record<string, string>;
  /** "user" (default): with the user's access token, logging in or refreshing first as needed;
   * "none": no token */
  auth?: "user" | "none";
  /** retry on network failure and 502/503/504 (default: true for GET, false otherwise) */
  retry?: boolean;
}

export interface Caller {
  /** The answer's JSON body (undefined for 204); rejects with a MinibaseError. */
  call<T = unknown>(method: Method, path: string, options?: CallOptions): Promise<T>;
}
