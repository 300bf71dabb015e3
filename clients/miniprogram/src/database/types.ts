/** What the data API answers: CloudBase's shapes (`{ data }`, `{ _id }`, `{ stats }`), with
 * what minibase adds (the record after a write, the next page's cursor). */

/** The fields the server sets on every record. */
export interface SystemFields {
  _id: string;
  /** the id of the user who created the record (what CloudBase calls _openid), or null */
  _owner: string | null;
  /** ISO-8601 UTC times */
  _created: string;
  _updated: string;
  /** 1, then +1 per change: send it back with a write to refuse it if someone changed the
   * record in between (MinibaseError `records.version_conflict`) */
  _version: number;
}

/** A record as the server keeps it. */
export type Stored<T> = T & SystemFields;

/** A record as `get()` answers it: with `_expand` when the query or the doc named paths in
 * `expand(...)` and the server found records there (an entry per path that brought
 * something: a record for a reference, a list for a back-relation or an array of references;
 * the records under it carry their own `_expand` for the next steps). */
export type Read<T> = Stored<T> & { _expand?: Record<string, unknown> };

/** Any record. */
export type AnyFields = Record<string, unknown>;

/** One page of `get()`. */
export interface Page<T> {
  data: Read<T>[];
  /** where the next page starts: `query.after(page.nextCursor).get()`; null on the last page */
  nextCursor: string | null;
  /** the next page, with the same where, orderBy, limit and field; null after the last
   * (not enumerable: the page stays plain data) */
  next(): Promise<Page<T> | null>;
}

export interface CountResult {
  /** how many records match (those the list rule lets the user see) */
  total: number;
}

export interface GetResult<T> {
  data: Read<T>;
}

export interface AddResult<T> {
  _id: string;
  /** the record as created */
  data: Stored<T>;
}

export interface AddManyResult<T> {
  _ids: string[];
  data: Stored<T>[];
}

export interface SetResult<T> {
  _id: string;
  /** created 1 when no record had this id, else updated 1 */
  stats: { created: number; updated: number };
  data: Stored<T>;
}

export interface UpdateResult<T> {
  /** updated 0 when no record has this id (or the user may not see it), as in CloudBase */
  stats: { updated: number };
  /** the record after the update (when there was one) */
  data?: Stored<T>;
}

export interface RemoveResult {
  stats: { removed: number };
}

export interface BulkUpdateResult {
  /** matched: records the filter found that the user may see; skipped: those of them the
   * update rule refused */
  stats: { updated: number; matched: number; skipped: number };
}

/** `field({ title: true, 'author.name': true })`: the fields to answer (`_id` always). */
export type Projection = Record<string, boolean | 1 | 0>;

/** The options of a write: `{ data }`, as in CloudBase. */
export interface WriteOptions<D = AnyFields> {
  data: D;
}
