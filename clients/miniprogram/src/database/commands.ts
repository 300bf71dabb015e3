/** `db.command` (`const _ = db.command`): CloudBase's query and update commands, and its
 * aggregation operators (`const $ = db.command.aggregate`, in operators.ts).
 *
 * A command only records what was asked; `where()` and `update()` translate it into minibase's
 * filter and update operators when the request is about to be sent. A command minibase has no
 * operator for (marked `@deprecated` below, so editors strike it through) makes that call
 * reject with `client.unsupported` before anything is sent.
 */

import { aggregateCommand } from "./operators";

/** One CloudBase command and its operands, as written. */
export class Command {
  constructor(
    readonly name: string,
    readonly operands: readonly unknown[],
  ) {}

  // Chained query commands are and-ed with this one: `_.gt(1).lt(9)` is `_.and(_.gt(1), _.lt(9))`.
  eq(value: unknown): Command {
    return this.and(new Command("eq", [value]));
  }
  neq(value: unknown): Command {
    return this.and(new Command("neq", [value]));
  }
  gt(value: number | string | Date): Command {
    return this.and(new Command("gt", [value]));
  }
  gte(value: number | string | Date): Command {
    return this.and(new Command("gte", [value]));
  }
  lt(value: number | string | Date): Command {
    return this.and(new Command("lt", [value]));
  }
  lte(value: number | string | Date): Command {
    return this.and(new Command("lte", [value]));
  }
  in(values: unknown[]): Command {
    return this.and(new Command("in", [values]));
  }
  nin(values: unknown[]): Command {
    return this.and(new Command("nin", [values]));
  }
  exists(value = true): Command {
    return this.and(new Command("exists", [value]));
  }
  all(values: unknown[]): Command {
    return this.and(new Command("all", [values]));
  }
  /** @deprecated minibase has no $size: fails with client.unsupported */
  size(value: number): Command {
    return this.and(new Command("size", [value]));
  }
  /** @deprecated minibase has no $elemMatch: fails with client.unsupported */
  elemMatch(condition: unknown): Command {
    return this.and(new Command("elemMatch", [condition]));
  }
  /** @deprecated minibase has no $mod: fails with client.unsupported */
  mod(divisor: number, remainder: number): Command {
    return this.and(new Command("mod", [divisor, remainder]));
  }
  /** this and the given conditions */
  and(...conditions: unknown[]): Command {
    return new Command("and", [this, ...spread(conditions)]);
  }
  /** this or one of the given conditions */
  or(...conditions: unknown[]): Command {
    return new Command("or", [this, ...spread(conditions)]);
  }
  /** this, and none of the given conditions (as CloudBase chains it) */
  nor(...conditions: unknown[]): Command {
    return this.and(new Command("nor", spread(conditions)));
  }
}

/** `_.and([a, b])` and `_.and(a, b)` mean the same. */
function spread(conditions: unknown[]): unknown[] {
  return conditions.length === 1 && Array.isArray(conditions[0]) ? conditions[0] : conditions;
}

function make(name: string, ...operands: unknown[]): Command {
  return new Command(name, operands);
}

/** The `_` of `const _ = db.command`. */
export const command = {
  // -- query commands, for where() ------------------------------------------------------
  /** equal to a string, number, boolean, null or Date */
  eq: (value: unknown) => make("eq", value),
  /** not equal (also matches records without the field) */
  neq: (value: unknown) => make("neq", value),
  gt: (value: number | string | Date) => make("gt", value),
  gte: (value: number | string | Date) => make("gte", value),
  lt: (value: number | string | Date) => make("lt", value),
  lte: (value: number | string | Date) => make("lte", value),
  /** one of the values (scalars) */
  in: (values: unknown[]) => make("in", values),
  /** none of the values */
  nin: (values: unknown[]) => make("nin", values),
  /** the field is there (true, the default) or not (false) */
  exists: (value = true) => make("exists", value),
  /** an array field holding every one of the values; also how to ask "holds this element":
   * minibase compares `{ tags: 'x' }` with the whole field, never with its elements */
  all: (values: unknown[]) => make("all", values),
  /** records whose search-indexed fields hold the text (2 to 100 characters), on a collection
   * with a search index; beside other conditions with `_.and`:
   * `where(_.and([_.search('拿铁'), { price: _.lt(30) }]))`. Without orderBy, most relevant
   * first. */
  search: (text: string) => make("search", text),
  /** @deprecated minibase has no $size: fails with client.unsupported */
  size: (value: number) => make("size", value),
  /** @deprecated minibase has no $elemMatch: fails with client.unsupported */
  elemMatch: (condition: unknown) => make("elemMatch", condition),
  /** @deprecated minibase has no $mod: fails with client.unsupported */
  mod: (divisor: number, remainder: number) => make("mod", divisor, remainder),
  /** @deprecated minibase has no aggregation expressions: fails with client.unsupported */
  expr: (expression: unknown) => make("expr", expression),
  /** @deprecated minibase has no geo queries: fails with client.unsupported */
  geoNear: (options: unknown) => make("geoNear", options),
  /** @deprecated minibase has no geo queries: fails with client.unsupported */
  geoWithin: (options: unknown) => make("geoWithin", options),
  /** @deprecated minibase has no geo queries: fails with client.unsupported */
  geoIntersects: (options: unknown) => make("geoIntersects", options),

  // -- logic: on a field (`score: _.or(_.lt(1), _.gt(9))`) or on whole conditions
  // (`where(_.or([{ a: 1 }, { b: 2 }]))`); a list or several arguments -------------------
  and: (...conditions: unknown[]) => make("and", ...spread(conditions)),
  or: (...conditions: unknown[]) => make("or", ...spread(conditions)),
  /** none of the conditions holds (also true where the fields are missing) */
  nor: (...conditions: unknown[]) => make("nor", ...spread(conditions)),
  /** the condition does not hold: `score: _.not(_.gt(5))` */
  not: (condition: unknown) => make("not", condition),

  // -- update commands, for update({ data }) ----------------------------------------------
  /** set the field to this value, objects included (a plain object in update data only
   * changes the fields it names) */
  set: (value: unknown) => make("set", value),
  /** remove the field */
  remove: () => make("remove"),
  /** add to a number (negative to subtract), atomically */
  inc: (value: number) => make("inc", value),
  /** append to an array: one value, a list of values, or `{ each: [...] }` */
  push: (values: unknown) => make("push", values),
  /** remove from an array every element equal to the value, or in `_.in([...])` */
  pull: (value: unknown) => make("pull", value),
  /** remove from an array every element equal to one of the values */
  pullAll: (values: unknown[]) => make("pullAll", values),
  /** @deprecated minibase has no $mul: fails with client.unsupported */
  mul: (value: number) => make("mul", value),
  /** @deprecated minibase has no $min: fails with client.unsupported */
  min: (value: unknown) => make("min", value),
  /** @deprecated minibase has no $max: fails with client.unsupported */
  max: (value: unknown) => make("max", value),
  /** @deprecated minibase has no $rename: fails with client.unsupported */
  rename: (name: string) => make("rename", name),
  /** @deprecated minibase has no $pop: fails with client.unsupported */
  pop: () => make("pop"),
  /** @deprecated minibase has no $pop: fails with client.unsupported */
  shift: () => make("shift"),
  /** @deprecated minibase pushes only at the end: fails with client.unsupported */
  unshift: (values: unknown) => make("unshift", values),
  /** @deprecated minibase has no $addToSet: fails with client.unsupported */
  addToSet: (values: unknown) => make("addToSet", values),
  /** @deprecated minibase has no $bit: fails with client.unsupported */
  bit: (operation: unknown) => make("bit", operation),

  // -- aggregation operators, for aggregate()'s stages ---------------------------------------
  /** `const $ = db.command.aggregate`: `$.sum('$amount')`, `$.dateToString({ ... })` ... */
  aggregate: aggregateCommand,
};

export type DatabaseCommand = typeof command;

/** `db.RegExp({ regexp, options })`: a pattern for where(), like a JS RegExp literal. */
export class DbRegExp {
  readonly regexp: string;
  readonly options: string;

  constructor(init: { regexp: string; options?: string }) {
    this.regexp = init?.regexp;
    this.options = init?.options ?? "";
  }
}

/** `new db.Geo.Point(longitude, latitude)`: stored as GeoJSON, the shape of a `geopoint` field. */
export class GeoPoint {
  constructor(
    readonly longitude: number,
    readonly latitude: number,
  ) {}

  toJSON(): { type: "Point"; coordinates: [number, number] } {
    return { type: "Point", coordinates: [this.longitude, this.latitude] };
  }
}

/** A CloudBase value minibase cannot store (serverDate, geo shapes other than a point): a
 * write or query holding one rejects with client.unsupported and this message. */
export class UnsupportedValue {
  constructor(readonly message: string) {}
}

/** A function CloudBase code calls with or without `new`: `new db.Geo.Point(1, 2)`,
 * `db.RegExp({ regexp })`. */
export interface Constructible<A extends unknown[], R> {
  (...args: A): R;
  new (...args: A): R;
}

export function constructible<A extends unknown[], R>(
  make: (...args: A) => R,
): Constructible<A, R> {
  // a plain function may be called with new; what it returns is then the new object
  return function (...args: A) {
    return make(...args);
  } as Constructible<A, R>;
}

function unsupportedShape(name: string): Constructible<unknown[], UnsupportedValue> {
  return constructible(
    () => new UnsupportedValue(`db.Geo.${name}: minibase stores only points (geopoint fields)`),
  );
}

export const Geo = {
  /** `new db.Geo.Point(longitude, latitude)` */
  Point: constructible((longitude: number, latitude: number) => new GeoPoint(longitude, latitude)),
  /** @deprecated minibase stores only points: fails with client.unsupported */
  LineString: unsupportedShape("LineString"),
  /** @deprecated minibase stores only points: fails with client.unsupported */
  Polygon: unsupportedShape("Polygon"),
  /** @deprecated minibase stores only points: fails with client.unsupported */
  MultiPoint: unsupportedShape("MultiPoint"),
  /** @deprecated minibase stores only points: fails with client.unsupported */
  MultiLineString: unsupportedShape("MultiLineString"),
  /** @deprecated minibase stores only points: fails with client.unsupported */
  MultiPolygon: unsupportedShape("MultiPolygon"),
};
