/** The data API in the shape CloudBase (wx.cloud) users know, on minibase's records API.
 *
 *     const db = app.database()
 *     const _ = db.command
 *     const { data, nextCursor } = await db.collection('posts')
 *       .where({ status: 'published', score: _.gte(5) })
 *       .orderBy('score', 'desc').limit(20).get()
 *     await db.collection('posts').doc(id).update({ data: { score: _.inc(1) } })
 *
 * Where minibase differs from CloudBase:
 * - pages are cursors: `get()` answers `nextCursor`, `after(nextCursor)` the next page; `skip`
 *   fails with client.unsupported;
 * - a field is compared with one value: `{ tags: 'x' }` matches a tags field equal to 'x', not
 *   an array holding it (use `_.all(['x'])`); comparing with an array or an object fails with
 *   client.unsupported;
 * - commands with no minibase operator (`_.mul`, `_.size`, geo queries, ...) fail with
 *   client.unsupported, as do success/fail callbacks: answers are promises;
 * - aggregate() has the stages and `db.command.aggregate` operators the server runs
 *   (docs/data-api.md, Aggregation); the others fail with client.unsupported, and its answer is
 *   every document the pipeline makes (up to the server's bound), not 20 by default;
 * - dates come back as ISO-8601 text, geo points as GeoJSON; records carry `_owner` (the user's
 *   id) instead of `_openid`, and `_version` for optimistic writes.
 * Whatever fails does so before any request is sent; so do mistakes in a call (a bad argument,
 * a command in the wrong place), with client.invalid_argument.
 */
import type { Caller } from "../caller";
import type { Watching } from "../realtime/types";
import { Collection } from "./collection";
import {
  type Constructible,
  type DatabaseCommand,
  DbRegExp,
  Geo,
  UnsupportedValue,
  command,
  constructible,
} from "./commands";

export { Aggregate } from "./aggregate";
export type { AggregateResult, GroupSpec, LookupOptions, UnwindOptions } from "./aggregate";
export { Collection } from "./collection";
export { Command, DbRegExp, GeoPoint } from "./commands";
export type { DatabaseCommand } from "./commands";
export { DocumentReference } from "./document";
export { AggregateOperator } from "./operators";
export type { AggregateCommand, AggregateExpression, DateToStringOptions } from "./operators";
export { Query } from "./query";
export type { SortOrder } from "./query";
export type * from "./types";

export interface Database {
  /** the query and update commands: `const _ = db.command`; the aggregation operators:
   * `const $ = db.command.aggregate` */
  readonly command: DatabaseCommand;
  /** `new db.Geo.Point(longitude, latitude)` for `geopoint` fields */
  readonly Geo: typeof Geo;
  /** a collection by name; `collection<Post>('posts')` types the records it answers */
  collection<T = Record<string, unknown>>(name: string): Collection<T>;
  /** a regular expression for where(), like `/pattern/i`; options: "i" or "" */
  readonly RegExp: Constructible<[init: { regexp: string; options?: string }], DbRegExp>;
  /** @deprecated minibase sets `_created` and `_updated` itself and has no server-date
   * value: a write holding one fails with client.unsupported */
  serverDate(options?: { offset?: number }): UnsupportedValue;
}

/** The data API; `watching` (the app's realtime socket) makes `watch()` work. */
export function database(caller: Caller, watching?: Watching): Database {
  return {
    command,
    Geo,
    collection: <T>(name: string) => new Collection<T>(caller, name, undefined, watching),
    RegExp: constructible((init: { regexp: string; options?: string }) => new DbRegExp(init)),
    serverDate: () =>
      new UnsupportedValue(
        "db.serverDate(): minibase sets _created and _updated on every write; " +
          "store a client time (new Date()) where another one is needed",
      ),
  };
}
