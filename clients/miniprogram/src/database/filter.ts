/** where() conditions, CloudBase's way, into minibase's filter (docs/data-api.md, Listing):
 *
 *     { score: _.gte(5), author: { name: 'ann' }, tags: _.all(['news']) }
 *     -> {"score": {"$gte": 5}, "author.name": "ann", "tags": {"$all": ["news"]}}
 *
 * A text search is a whole condition, `_.search('拿铁')`, alone or in `_.and([...])`:
 *
 *     _.and([_.search('拿铁'), { price: _.lt(30) }]) -> {"$search": "拿铁", "price": {"$lt": 30}}
 *
 * Nested objects match field by field, as in CloudBase; a Date compares as ISO-8601 text (what
 * `datetime` fields and `_created`/`_updated` hold). What minibase cannot match fails here,
 * before any request: `client.unsupported` for a CloudBase feature it lacks, and
 * `client.invalid_argument` for a malformed condition.
 */
import { invalidArgument, unsupported } from "../errors";
import { Command, DbRegExp, GeoPoint } from "./commands";
import { finite, isPlainObject, isoTime, notAValue, pathOf } from "./values";

export type Filter = Record<string, unknown>;
type Scalar = string | number | boolean | null;

const UNSUPPORTED: Record<string, string> = {
  size: "minibase has no $size (array length) filter",
  elemMatch: "minibase has no $elemMatch; _.all([...]) matches arrays holding given elements",
  mod: "minibase has no $mod filter",
  expr: "minibase has no aggregation expressions in filters",
  geoNear: "minibase has no geo queries",
  geoWithin: "minibase has no geo queries",
  geoIntersects: "minibase has no geo queries",
};
const UPDATE_COMMANDS = new Set(
  "set remove inc push pull pullAll mul min max rename pop shift unshift addToSet bit".split(" "),
);

const SEARCH_HOW =
  "search with a whole condition, where(_.search('拿铁')), or beside others, " +
  "where(_.and([_.search('拿铁'), { price: _.lt(30) }]))";

/** `_.search(text)`'s text: 2 to 100 characters (code points, as the server counts them). */
function searchText(text: unknown, where: string): string {
  const length = typeof text === "string" ? Array.from(text).length : 0;
  if (typeof text !== "string" || length < 2 || length > 100) {
    throw invalidArgument(`${where} takes text of 2 to 100 characters`);
  }
  return text;
}

/** The filter for `where(condition)`: an object of fields, or `_.and/_.or/_.nor/_.not` of them. */
export function toFilter(condition: unknown, at = "where"): Filter {
  if (condition instanceof Command) return logic(condition, at);
  if (!isPlainObject(condition)) {
    throw invalidArgument(`${at} takes an object of fields, e.g. where({ score: _.gte(5) })`);
  }
  return fields(condition, "", at);
}

/** `_.or([{ a: 1 }, { b: 2 }])` and the like, on whole conditions. */
function logic(cmd: Command, at: string): Filter {
  const parts = () => {
    if (!cmd.operands.length) throw invalidArgument(`${at}: _.${cmd.name}() needs conditions`);
    return cmd.operands.map((item, i) => toFilter(item, `${at}.${cmd.name}.${i}`));
  };
  switch (cmd.name) {
    case "and":
      return allOf(parts());
    case "or":
    case "nor":
      return { [`$${cmd.name}`]: parts() };
    case "not":
      return { $not: toFilter(cmd.operands[0], `${at}.not`) };
    case "search":
      return { $search: searchText(cmd.operands[0], `${at}: _.search()`) };
    default:
      throw invalidArgument(
        `${at}: _.${cmd.name}() applies to a field, e.g. where({ score: _.${cmd.name}(...) })`,
      );
  }
}

/** An object of (maybe nested) fields under `prefix`; `at` says where it is, for messages. */
function fields(object: Record<string, unknown>, prefix: string, at: string): Filter {
  const clauses: Filter[] = [];
  for (const [key, value] of Object.entries(object)) {
    const path = pathOf(prefix, key);
    if (key === "$search") {
      throw invalidArgument(`${at}.$search: ${SEARCH_HOW}`);
    }
    if (key.startsWith("$")) {
      throw invalidArgument(
        `${at}.${key}: write operators with db.command, e.g. { score: _.gt(5) }, not { $gt: 5 }`,
      );
    }
    if (path === "_openid") {
      throw unsupported(
        `${at}._openid: minibase records carry _owner (the user's id), not _openid; ` +
          "the collection's rules decide whose records a user sees",
      );
    }
    clauses.push(field(path, value, `${at}.${key}`));
  }
  return allOf(clauses);
}

/** The condition on one field: a value, a command, a regex or nested fields. */
function field(path: string, value: unknown, at: string): Filter {
  if (value instanceof Command) return fieldCommand(path, value, at);
  if (value instanceof RegExp) return regex(path, value.source, value.flags, at);
  if (value instanceof DbRegExp) return regex(path, value.regexp, value.options, at);
  if (isPlainObject(value) && Object.keys(value).length) return fields(value, path, at);
  return { [path]: scalar(value, at) };
}

function fieldCommand(path: string, cmd: Command, at: string): Filter {
  const [operand] = cmd.operands;
  const where = `${at}: _.${cmd.name}()`;
  switch (cmd.name) {
    case "eq":
      return { [path]: { $eq: scalar(operand, at) } };
    case "neq":
      return { [path]: { $ne: scalar(operand, at) } };
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return { [path]: { [`$${cmd.name}`]: comparable(operand, where) } };
    case "in":
    case "nin":
      return { [path]: { [`$${cmd.name}`]: scalars(operand, where) } };
    case "all":
      return { [path]: { $all: scalars(operand, where) } };
    case "exists":
      if (typeof operand !== "boolean") throw invalidArgument(`${where} takes true or false`);
      return { [path]: { $exists: operand } };
    case "and":
    case "or":
    case "nor": {
      if (!cmd.operands.length) throw invalidArgument(`${where} needs conditions`);
      const parts = cmd.operands.map((item, i) => field(path, item, `${at}.${cmd.name}.${i}`));
      return cmd.name === "and" ? allOf(parts) : { [`$${cmd.name}`]: parts };
    }
    case "not": {
      const inner = field(path, operand, `${at}.not`);
      const ops = inner[path];
      const onField = Object.keys(inner).length === 1 && isOperators(ops);
      return onField ? { [path]: { $not: ops } } : { $not: inner };
    }
  }
  if (cmd.name === "search") {
    throw invalidArgument(`${where} searches the collection's search index: ${SEARCH_HOW}`);
  }
  if (cmd.name in UNSUPPORTED) throw unsupported(`${where}: ${UNSUPPORTED[cmd.name]}`);
  if (UPDATE_COMMANDS.has(cmd.name)) {
    throw invalidArgument(`${where} is an update command: use it in update({ data })`);
  }
  throw invalidArgument(`${where} is not a CloudBase command`);
}

function regex(path: string, pattern: unknown, flags: unknown, at: string): Filter {
  if (typeof pattern !== "string" || typeof flags !== "string") {
    throw invalidArgument(`${at}: db.RegExp takes { regexp: string, options?: string }`);
  }
  const other = flags.replace(/i/g, "");
  if (other) {
    throw unsupported(`${at}: minibase regular expressions take only the i flag, not "${other}"`);
  }
  return { [path]: flags ? { $regex: pattern, $options: "i" } : { $regex: pattern } };
}

/** A value a field is compared with: minibase compares scalars, never objects or arrays. */
function scalar(value: unknown, at: string): Scalar {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return finite(value, at);
  if (value instanceof Date) return isoTime(value, at);
  if (Array.isArray(value)) {
    throw unsupported(
      `${at}: minibase compares a field with one value, not an array; ` +
        "_.all([...]) matches arrays holding those elements",
    );
  }
  if (isPlainObject(value)) {
    throw unsupported(
      `${at}: minibase compares with strings, numbers, booleans and null; ` +
        "match an object's fields one by one, e.g. { author: { name: 'ann' } }",
    );
  }
  if (value instanceof GeoPoint) throw unsupported(`${at}: minibase has no geo queries`);
  if (value === undefined) {
    throw invalidArgument(`${at} is undefined: leave the field out to match any value`);
  }
  throw notAValue(value, at);
}

function comparable(value: unknown, where: string): string | number {
  const result = scalar(value, where);
  if (typeof result !== "string" && typeof result !== "number") {
    throw invalidArgument(`${where} compares with a number, a string or a Date`);
  }
  return result;
}

function scalars(values: unknown, where: string): Scalar[] {
  if (!Array.isArray(values)) throw invalidArgument(`${where} takes an array of values`);
  return values.map((value, i) => {
    if (value instanceof Command && value.name === "elemMatch") {
      throw unsupported(`${where}.${i}: ${UNSUPPORTED.elemMatch}`);
    }
    return scalar(value, `${where}.${i}`);
  });
}

function isOperators(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.keys(value).every((key) => key.startsWith("$"));
}

/** All the clauses, as one object when their keys allow (`{ a: .., b: {$gt, $lt} }`), else
 * `$and`. */
function allOf(clauses: Filter[]): Filter {
  if (clauses.length === 1) return clauses[0];
  const merged: Filter = {};
  for (const clause of clauses) {
    for (const [key, value] of Object.entries(clause)) {
      const before = merged[key];
      if (before === undefined) {
        merged[key] = value;
      } else if (
        isOperators(before) &&
        isOperators(value) &&
        Object.keys(value).every((op) => !(op in before))
      ) {
        merged[key] = { ...before, ...value };
      } else {
        return { $and: clauses };
      }
    }
  }
  return merged;
}
