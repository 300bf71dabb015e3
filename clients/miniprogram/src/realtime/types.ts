/** What `watch()` hands to onChange, in CloudBase's shapes (Collection.watch's snapshot and
 * ChangeEvent). */
import type { MinibaseError } from "../errors";

/** What a change did to the watcher's list: CloudBase's QueueType. */
export type QueueType = "init" | "update" | "enqueue" | "dequeue";

/** What happened to the record: CloudBase's DataType. "add" is a record created into the
 * query, "update" one changed (into, within or out of it: queueType says which); "remove" a
 * record that left the query (deleted, changed out of the filter, or no longer visible to the
 * user: the server does not tell these apart). minibase has no "replace": a set() is an
 * update. */
export type DataType = "init" | "update" | "add" | "remove";

export interface ChangeEvent<T = Record<string, unknown>> {
  /** the change's event number (the snapshot's id) */
  id: number;
  queueType: QueueType;
  dataType: DataType;
  docId: string;
  /** the record after the change; for a dequeue, the record as the user last could see it */
  doc: T;
  /** an update of a record in the list: its top-level fields that changed, with their values */
  updatedFields?: Record<string, unknown>;
  /** an update of a record in the list: its top-level fields that are gone */
  removedFields?: string[];
}

export interface Snapshot<T = Record<string, unknown>> {
  /** the last event number this snapshot includes */
  id: number;
  /** what changed since the previous snapshot (every record, as "init", on an init snapshot) */
  docChanges: ChangeEvent<T>[];
  /** the query's records now, in its orderBy order (then by _id) */
  docs: T[];
  /** "init" on the first snapshot, and on a new one after the server could not resume */
  type?: "init";
}

export interface WatchOptions<T = Record<string, unknown>> {
  /** each snapshot: the first (type "init"), then one per change */
  onChange: (snapshot: Snapshot<T>) => void;
  /** the watch ended: the server refused it (its code: collections.not_found,
   * records.invalid_filter, auth.forbidden ...), or no user could be signed in */
  onError: (error: MinibaseError) => void;
}

/** A watch in progress. */
export interface Watcher {
  /** stop watching (the socket closes with the last watcher); resolves once stopped */
  close(): Promise<void>;
}

/** A query to watch, as the subscribe frame takes it, and its order for the local list. */
export interface WatchQuery {
  collection: string;
  filter: Record<string, unknown>;
  /** the list route's sort: "-score,title" */
  sort?: string;
  /** the same order, to keep the list in: [dotted path, "asc" | "desc"] */
  orders: ReadonlyArray<readonly [string, "asc" | "desc"]>;
  limit?: number;
}

/** What the data API watches through: the app's one realtime socket. */
export interface Watching {
  watch<T>(query: WatchQuery, options: WatchOptions<T>): Watcher;
}
