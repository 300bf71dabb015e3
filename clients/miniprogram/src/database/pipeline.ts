/** aggregate()'s stages, CloudBase's way, into the server's pipeline (docs/data-api.md,
 * Aggregation):
 *
 *     .match({ status: 'paid' }).group({ _id: '$buyer', spent: $.sum('$amount') }).limit(3)
 *     -> [{"$match": {"status": "paid"}},
 *         {"$group": {"_id": "$buyer", "spent": {"$sum": "$amount"}}}, {"$limit": 3}]
 *
 * One stage a call, in order: the server's `details.at` (`pipeline.1.$group.spent`) counts
 * them from 0. match() takes where()'s conditions, translated by the same code.
 */
import { invalidArgument, unsupported } from "../errors";
import { accumulator, expression } from "./expressions";
import { toFilter } from "./filter";
import { collectionName } from "./paths";
import { type Json, isPlainObject, pathOf } from "./values";

/** One builder call, as made. */
export interface Stage {
  readonly name: string;
  readonly spec: unknown;
}

/** Stages CloudBase has and minibase does not, and what to write instead. */
const UNSUPPORTED: Record<string, string> = {
  addFields: "minibase has no $addFields; project() keeps fields and computes new ones",
  bucket: "minibase has no $bucket; group() by a computed key",
  bucketAuto: "minibase has no $bucketAuto; group() by a computed key",
  geoNear: "minibase has no geo queries",
  replaceRoot: "minibase has no $replaceRoot; project() the fields to answer",
  sample: "minibase has no random $sample",
  sortByCount:
    "minibase has no $sortByCount; group({ _id: '$field', count: $.sum(1) }).sort({ count: -1 })",
};

/** The JSON pipeline of `stages`: `[{"$match": ...}, ...]`. */
export function toPipeline(stages: readonly Stage[]): Json[] {
  if (!stages.length) {
    throw invalidArgument("aggregate().end(): add a stage first, e.g. .match({ status: 'paid' })");
  }
  return stages.map(({ name, spec }) => ({ [`$${name}`]: stage(name, spec) }));
}

function stage(name: string, spec: unknown): Json {
  const at = `${name}()`;
  switch (name) {
    case "match":
      return toFilter(spec, "match") as Json;
    case "group":
      return group(spec, at);
    case "sort":
      return sort(spec, at);
    case "skip":
      return whole(spec, at, 0);
    case "limit":
      return whole(spec, at, 1);
    case "project":
      return project(spec, at);
    case "unwind":
      return unwind(spec, at);
    case "count":
      return fieldName(spec, at);
    case "lookup":
      return lookup(spec, at);
  }
  throw unsupported(`${at}: ${UNSUPPORTED[name] ?? "not a stage minibase has"}`);
}

function group(spec: unknown, at: string): Json {
  if (!isPlainObject(spec) || spec._id === undefined) {
    throw invalidArgument(
      `${at} takes { _id: the key, output: $.sum(...) ... }; _id: null makes one group of all`,
    );
  }
  const result: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === "_id") result._id = expression(value, `${at}._id`);
    else if (value !== undefined) result[key] = accumulator(value, `${at}.${key}`);
  }
  return result;
}

function sort(spec: unknown, at: string): Json {
  if (!isPlainObject(spec) || !Object.keys(spec).length) {
    throw invalidArgument(`${at} takes the fields to sort by, e.g. sort({ sales: -1, _id: 1 })`);
  }
  for (const [key, direction] of Object.entries(spec)) {
    if (direction !== 1 && direction !== -1) {
      throw invalidArgument(`${at}.${key}: 1 (ascending) or -1 (descending)`);
    }
  }
  return spec as Json;
}

function whole(n: unknown, at: string, least: number): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < least) {
    throw invalidArgument(`${at.slice(0, -1)}${JSON.stringify(n)}): a whole number from ${least}`);
  }
  return n;
}

/** `{ title: 1, body: 0, total: $.multiply([...]) }`: kept, removed and computed fields. */
function project(spec: unknown, at: string): Json {
  if (!isPlainObject(spec) || !Object.keys(spec).length) {
    throw invalidArgument(`${at} takes the fields to answer, e.g. project({ title: 1 })`);
  }
  const result: { [key: string]: Json } = {};
  let keeps = false;
  let removes = false;
  for (const [key, value] of Object.entries(spec)) {
    const where = `${at}.${key}`;
    if (value === undefined) continue;
    if (value === 0 || value === false) {
      removes = removes || key !== "_id";
      result[key] = value;
      continue;
    }
    if (key.includes(".")) {
      throw unsupported(
        `${where}: minibase keeps or computes top-level fields; ` +
          `name it, e.g. { ${key.replace(/\./g, "_")}: '$${key}' }`,
      );
    }
    keeps = true;
    if (value === 1 || value === true) result[key] = value;
    else if (typeof value === "number") {
      throw invalidArgument(`${where}: 1 keeps the field; $.literal(${value}) is the number`);
    } else {
      nestedProjection(value, where);
      result[key] = expression(value, where);
    }
  }
  if (keeps && removes) {
    throw invalidArgument(`${at} either keeps fields or removes them (and _id), not both`);
  }
  return result;
}

/** CloudBase reads `{ author: { name: 1 } }` as "keep author.name"; minibase would answer the
 * object `{ name: 1 }`: refused, so that no one gets the one when asking for the other. */
function nestedProjection(value: unknown, at: string): void {
  if (!isPlainObject(value)) return;
  for (const [key, item] of Object.entries(value)) {
    const where = pathOf(at, key);
    if (typeof item === "number" || typeof item === "boolean") {
      throw unsupported(
        `${where}: minibase keeps whole top-level fields ({ author: 1 }); compute a part ` +
          `as a field of its own ({ name: '$author.name' }), or write $.literal(${item})`,
      );
    }
    nestedProjection(item, where);
  }
}

const UNWIND_OPTIONS = ["path", "includeArrayIndex", "preserveNullAndEmptyArrays"];

/** `'$tags'`, or `{ path, includeArrayIndex, preserveNullAndEmptyArrays }`. */
function unwind(spec: unknown, at: string): Json {
  if (typeof spec === "string") return fieldPath(spec, at);
  if (!isPlainObject(spec)) {
    throw invalidArgument(`${at} takes an array field, e.g. unwind('$tags'), or { path, ... }`);
  }
  const result: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(spec)) {
    if (value === undefined) continue;
    if (!UNWIND_OPTIONS.includes(key)) {
      throw invalidArgument(`${at} takes { ${UNWIND_OPTIONS.join(", ")} }, not ${key}`);
    }
    const where = `${at}.${key}`;
    if (key === "path") result.path = fieldPath(value, where);
    else if (key === "includeArrayIndex") result.includeArrayIndex = fieldName(value, where);
    else if (typeof value !== "boolean") throw invalidArgument(`${where}: true or false`);
    else result.preserveNullAndEmptyArrays = value;
  }
  if (result.path === undefined) throw invalidArgument(`${at} needs a path, e.g. '$tags'`);
  return result;
}

function fieldPath(value: unknown, at: string): string {
  if (typeof value !== "string" || !/^\$[^$]/.test(value)) {
    throw invalidArgument(`${at}: a field with its $, e.g. '$tags'`);
  }
  return value;
}

/** A field a stage makes: count('total'), includeArrayIndex: 'i'. */
function fieldName(value: unknown, at: string): string {
  if (typeof value !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
    throw invalidArgument(`${at}: a field name, letters, digits and _, e.g. 'total'`);
  }
  return value;
}

const LOOKUP_OPTIONS = ["from", "localField", "foreignField", "as"];

/** `{ from, localField, foreignField, as }`. */
function lookup(spec: unknown, at: string): Json {
  if (!isPlainObject(spec)) throw invalidArgument(`${at} takes { ${LOOKUP_OPTIONS.join(", ")} }`);
  if ("let" in spec || "pipeline" in spec) {
    throw unsupported(
      `${at}: minibase joins by localField and foreignField; it has no let or pipeline`,
    );
  }
  for (const key of Object.keys(spec)) {
    if (!LOOKUP_OPTIONS.includes(key)) {
      throw invalidArgument(`${at} takes { ${LOOKUP_OPTIONS.join(", ")} }, not ${key}`);
    }
  }
  const { from, localField, foreignField, as } = spec;
  for (const [key, value] of [["localField", localField], ["foreignField", foreignField]]) {
    if (typeof value !== "string" || !value || value.startsWith("$")) {
      throw invalidArgument(`${at}.${key}: a field path without $, e.g. 'buyer'`);
    }
  }
  return {
    from: collectionName(from, `${at}.from`),
    localField: localField as string,
    foreignField: foreignField as string,
    as: fieldName(as, `${at}.as`),
  };
}
