/** Values as minibase stores them: JSON, with a Date as ISO-8601 text (what `datetime` fields
 * take) and `db.Geo.Point` as GeoJSON (what `geopoint` fields take). */
import { invalidArgument, unsupported } from "../errors";
import { Command, DbRegExp, GeoPoint, UnsupportedValue } from "./commands";
import { AggregateOperator } from "./operators";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An object literal (`{ a: 1 }`), as opposed to a Date, a RegExp, a Command or an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Where a value sits, for messages: `data.author.name`, `where.tags.0`. */
export function pathOf(at: string, key: string | number): string {
  return at ? `${at}.${key}` : String(key);
}

/** The value as JSON; undefined inside an object is left out, as JSON.stringify does. */
export function toJson(value: unknown, at: string): Json {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return finite(value, at);
  if (value instanceof Date) return isoTime(value, at);
  if (value instanceof GeoPoint) return point(value, at);
  if (Array.isArray(value)) return value.map((item, i) => toJson(item ?? null, pathOf(at, i)));
  if (isPlainObject(value)) {
    const result: { [key: string]: Json } = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) result[key] = toJson(item, pathOf(at, key));
    }
    return result;
  }
  throw notAValue(value, at);
}

export function finite(value: number, at: string): number {
  if (!Number.isFinite(value)) throw invalidArgument(`${at}: ${value} is not a JSON number`);
  return value;
}

export function isoTime(value: Date, at: string): string {
  if (Number.isNaN(value.getTime())) throw invalidArgument(`${at}: the Date is invalid`);
  return value.toISOString();
}

function point(value: GeoPoint, at: string): Json {
  const { longitude, latitude } = value;
  if (!(Math.abs(finite(longitude, at)) <= 180 && Math.abs(finite(latitude, at)) <= 90)) {
    throw invalidArgument(`${at}: a Geo.Point is (longitude -180..180, latitude -90..90)`);
  }
  return value.toJSON();
}

/** Why this value cannot be written where it is. */
export function notAValue(value: unknown, at: string): Error {
  if (value instanceof UnsupportedValue) return unsupported(`${at}: ${value.message}`);
  if (value instanceof Command) {
    return invalidArgument(
      `${at}: _.${value.name}() is a command, for where() or update({ data }), not a value`,
    );
  }
  if (value instanceof AggregateOperator) {
    return invalidArgument(
      `${at}: $.${value.name}() is an aggregation operator, for aggregate()'s stages, not a value`,
    );
  }
  if (value instanceof RegExp || value instanceof DbRegExp) {
    return invalidArgument(`${at}: a regular expression matches in where(); it is not a value`);
  }
  if (value === undefined) return invalidArgument(`${at} is undefined`);
  const kind = value !== null && typeof value === "object" ? value.constructor?.name : typeof value;
  return invalidArgument(`${at}: a ${kind ?? "object"} is not a JSON value`);
}
