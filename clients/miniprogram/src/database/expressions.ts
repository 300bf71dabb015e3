/** Aggregation expressions and accumulators, CloudBase's way, into the server's JSON
 * (docs/data-api.md, Aggregation):
 *
 *     { day: $.dateToString({ date: '$paid_at', format: '%Y-%m-%d' }), status: '$status' }
 *     -> {"day": {"$dateToString": {"date": "$paid_at", "format": "%Y-%m-%d"}},
 *         "status": "$status"}
 *     $.sum(1) -> {"$sum": 1}        $.count() -> {"$count": {}}
 *
 * What the server has no counterpart for fails here with `client.unsupported`, and what is
 * malformed with `client.invalid_argument`, before any request.
 */
import { invalidArgument, unsupported } from "../errors";
import { Command } from "./commands";
import { AggregateOperator } from "./operators";
import { type Json, finite, isPlainObject, isoTime, notAValue, pathOf, toJson } from "./values";

const ACCUMULATORS = new Set(["sum", "avg", "min", "max", "push", "addToSet", "count"]);
const ARITHMETIC = new Set(["add", "subtract", "multiply", "divide"]);
const ACCUMULATING = "$.sum $.avg $.min $.max $.push $.addToSet $.count";
const SUPPORTED = "$.add $.subtract $.multiply $.divide $.dateToString $.literal";
const NO_ACCUMULATOR = new Set(["first", "last", "stdDevPop", "stdDevSamp"]);
const DATE_OPTIONS = ["date", "format", "timezone"];

/** A group() output: one accumulator, `$.sum('$amount')`. */
export function accumulator(value: unknown, at: string): Json {
  if (!(value instanceof AggregateOperator)) {
    const raw = isPlainObject(value) && Object.keys(value).find((key) => key.startsWith("$"));
    if (raw) throw rawOperator(raw, at);
    throw invalidArgument(`${at}: an output is an accumulator, e.g. $.sum('$amount')`);
  }
  const { name, operand } = value;
  const where = `${at}: $.${name}()`;
  if (name === "count") {
    if (operand !== undefined) throw invalidArgument(`${where} takes nothing`);
    return { $count: {} };
  }
  if (ACCUMULATORS.has(name)) return { [`$${name}`]: expression(operand, where) };
  if (NO_ACCUMULATOR.has(name)) {
    throw unsupported(`${where}: minibase's group() accumulates with ${ACCUMULATING}`);
  }
  throw invalidArgument(`${where} is not an accumulator: an output is one, e.g. $.sum('$amount')`);
}

/** A value a stage computes: `'$field'`, a constant, an operator, or an object of them. */
export function expression(value: unknown, at: string): Json {
  if (typeof value === "string") return fieldOrText(value, at);
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return finite(value, at);
  if (value instanceof Date) return isoTime(value, at);
  if (value instanceof AggregateOperator) return operator(value, at);
  if (Array.isArray(value)) {
    throw unsupported(`${at}: minibase takes no list of expressions here; $.literal([...]) is one`);
  }
  if (isPlainObject(value)) {
    const result: { [key: string]: Json } = {};
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith("$")) throw rawOperator(key, at);
      if (item !== undefined) result[key] = expression(item, pathOf(at, key));
    }
    return result;
  }
  if (value instanceof Command) {
    throw invalidArgument(`${at}: _.${value.name}() is a query command, for where() and match()`);
  }
  throw notAValue(value, at);
}

function fieldOrText(value: string, at: string): string {
  if (value.startsWith("$$")) {
    throw unsupported(`${at}: minibase has no variables such as ${value}; name fields: '$amount'`);
  }
  if (value === "$") throw invalidArgument(`${at}: '$' names no field; '$amount' names one`);
  return value;
}

function operator(op: AggregateOperator, at: string): Json {
  const { name, operand } = op;
  const where = `${at}: $.${name}()`;
  if (ARITHMETIC.has(name)) {
    const two = name === "subtract" || name === "divide";
    if (!Array.isArray(operand) || !operand.length || (two && operand.length !== 2)) {
      throw invalidArgument(`${where} takes a list of ${two ? "two " : ""}expressions`);
    }
    return { [`$${name}`]: operand.map((item, i) => expression(item, `${where}.${i}`)) };
  }
  if (name === "dateToString") return { $dateToString: dateToString(operand, where) };
  if (name === "literal") {
    if (operand === undefined) throw invalidArgument(`${where} takes a value`);
    return { $literal: toJson(operand, where) };
  }
  if (ACCUMULATORS.has(name)) {
    throw unsupported(`${where}: minibase accumulates in group() outputs only`);
  }
  throw unsupported(`${where}: minibase's expressions are ${SUPPORTED}`);
}

function dateToString(options: unknown, where: string): Json {
  if (!isPlainObject(options)) {
    throw invalidArgument(`${where} takes { date, format, timezone }`);
  }
  const result: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (key === "onNull") throw unsupported(`${where}: minibase has no onNull`);
    if (!DATE_OPTIONS.includes(key)) {
      throw invalidArgument(`${where} takes { date, format, timezone }, not ${key}`);
    }
    if (typeof value !== "string") {
      throw invalidArgument(`${where}: ${key} is a string, e.g. date: '$_created'`);
    }
    result[key] = value;
  }
  const date = result.date;
  if (typeof date !== "string" || !date.startsWith("$") || date.startsWith("$$")) {
    throw invalidArgument(`${where}: date names a record's time, e.g. '$_created'`);
  }
  return result;
}

function rawOperator(key: string, at: string) {
  return invalidArgument(
    `${at}: write operators with db.command.aggregate, e.g. $.sum('$amount'), not { ${key}: ... }`,
  );
}
