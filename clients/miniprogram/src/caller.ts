/** What every feature module (database, functions, pay, messages, files, and later realtime)
 * gets from the core: one signed-in call to the server, and one signed-in upload. */
import type { UploadProgress } from "./platform/types";

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

/** A local file for a multipart POST, sent by the runtime's uploadFile. */
export interface Upload {
  /** the runtime's temporary path (chooseImage's tempFilePaths and the like) */
  filePath: string;
  /** text fields sent with the file */
  formData?: Record<string, string>;
  onProgress?: (progress: UploadProgress) => void;
}

export interface Caller {
  /** The answer's JSON body (undefined for 204); rejects with a MinibaseError. */
  call<T = unknown>(method: Method, path: string, options?: CallOptions): Promise<T>;
  /** POST the file to `path` with the user's access token: the answer's JSON body; rejects
   * with a MinibaseError. Never retried on a network failure (the server may have stored it). */
  upload<T = unknown>(path: string, upload: Upload): Promise<T>;
}
