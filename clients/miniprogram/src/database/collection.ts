/** `db.collection(name)`: its records (a query over all of them), one of them by id, new
 * ones, and aggregations of them. */
import { invalidArgument } from "../errors";
import { Aggregate } from "./aggregate";
import { DocumentReference } from "./document";
import { optionsOf, recordsPath } from "./paths";
import { Query } from "./query";
import type { AddManyResult, AddResult, AnyFields, Stored, WriteOptions } from "./types";
import { toRecord } from "./update";

export class Collection<T = AnyFields> extends Query<T> {
  /** The collection's name. */
  get name(): string {
    return this.collection;
  }

  /** One record, by its `_id`. */
  doc(id: string): DocumentReference<T> {
    return new DocumentReference<T>(this.caller, this.collection, id, {}, this.watching);
  }

  /** A pipeline of stages over the records the user may list, as CloudBase's aggregate():
   * `.match(...).group(...).sort(...)`, then `end()` answers `{ list }`. `aggregate<R>()` types
   * the documents it makes. */
  aggregate<R = AnyFields>(): Aggregate<R> {
    return new Aggregate<R>(this.caller, this.collection);
  }

  /** Create a record: `{ _id, data }` (give `data._id` to choose the id). With a list of
   * records, create them all or none (bulk-create, up to the server's bulk_max_records):
   * `{ _ids, data }`. */
  add(options: WriteOptions<AnyFields>): Promise<AddResult<T>>;
  add(options: WriteOptions<AnyFields[]>): Promise<AddManyResult<T>>;
  async add(
    options: WriteOptions<AnyFields | AnyFields[]>,
  ): Promise<AddResult<T> | AddManyResult<T>> {
    const path = recordsPath(this.collection);
    const { data } = optionsOf(options, "add()", ["data"]);
    if (Array.isArray(data)) {
      if (!data.length) throw invalidArgument("add({ data: [] }): no record to add");
      const records = data.map((item, i) =>
        toRecord(item, { at: `add().data.${i}`, allow: ["_id"] }),
      );
      const answer = await this.caller.call<{ items: Stored<T>[] }>("POST", `${path}/bulk-create`, {
        body: { records },
      });
      return { _ids: answer.items.map((item) => item._id), data: answer.items };
    }
    const record = toRecord(data, { at: "add().data", allow: ["_id"] });
    const created = await this.caller.call<Stored<T>>("POST", path, { body: record });
    return { _id: created._id, data: created };
  }
}
