/** Files in the shape of CloudBase's (wx.cloud.uploadFile, getTempFileURL, deleteFile), on
 * minibase's files API: a file belongs to a file field of a collection, so an upload names the
 * collection and the field (the server checks the field's types and max size on the bytes).
 *
 *     const { fileID } = await app.uploadFile({ collection: "posts", field: "photo", filePath });
 *     await app.database().collection("posts").add({ data: { title: "hi", photo: fileID } });
 *     const { fileList } = await app.getTempFileURL({ fileList: [fileID] });
 */
import type { Caller } from "./caller";
import { collectionName, optionsOf, recordsPath } from "./database/paths";
import { invalidArgument } from "./errors";
import type { UploadProgress } from "./platform/types";

/** A file as a record holds it (and as an upload answers it). */
export interface FileRef {
  id: string;
  /** the name it was uploaded under (uploadFile's `name`, else the local file's) */
  name: string;
  /** bytes */
  size: number;
  /** its MIME type, read from its content by the server */
  type: string;
  etag: string;
  created: string;
  [field: string]: unknown;
}

export interface UploadFileOptions {
  /** the collection and its file field the file is for */
  collection: string;
  field: string;
  /** the runtime's path of the file: chooseImage's tempFilePaths[0] and the like */
  filePath: string;
  /** upload into this record straight away (its update rule applies): the field's file is
   * replaced, or, for a multiple field, one more added. Without it the file waits (24 hours)
   * for a write that puts its fileID in a record of this collection. */
  record?: string;
  /** the file's name as people see it (default: the local file's name) */
  name?: string;
  /** upload progress, where the runtime tells it */
  onProgress?: (progress: UploadProgress) => void;
}

export interface UploadFileResult {
  /** what a write puts in the file field: `{ data: { photo: fileID } }` */
  fileID: string;
  file: FileRef;
  /** the record, when uploaded into one */
  record?: Record<string, unknown>;
}

export interface TempFileURLOptions {
  /** fileIDs, or `{ fileID, maxAge }` with the seconds the URL must last (the server's
   * default and maximum apply) */
  fileList: Array<string | { fileID: string; maxAge?: number }>;
}

export interface TempFileURL {
  fileID: string;
  /** "" when status is not 0 */
  tempFileURL: string;
  /** seconds the URL lasts: as asked, or as the server answered by this device's clock */
  maxAge: number;
  /** 0, or why there is no URL: the server's code (files.not_found, files.reviewing ...) */
  status: 0 | string;
  errMsg: string;
}

export interface DeleteFileOptions {
  fileList: string[];
}

export interface DeletedFile {
  fileID: string;
  /** 0, or why it was not deleted: the server's code (files.not_found, records.forbidden ...) */
  status: 0 | string;
  errMsg: string;
}

/** The most fileIDs the server takes in one call. */
const BATCH = 50;
const FIELD = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const UPLOAD_KEYS = ["collection", "field", "filePath", "record", "name", "onProgress"];

interface Uploaded {
  file: FileRef;
  record?: Record<string, unknown>;
}

/** Upload a local file for a file field, through the runtime's uploadFile. */
export async function uploadFile(
  caller: Caller,
  options: UploadFileOptions,
): Promise<UploadFileResult> {
  const at = "uploadFile()";
  const given = optionsOf(options, at, UPLOAD_KEYS) as Partial<UploadFileOptions>;
  const { field, record, name, onProgress } = given;
  const collection = collectionName(given.collection, `${at}: collection`);
  if (typeof field !== "string" || !FIELD.test(field)) {
    throw invalidArgument(`${at} needs { field }: the collection's file field`);
  }
  const filePath = text(given.filePath, `${at} needs { filePath }: the runtime's path of a file`);
  if (name !== undefined) text(name, `${at}: name is text`);
  if (record !== undefined) text(record, `${at}: record is a record's id`);
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw invalidArgument(`${at}: onProgress is a function`);
  }
  const path =
    record === undefined
      ? `/api/collections/${collection}/files/${field}`
      : `${recordsPath(collection, record)}/files/${field}`;
  const formData: Record<string, string> = name === undefined ? {} : { name };
  const answer = await caller.upload<Uploaded>(path, { filePath, formData, onProgress });
  const result: UploadFileResult = { fileID: answer.file.id, file: answer.file };
  if (answer.record) result.record = answer.record;
  return result;
}

interface ServerError {
  code: string;
  message: string;
}

interface Linked {
  /** expires_at: unix seconds */
  files: Array<{ id: string; url?: string; expires_at?: number; error?: ServerError }>;
}

/** Temporary URLs of files (for <image src>, downloadFile ...), in the order asked. A file the
 * user may not read answers its own status; the others still get their URL. */
export async function getTempFileURL(
  caller: Caller,
  options: TempFileURLOptions,
): Promise<{ fileList: TempFileURL[] }> {
  const at = "getTempFileURL()";
  const asked = listOf(optionsOf(options, at, ["fileList"]).fileList, at).map((item) => {
    if (typeof item === "string" && item) return { fileID: item, maxAge: undefined };
    const { fileID, maxAge } = optionsOf(item, `${at}: a fileList item`, ["fileID", "maxAge"]);
    const id = text(fileID, `${at}: a fileList item is a fileID or { fileID, maxAge }`);
    const whole = typeof maxAge === "number" && Number.isInteger(maxAge) && maxAge > 0;
    if (maxAge !== undefined && !whole) {
      throw invalidArgument(`${at}: maxAge is a whole number of seconds`);
    }
    return { fileID: id, maxAge: maxAge as number | undefined };
  });
  // the server takes one expiry per call: a call for each maxAge asked (and each 50 files)
  const byMaxAge = new Map<number | undefined, number[]>();
  asked.forEach(({ maxAge }, i) => byMaxAge.set(maxAge, [...(byMaxAge.get(maxAge) ?? []), i]));
  const fileList: TempFileURL[] = [];
  const calls: Array<Promise<void>> = [];
  byMaxAge.forEach((indexes, maxAge) => {
    for (const batch of batches(indexes)) {
      const fileIDs = batch.map((index) => asked[index].fileID);
      const linking = linked(caller, fileIDs, maxAge);
      calls.push(linking.then((urls) => batch.forEach((index, i) => (fileList[index] = urls[i]))));
    }
  });
  await Promise.all(calls);
  return { fileList };
}

async function linked(
  caller: Caller,
  fileIDs: string[],
  maxAge: number | undefined,
): Promise<TempFileURL[]> {
  const body = maxAge === undefined ? { files: fileIDs } : { files: fileIDs, expires: maxAge };
  const answer = await caller.call<Linked>("POST", "/api/files/temp-urls", { body });
  return fileIDs.map((fileID, i) => {
    const { url, expires_at: expiresAt, error } = answer.files[i] ?? {};
    if (!url) return { fileID, tempFileURL: "", maxAge: maxAge ?? 0, ...failed(error) };
    const left = Math.max(0, (expiresAt ?? 0) - Math.floor(Date.now() / 1000));
    return { fileID, tempFileURL: url, maxAge: maxAge ?? left, status: 0, errMsg: "ok" };
  });
}

interface Deleted {
  files: Array<{ id: string; deleted?: boolean; error?: ServerError }>;
}

/** Delete files: a pending upload of the user's, or a file of a record the user may update
 * (it is taken out of the record). Each file answers its own status. */
export async function deleteFile(
  caller: Caller,
  options: DeleteFileOptions,
): Promise<{ fileList: DeletedFile[] }> {
  const at = "deleteFile()";
  const ids = listOf(optionsOf(options, at, ["fileList"]).fileList, at).map((id) =>
    text(id, `${at}: fileList holds fileIDs`),
  );
  const answered = await Promise.all(
    batches(ids).map(async (files) => {
      const answer = await caller.call<Deleted>("POST", "/api/files/delete", { body: { files } });
      return files.map((fileID, i): DeletedFile => {
        const { deleted, error } = answer.files[i] ?? {};
        return deleted ? { fileID, status: 0, errMsg: "ok" } : { fileID, ...failed(error) };
      });
    }),
  );
  return { fileList: ([] as DeletedFile[]).concat(...answered) };
}

/** A file's own failure in a batch's answer. */
function failed(error: ServerError | undefined): { status: string; errMsg: string } {
  return error
    ? { status: error.code, errMsg: error.message }
    : { status: "files.not_found", errMsg: "the server answered nothing for this file" };
}

function listOf(list: unknown, at: string): unknown[] {
  if (!Array.isArray(list) || !list.length) {
    throw invalidArgument(`${at} needs { fileList: [fileID, ...] }`);
  }
  return list;
}

function text(value: unknown, message: string): string {
  if (typeof value !== "string" || !value) throw invalidArgument(message);
  return value;
}

function batches<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += BATCH) out.push(items.slice(at, at + BATCH));
  return out;
}
