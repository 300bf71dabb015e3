/** minibase for mini programs: `minibase.init({ url })` on WeChat, Alipay, Douyin, Baidu or
 * QQ, then login, data, files, functions, payments and messages, one import away.
 *
 *     const minibase = require("./minibase.js");
 *     const app = minibase.init({ url: "https://api.example.com" });
 *     const { data } = await app.database().collection("posts").limit(20).get();
 */
import { Auth } from "./auth";
import type { Caller } from "./caller";
import { SignedInCaller } from "./client";
import { type Database, database } from "./database";
import { invalidArgument } from "./errors";
import {
  type DeleteFileOptions,
  type DeletedFile,
  type TempFileURL,
  type TempFileURLOptions,
  type UploadFileOptions,
  type UploadFileResult,
  deleteFile,
  getTempFileURL,
  uploadFile,
} from "./files";
import { type CallFunctionOptions, callFunction } from "./functions";
import { Http } from "./http";
import { requestSubscribe } from "./messages";
import { type Order, type PayOptions, pay } from "./pay";
import { detectPlatform, runtimeGlobals } from "./platform/detect";
import type { PlatformName } from "./platform/types";
import { Realtime } from "./realtime";

export { MinibaseError } from "./errors";
export type { User, PhoneProof, ChangeListener } from "./auth";
export type { Caller, CallOptions, Method, Upload } from "./caller";
export type {
  DeleteFileOptions,
  DeletedFile,
  FileRef,
  TempFileURL,
  TempFileURLOptions,
  UploadFileOptions,
  UploadFileResult,
} from "./files";
export type { Order, PayOptions } from "./pay";
export type { CallFunctionOptions } from "./functions";
export type { PlatformName, UploadProgress } from "./platform/types";
export type * from "./database";
export type { ChangeEvent, DataType, QueueType, Snapshot, WatchOptions, Watcher } from "./realtime/types";

export const version = "0.1.0";

export interface InitOptions {
  /** the server, e.g. "https://api.example.com" (a request domain of the mini program) */
  url: string;
  /** the mini program's appid (Baidu: its app key); read from the runtime when left out */
  appid?: string;
  /** which runtime, when more than one global is present */
  platform?: PlatformName;
  /** milliseconds a request may take (default 15 s) */
  timeout?: number;
}

export interface App {
  readonly platform: PlatformName;
  readonly appid: string;
  /** the signed-in user: silent login, refresh, phone, profile, sign-out, onChange */
  readonly auth: Auth;
  /** the data API in CloudBase's shape: `db.collection("posts").where({ ... }).get()`, and
   * `.watch({ onChange, onError })` on any query */
  database(): Database;
  /** upload a local file for a collection's file field, as wx.cloud.uploadFile does:
   * `{ fileID }` to write into a record (or, with `record`, uploaded into it) */
  uploadFile(options: UploadFileOptions): Promise<UploadFileResult>;
  /** temporary URLs of files, each with its status, as wx.cloud.getTempFileURL answers */
  getTempFileURL(options: TempFileURLOptions): Promise<{ fileList: TempFileURL[] }>;
  /** delete files, each with its status, as wx.cloud.deleteFile answers */
  deleteFile(options: DeleteFileOptions): Promise<{ fileList: DeletedFile[] }>;
  /** a cloud function: `{ result }`, as wx.cloud.callFunction answers */
  callFunction<T = unknown>(options: CallFunctionOptions): Promise<{ result: T }>;
  /** create the order, open the platform's payment sheet, answer the order's state after */
  pay(options: PayOptions): Promise<Order>;
  /** the subscribe-message prompt; answers how many messages of each template may be sent */
  requestSubscribe(templateIds: string[]): Promise<Record<string, number>>;
  /** any route of the server, signed in: `app.call("GET", "/api/auth/me")` */
  readonly call: Caller["call"];
}

export function init(options: InitOptions): App {
  if (!options || typeof options.url !== "string" || !/^https?:\/\//.test(options.url)) {
    throw invalidArgument('init needs { url: "https://..." }, the server\'s address');
  }
  const platform = detectPlatform(runtimeGlobals(), options.platform);
  const appid = options.appid ?? platform.appid();
  if (!appid) throw invalidArgument(`init needs { appid }: ${platform.name} does not tell it`);
  const http = new Http({ url: options.url, platform, timeout: options.timeout ?? 15_000 });
  const auth = new Auth(http, platform, appid);
  const caller = new SignedInCaller(http, auth);
  const realtime = new Realtime({ url: options.url, platform, auth });
  const db = database(caller, realtime);
  return {
    platform: platform.name,
    appid,
    auth,
    database: () => db,
    uploadFile: (upload) => uploadFile(caller, upload),
    getTempFileURL: (files) => getTempFileURL(caller, files),
    deleteFile: (files) => deleteFile(caller, files),
    callFunction: (call) => callFunction(caller, call),
    pay: (purchase) => pay(caller, platform, purchase),
    requestSubscribe: (ids) => requestSubscribe(caller, platform, ids),
    call: (method, path, callOptions) => caller.call(method, path, callOptions),
  };
}

export default { init, version };
