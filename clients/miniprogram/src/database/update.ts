/** update({ data }), CloudBase's way, into minibase's update operators (docs/data-api.md,
 * Updates):
 *
 *     { title: 'x', style: { color: 'red' }, score: _.inc(1), tags: _.push(['a']),
 *       old: _.remove() }
 *     -> {"$set": {"title": "x", "style.color": "red"}, "$inc": {"score": 1},
 *         "$push": {"tags": {"$each": ["a"]}}, "$unset": {"old": true}}
 *
 * As in CloudBase, a plain object changes only the fields it names; `_.set({...})` replaces the
 * whole object. And the record data of add() and set(), checked the same way.
 */
import { invalidArgument, unsupported } from "../errors";
import { Command } from "./commands";
import { type Json, finite, isPlainObject, pathOf, toJson } from "./values";

export type Update = Partial<Record<"$set" | "$unset" | "$inc" | "$push" | "$pull", Json>>;

const SYSTEM = new Set(["_id", "_owner", "_created", "_updated", "_version"]);
const UNSUPPORTED: Record<string, string> = {
  mul: "minibase has no $mul; read, compute and update with _version instead",
  min: "minibase has no $min",
  max: "minibase has no $max",
  rename: "minibase has no $rename",
  pop: "minibase has no $pop",
  shift: "minibase has no $pop",
  unshift: "minibase pushes only at the end of an array",
  addToSet: "minibase has no $addToSet",
  bit: "minibase has no $bit",
};
const QUERY_COMMANDS = new Set(
  "eq neq gt gte lt lte in nin exists all size elemMatch mod expr and or nor not".split(" "),
);

/** The operators for `update({ data })`, and the `_version` guard it names (one record only). */
export function toUpdate(
  data: unknown,
  options: { at: string; guard: boolean },
): { update: Update; version?: number } {
  if (!isPlainObject(data)) {
    throw invalidArgument(`${options.at} takes { data: { field: value or _.command() } }`);
  }
  const ops: Record<string, Record<string, Json>> = {};
  const add = (op: string, path: string, value: Json) => {
    ops[op] = { ...ops[op], [path]: value };
  };
  let version: number | undefined;
  for (const [key, value] of Object.entries(data)) {
    if (key === "_version") {
      if (!options.guard) {
        throw invalidArgument(
          `${options.at}.data._version: a bulk update guards no single record; ` +
            "where({ _version: n }) picks records by version",
        );
      }
      version = guard(value, `${options.at}.data._version`);
    } else if (value !== undefined) {
      systemField(key, `${options.at}.data`);
      walk(key, value, `${options.at}.data.${key}`, add);
    }
  }
  if (!Object.keys(ops).length) {
    throw invalidArgument(`${options.at}: data names no field to change`);
  }
  return version === undefined ? { update: ops } : { update: ops, version };
}

type Add = (op: string, path: string, value: Json) => void;

function walk(path: string, value: unknown, at: string, add: Add): void {
  if (key(path).startsWith("$")) {
    throw invalidArgument(`${at}: write update operators with db.command, e.g. _.inc(1)`);
  }
  if (value instanceof Command) return command(path, value, at, add);
  if (isPlainObject(value) && Object.keys(value).length) {
    for (const [name, item] of Object.entries(value)) {
      if (item !== undefined) walk(pathOf(path, name), item, pathOf(at, name), add);
    }
    return;
  }
  add("$set", path, toJson(value, at));
}

function key(path: string): string {
  return path.slice(path.lastIndexOf(".") + 1);
}

function command(path: string, cmd: Command, at: string, add: Add): void {
  const [operand] = cmd.operands;
  const where = `${at}: _.${cmd.name}()`;
  switch (cmd.name) {
    case "set":
      return add("$set", path, toJson(operand, at));
    case "remove":
      return add("$unset", path, true);
    case "inc":
      if (typeof operand !== "number") throw invalidArgument(`${where} takes a number`);
      return add("$inc", path, finite(operand, where));
    case "push":
      return add("$push", path, push(operand, where));
    case "pull":
      return add("$pull", path, pull(operand, where));
    case "pullAll":
      if (!Array.isArray(operand)) throw invalidArgument(`${where} takes an array of values`);
      return add("$pull", path, { $in: operand.map((item, i) => element(item, `${where}.${i}`)) });
  }
  if (cmd.name in UNSUPPORTED) throw unsupported(`${where}: ${UNSUPPORTED[cmd.name]}`);
  if (QUERY_COMMANDS.has(cmd.name)) {
    throw invalidArgument(`${where} is a query command: use it in where()`);
  }
  throw invalidArgument(`${where} is not a CloudBase command`);
}

/** `_.push(v)`, `_.push([a, b])` (each one) or `_.push({ each, position, sort, slice })`. */
function push(values: unknown, where: string): Json {
  if (Array.isArray(values)) return { $each: toJson(values, where) };
  if (isPlainObject(values) && "each" in values) {
    const other = Object.keys(values).filter((name) => name !== "each");
    if (other.length) {
      throw unsupported(
        `${where}: minibase appends at the end, without ${other.join(", ")}; push { each } only`,
      );
    }
    if (!Array.isArray(values.each)) throw invalidArgument(`${where}: each is an array`);
    return { $each: toJson(values.each, where) };
  }
  return toJson(values, where);
}

/** `_.pull(value)` or `_.pull(_.in([...]))`: minibase removes equal scalar elements. */
function pull(value: unknown, where: string): Json {
  if (value instanceof Command) {
    const [operand] = value.operands;
    if (value.name === "in" && Array.isArray(operand)) {
      return { $in: operand.map((item, i) => element(item, `${where}.${i}`)) };
    }
    if (value.name === "eq") return element(operand, where);
    throw unsupported(
      `${where}: minibase pulls equal values, or _.in([...]), not _.${value.name}()`,
    );
  }
  return element(value, where);
}

function element(value: unknown, at: string): Json {
  const json = toJson(value, at);
  if (json !== null && typeof json === "object") {
    throw unsupported(`${at}: minibase pulls strings, numbers, booleans and null, not objects`);
  }
  return json;
}

/** The record for add() and set() (`at`: "add().data"): JSON, without the fields the server
 * sets but those `allow` names. */
export function toRecord(
  data: unknown,
  options: { at: string; allow: readonly string[] },
): Record<string, Json> {
  if (!isPlainObject(data)) throw invalidArgument(`${options.at}: a record is an object of fields`);
  for (const name of Object.keys(data)) {
    if (!options.allow.includes(name)) systemField(name, options.at);
  }
  return toJson(data, options.at) as Record<string, Json>;
}

function systemField(name: string, at: string): void {
  if (SYSTEM.has(name)) {
    throw invalidArgument(`${at}.${name}: the server sets ${name}; leave it out`);
  }
}

export function guard(value: unknown, at: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw invalidArgument(`${at} is the record's _version, a whole number from 1`);
  }
  return value;
}
