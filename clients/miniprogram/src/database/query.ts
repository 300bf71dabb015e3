/** A query on a collection: `where`, `orderBy`, `limit`, `field`, then `get()` a page,
 * `count()`, or change every match with `update()` / `remove()`.
 *
 * Queries are values: each method answers a new query and leaves this one as it was, so one
 * query can be kept on a page and asked again. Nothing is checked or sent until `get`,
 * `count`, `update` or `remove`; a mistake found then rejects that call before any request.
 *
 * Paging is by cursor, never by offset (pages stay right while records are added or removed):
 *
 *     const posts = db.collection('posts').where({ status: 'published' }).orderBy('score', 'desc')
 *     let page = await posts.get()                                // { data, nextCursor }
 *     while (page.nextCursor) page = await posts.after(page.nextCursor).get()
 *     // or: for (let p = await posts.get(); p; p = await p.next()) ...
 */
import type { Caller, QueryValue } from "../caller";
import { invalidArgument, unsupported } from "../errors";
import type { WatchOptions, WatchQuery, Watcher, Watching } from "../realtime/types";
import { type Filter, toFilter } from "./filter";
import { expandList, expandPaths, fieldList, optionsOf, recordsPath } from "./paths";
import type {
  AnyFields,
  BulkUpdateResult,
  CountResult,
  Page,
  Projection,
  Read,
  RemoveResult,
  Stored,
  WriteOptions,
} from "./types";
import { toUpdate } from "./update";

export type SortOrder = "asc" | "desc";

interface QueryState {
  readonly where?: { readonly condition: unknown };
  readonly orders: readonly (readonly [unknown, unknown])[];
  readonly limit?: unknown;
  readonly skip?: unknown;
  readonly projection?: unknown;
  readonly expand?: readonly unknown[];
  readonly cursor?: unknown;
  /** a misuse noticed while building, reported when the query runs */
  readonly mistake?: string;
}

interface ListAnswer<T> {
  items: Read<T>[];
  next_cursor: string | null;
  total?: number;
}

export class Query<T = AnyFields> {
  constructor(
    protected readonly caller: Caller,
    protected readonly collection: string,
    private readonly state: QueryState = { orders: [] },
    protected readonly watching?: Watching,
  ) {}

  /** The records matching the condition: fields with values or `db.command` commands, nested
   * objects, regexes (`/^re/i` or `db.RegExp`), or `_.or([...])` / `_.and` / `_.nor` of
   * such objects, and `_.search('拿铁')` (a text search, most relevant first without
   * orderBy). Call it once per query; combine conditions with `_.and`. */
  where(condition: object): Query<T> {
    if (this.state.where) {
      return this.with({ mistake: "where() is called once: combine conditions with _.and" });
    }
    return this.with({ where: { condition } });
  }

  /** Sort by a field (dotted paths reach into objects), then by the next orderBy; `_id` breaks
   * ties. The server takes up to four. */
  orderBy(field: string, order: SortOrder): Query<T> {
    return this.with({ orders: [...this.state.orders, [field, order]] });
  }

  /** At most n records a page (1 to the server's list_max_limit, 100 by default; 20 if not
   * given). */
  limit(n: number): Query<T> {
    return this.with({ limit: n });
  }

  /** @deprecated minibase pages with cursors, not offsets: `get()` answers `nextCursor`, and
   * `after(nextCursor)` starts the next page. Fails with client.unsupported. */
  skip(n: number): Query<T> {
    return this.with({ skip: n });
  }

  /** Answer only these fields of each record (and `_id`): `field({ title: true })`. */
  field(projection: Projection): Query<T> {
    return this.with({ projection });
  }

  /** Bring the records these paths lead to under each record's `_expand`: reference fields
   * (`'author'`) and back-relations (`'comments_via_post'`, the comments whose `post` is this
   * record), steps joined by dots (`'comments_via_post.author'`); as arguments or one array.
   * The rules apply to every record brought: one the user may not see is left out. The last
   * expand() of a query counts. Pages after `next()` and `after(cursor)` expand the same. */
  expand(...paths: (string | readonly string[])[]): Query<T> {
    return this.with({ expand: expandPaths(paths) });
  }

  /** The page after the one that answered this cursor (its `nextCursor`), with the same
   * where and orderBy. */
  after(cursor: string): Query<T> {
    return this.with({ cursor });
  }

  /** One page: `{ data, nextCursor }` (null on the last page). */
  async get(): Promise<Page<T>> {
    const filter = this.filter();
    const state = this.state;
    const query: Record<string, QueryValue> = {
      filter: json(filter),
      sort: sortParam(state.orders),
      fields: fieldList(state.projection),
      expand: expandList(state.expand),
      limit: limitParam(state.limit),
      cursor: cursorParam(state.cursor),
    };
    const page = await this.caller.call<ListAnswer<T>>("GET", recordsPath(this.collection), {
      query,
    });
    const nextCursor = page.next_cursor;
    const answer = { data: page.items, nextCursor } as Page<T>;
    Object.defineProperty(answer, "next", {
      value: () => (nextCursor ? this.after(nextCursor).get() : Promise.resolve(null)),
    });
    return answer;
  }

  /** How many records match: `{ total }`. */
  async count(): Promise<CountResult> {
    const query = { filter: json(this.filter()), count: true, limit: 1, fields: "_id" };
    const page = await this.caller.call<ListAnswer<T>>("GET", recordsPath(this.collection), {
      query,
    });
    return { total: page.total ?? 0 };
  }

  /** Change every record matching where() (that the user may see) with the same `data` as a
   * record's update(); all or nothing, up to the server's bulk_max_records. Records whose
   * update rule refuses the change are skipped and counted. */
  async update(options: WriteOptions): Promise<BulkUpdateResult> {
    const filter = this.bulkFilter("update()");
    const { data } = optionsOf(options, "update()", ["data"]);
    const { update } = toUpdate(data, { at: "update()", guard: false });
    const counts = await this.caller.call<{ matched: number; updated: number; skipped: number }>(
      "POST",
      `${recordsPath(this.collection)}/bulk-update`,
      { body: { filter, update } },
    );
    return { stats: { updated: counts.updated, matched: counts.matched, skipped: counts.skipped } };
  }

  /** Delete every record matching where() that the user may delete; all or nothing, up to the
   * server's bulk_max_records. */
  async remove(): Promise<RemoveResult> {
    const filter = this.bulkFilter("remove()");
    const counts = await this.caller.call<{ deleted: number }>(
      "POST",
      `${recordsPath(this.collection)}/bulk-delete`,
      { body: { filter } },
    );
    return { stats: { removed: counts.deleted } };
  }

  /** Watch the query: `onChange` gets a snapshot of its records (type "init"), then one per
   * change as it commits, with `docs` kept up to date; `onError` is told when the watch ends
   * (the server refused it). Answers `{ close() }`. As in CloudBase: where, orderBy and limit
   * (which bounds the first snapshot; records that join the query later are added), no field;
   * no expand either (client.unsupported): changes carry the records alone.
   * Every watch of the app shares one socket, which reconnects and resumes by itself. */
  watch(options: WatchOptions<Stored<T>>): Watcher {
    const { orders, limit, projection, expand, cursor } = this.state;
    if (!options || typeof options.onChange !== "function" || typeof options.onError !== "function") {
      throw invalidArgument("watch({ onChange, onError }) takes both listeners");
    }
    const filter = this.filter();
    if (projection !== undefined) {
      throw unsupported("watch() answers whole records: no field(), as in CloudBase");
    }
    if (expand !== undefined) {
      throw unsupported(
        "watch() does not expand: its snapshots carry the records alone; get() them with expand()",
      );
    }
    if (cursor !== undefined) throw invalidArgument("watch() starts from the first page: no after()");
    if (!this.watching) throw unsupported("watch() needs the app's socket: app.database()");
    const query: WatchQuery = {
      collection: this.collection,
      filter,
      sort: sortParam(orders),
      orders: orders.map(([field, order]) => [field as string, order as "asc" | "desc"] as const),
      limit: limitParam(limit),
    };
    return this.watching.watch(query, options);
  }

  private with(change: Partial<QueryState>): Query<T> {
    return new Query<T>(this.caller, this.collection, { ...this.state, ...change }, this.watching);
  }

  private filter(): Filter {
    const { mistake, skip, where } = this.state;
    if (mistake) throw invalidArgument(mistake);
    if (skip !== undefined) {
      throw unsupported(
        "skip(): minibase pages with cursors, not offsets: each get() answers nextCursor, " +
          "and after(nextCursor).get() answers the next page",
      );
    }
    return where ? toFilter(where.condition) : {};
  }

  private bulkFilter(at: string): Filter {
    const { orders, limit, projection, expand, cursor, where } = this.state;
    if (!where) {
      throw invalidArgument(`${at} changes the records where() names; where({}) names them all`);
    }
    const shaping = [limit, projection, expand, cursor].some((part) => part !== undefined);
    if (orders.length || shaping) {
      throw invalidArgument(
        `${at} acts on every record where() names: no orderBy, limit, field, expand or after`,
      );
    }
    return this.filter();
  }
}

function json(filter: Filter): string | undefined {
  return Object.keys(filter).length ? JSON.stringify(filter) : undefined;
}

function sortParam(orders: readonly (readonly [unknown, unknown])[]): string | undefined {
  if (!orders.length) return undefined;
  return orders
    .map(([field, order]) => {
      if (typeof field !== "string" || !field || /[,\s]|^[-+]/.test(field)) {
        throw invalidArgument(`orderBy(${JSON.stringify(field)}): name one field, e.g. "score"`);
      }
      if (order !== "asc" && order !== "desc") {
        throw invalidArgument(`orderBy("${field}", ${JSON.stringify(order)}): "asc" or "desc"`);
      }
      return order === "desc" ? `-${field}` : field;
    })
    .join(",");
}

function limitParam(limit: unknown): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw invalidArgument(`limit(${JSON.stringify(limit)}): a whole number from 1`);
  }
  return limit;
}

function cursorParam(cursor: unknown): string | undefined {
  if (cursor === undefined) return undefined;
  if (typeof cursor !== "string" || !cursor) {
    throw invalidArgument(
      "after(cursor) takes a page's nextCursor; a null nextCursor means there is no next page",
    );
  }
  return cursor;
}
