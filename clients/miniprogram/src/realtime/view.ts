/** One watcher's list: the records its query matches now, kept from the server's snapshot and
 * changes, in the query's order where the client can tell it (the server's order of values of
 * different types may differ); and the CloudBase change events each step makes. */
import type { ChangeEvent, WatchQuery } from "./types";

type Doc = Record<string, unknown> & { _id: string };
type Order = WatchQuery["orders"];

export class View {
  private docs: Doc[] = [];

  constructor(private readonly orders: Order) {}

  /** A new snapshot replaces the list: every record is an "init" change. */
  reset(docs: Doc[], event: number): ChangeEvent<Doc>[] {
    this.docs = docs.slice();
    this.sort();
    return this.docs.map((doc) => ({
      id: event,
      queueType: "init",
      dataType: "init",
      docId: doc._id,
      doc,
    }));
  }

  /** The server's change ("add", "update" or "remove" of the query's list) applied; `action`
   * is the write behind it (create, update, delete), as CloudBase's dataType tells it. */
  apply(change: string, doc: Doc, event: number, action?: string): ChangeEvent<Doc> {
    const at = this.docs.findIndex((held) => held._id === doc._id);
    const before = at >= 0 ? this.docs[at] : undefined;
    if (at >= 0) this.docs.splice(at, 1);
    const base = { id: event, docId: doc._id, doc };
    if (change === "remove") {
      // deleted, or changed out of the query (an update that leaves the list)
      const deleted = action === undefined || action === "delete";
      return { ...base, queueType: "dequeue", dataType: deleted ? "remove" : "update" };
    }
    this.docs.push(doc);
    this.sort();
    if (change === "add") {
      // created, or changed into the query (an update that joins the list)
      const created = action === undefined ? doc._version === 1 || doc._version === undefined : action === "create";
      return { ...base, queueType: "enqueue", dataType: created ? "add" : "update" };
    }
    const event_: ChangeEvent<Doc> = { ...base, queueType: "update", dataType: "update" };
    if (before) Object.assign(event_, fieldChanges(before, doc));
    return event_;
  }

  /** The list now (a copy: the app may keep or change it). */
  list(): Doc[] {
    return this.docs.slice();
  }

  private sort(): void {
    const orders = this.orders;
    // _id breaks ties, in the last key's direction (as the server's list does)
    const last = orders.length ? orders[orders.length - 1][1] : "asc";
    const keys: Order = orders.some(([path]) => path === "_id") ? orders : [...orders, ["_id", last]];
    this.docs.sort((a, b) => {
      for (const [path, direction] of keys) {
        const order = compare(valueAt(a, path), valueAt(b, path));
        if (order) return direction === "desc" ? -order : order;
      }
      return 0;
    });
  }
}

function valueAt(doc: Doc, path: string): unknown {
  let value: unknown = doc;
  for (const segment of path.split(".")) {
    if (!value || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** Missing and null first, then numbers (booleans as 0 and 1), then text, then the rest. */
function compare(a: unknown, b: unknown): number {
  const [rankA, valueA] = ranked(a);
  const [rankB, valueB] = ranked(b);
  if (rankA !== rankB) return rankA - rankB;
  if (valueA < valueB) return -1;
  return valueA > valueB ? 1 : 0;
}

function ranked(value: unknown): [number, number | string] {
  if (value === undefined || value === null) return [0, 0];
  if (typeof value === "boolean") return [1, value ? 1 : 0];
  if (typeof value === "number") return [1, value];
  if (typeof value === "string") return [2, value];
  return [3, JSON.stringify(value)];
}

/** CloudBase's updatedFields and removedFields, at the top level of the record. */
function fieldChanges(
  before: Doc,
  after: Doc,
): { updatedFields: Record<string, unknown>; removedFields: string[] } {
  const updatedFields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(after)) {
    if (JSON.stringify(before[name]) !== JSON.stringify(value)) updatedFields[name] = value;
  }
  const removedFields = Object.keys(before).filter((name) => !(name in after));
  return { updatedFields, removedFields };
}
