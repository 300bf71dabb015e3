/** Where records (and their aggregations) live on the server, and the query parameters shared
 * by lists and reads. */
import { MinibaseError, invalidArgument, unsupported } from "../errors";
import { isPlainObject } from "./values";

const COLLECTION = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** The collection's name, checked; `at` says where it was given. */
export function collectionName(collection: unknown, at = "collection"): string {
  if (typeof collection !== "string" || !COLLECTION.test(collection)) {
    throw invalidArgument(
      `${at}(${JSON.stringify(collection)}): a collection name is letters, digits and _, ` +
        "starting with a letter",
    );
  }
  return collection;
}

/** `/api/collections/{name}/records[/{id}]`, the name and id checked first. */
export function recordsPath(collection: unknown, id?: unknown): string {
  const base = `/api/collections/${collectionName(collection)}/records`;
  if (id === undefined) return base;
  if (typeof id !== "string" || !id) {
    throw invalidArgument(`doc(${JSON.stringify(id)}): a record id is a non-empty string`);
  }
  return `${base}/${encodeURIComponent(id)}`;
}

/** `/api/collections/{name}/aggregate`, the name checked first. */
export function aggregatePath(collection: unknown): string {
  return `/api/collections/${collectionName(collection)}/aggregate`;
}

/** The server's `fields` parameter for `field({ a: true, 'b.c': true })`. */
export function fieldList(projection: unknown): string | undefined {
  if (projection === undefined) return undefined;
  if (!isPlainObject(projection) || !Object.keys(projection).length) {
    throw invalidArgument("field() takes the fields to answer, e.g. field({ title: true })");
  }
  const names = Object.keys(projection);
  for (const name of names) {
    const wanted = projection[name];
    if (wanted === false || wanted === 0) {
      throw unsupported(
        `field({ ${name}: ${wanted} }): minibase answers the fields you name; ` +
          "it cannot leave some out: list the ones to answer",
      );
    }
    if (wanted !== true && wanted !== 1) {
      throw invalidArgument(`field(): ${name} takes true`);
    }
  }
  return names.join(",");
}

const EXPAND_PATH = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

/** The server's `expand` parameter for `expand('author', 'comments_via_post.author')`: each
 * path once, in the order given. Only their form is checked here; the server checks them
 * against the schemas (`records.invalid_expand`) and bounds how many there are. */
export function expandList(paths: readonly unknown[] | undefined): string | undefined {
  if (paths === undefined) return undefined;
  if (!paths.length) {
    throw invalidArgument("expand() takes the paths to expand, e.g. expand('author')");
  }
  for (const path of paths) {
    if (typeof path !== "string" || !EXPAND_PATH.test(path)) {
      throw invalidArgument(
        `expand(${JSON.stringify(path)}): a path is reference fields or back-relations ` +
          "joined by dots, e.g. 'author' or 'comments_via_post.author'; one path an argument",
      );
    }
  }
  return [...new Set(paths)].join(",");
}

/** `expand('a', 'b')` and `expand(['a', 'b'])` mean the same. */
export function expandPaths(paths: readonly unknown[]): readonly unknown[] {
  return paths.length === 1 && Array.isArray(paths[0]) ? paths[0] : paths;
}

/** The server's answer for an id no record has (or one the user may not see). */
export function isNotFound(error: unknown): boolean {
  return error instanceof MinibaseError && error.code === "records.not_found";
}

const CALLBACKS = ["success", "fail", "complete"];

/** The options object of a call, with only the keys it takes. */
export function optionsOf(
  options: unknown,
  at: string,
  keys: readonly string[],
): Record<string, unknown> {
  if (!isPlainObject(options)) {
    throw invalidArgument(`${at} takes { ${keys.join(", ")} }`);
  }
  for (const key of Object.keys(options)) {
    if (CALLBACKS.includes(key)) {
      throw unsupported(`${at}: minibase answers with a promise, not ${key} callbacks: await it`);
    }
    if (!keys.includes(key)) {
      throw invalidArgument(`${at} takes { ${keys.join(", ")} }, not ${key}`);
    }
  }
  return options;
}
