/** `db.collection(name).doc(id)`: one record, read, replaced, updated or removed. */
import type { Caller } from "../caller";
import { invalidArgument, unsupported } from "../errors";
import type { WatchOptions, Watcher, Watching } from "../realtime/types";
import { expandList, expandPaths, fieldList, isNotFound, optionsOf, recordsPath } from "./paths";
import type {
  AnyFields,
  GetResult,
  Projection,
  Read,
  RemoveResult,
  SetResult,
  Stored,
  UpdateResult,
  WriteOptions,
} from "./types";
import { guard, toRecord, toUpdate } from "./update";

/** What `get()` answers of the record: `field()` and `expand()`. */
interface DocumentView {
  readonly projection?: Projection;
  readonly expand?: readonly unknown[];
}

export class DocumentReference<T = AnyFields> {
  constructor(
    private readonly caller: Caller,
    private readonly collection: string,
    readonly id: string,
    private readonly view: DocumentView = {},
    private readonly watching?: Watching,
  ) {}

  /** Answer only these fields (and `_id`, and `_expand`): `.field({ title: true }).get()`. */
  field(projection: Projection): DocumentReference<T> {
    return this.with({ projection });
  }

  /** Bring the records these paths lead to under `_expand`, as a query's expand():
   * `.expand('author', 'comments_via_post.author').get()`. For get() only: writes answer the
   * record alone. */
  expand(...paths: (string | readonly string[])[]): DocumentReference<T> {
    return this.with({ expand: expandPaths(paths) });
  }

  private with(change: DocumentView): DocumentReference<T> {
    const view = { ...this.view, ...change };
    return new DocumentReference<T>(this.caller, this.collection, this.id, view, this.watching);
  }

  /** Watch this record, as CloudBase's `doc(id).watch()`: `onChange` gets the snapshot first
   * (`docs` holds the record, or nothing when it is not there or hidden from the user), then
   * each change as it commits: created, updated, removed. Answers `{ close() }`. */
  watch(options: WatchOptions<Stored<T>>): Watcher {
    if (!options || typeof options.onChange !== "function" || typeof options.onError !== "function") {
      throw invalidArgument("watch({ onChange, onError }) takes both listeners");
    }
    if (this.view.projection !== undefined) {
      throw unsupported("watch() answers whole records: no field(), as in CloudBase");
    }
    if (this.view.expand !== undefined) {
      throw unsupported(
        "watch() does not expand: its snapshots carry the record alone; get() it with expand()",
      );
    }
    if (!this.watching) throw unsupported("watch() needs the app's socket: app.database()");
    const query = { collection: this.collection, filter: { _id: this.id }, orders: [], limit: 1 };
    return this.watching.watch(query, options);
  }

  /** `{ data: record }`; MinibaseError `records.not_found` when no record has this id or the
   * read rule hides it. */
  async get(): Promise<GetResult<T>> {
    const path = recordsPath(this.collection, this.id);
    const fields = fieldList(this.view.projection);
    const expand = expandList(this.view.expand);
    const data = await this.caller.call<Read<T>>("GET", path, { query: { fields, expand } });
    return { data };
  }

  /** Replace the record's fields with `data` (fields left out are removed), or create it with
   * this id when there is none, as CloudBase's set does. With `data._version`, only that
   * version is replaced (else `records.version_conflict`) and nothing is created. */
  async set(options: WriteOptions): Promise<SetResult<T>> {
    const path = recordsPath(this.collection, this.id);
    const { data: fields } = optionsOf(options, "set()", ["data"]);
    const body = toRecord(fields, { at: "set().data", allow: ["_version"] });
    if (body._version !== undefined) guard(body._version, "set().data._version");
    try {
      const data = await this.caller.call<Stored<T>>("PUT", path, { body });
      return { _id: this.id, stats: { created: 0, updated: 1 }, data };
    } catch (error) {
      // no record with this id: create it (one the user may not see answers records.exists)
      if (!isNotFound(error) || body._version !== undefined) throw error;
    }
    const data = await this.caller.call<Stored<T>>("POST", recordsPath(this.collection), {
      body: { ...body, _id: this.id },
    });
    return { _id: this.id, stats: { created: 1, updated: 0 }, data };
  }

  /** Change the fields `data` names, with `_.inc`, `_.push`, `_.remove` ... (see
   * `db.command`); nested objects change only the fields they name. `data._version` refuses
   * the update if the record changed since (`records.version_conflict`). A record that is not
   * there (or hidden from the user) answers `stats.updated` 0, as in CloudBase. */
  async update(options: WriteOptions): Promise<UpdateResult<T>> {
    const path = recordsPath(this.collection, this.id);
    const { data: fields } = optionsOf(options, "update()", ["data"]);
    const { update, version } = toUpdate(fields, { at: "update()", guard: true });
    const body = version === undefined ? update : { ...update, _version: version };
    try {
      const data = await this.caller.call<Stored<T>>("PATCH", path, { body });
      return { stats: { updated: 1 }, data };
    } catch (error) {
      if (isNotFound(error)) return { stats: { updated: 0 } };
      throw error;
    }
  }

  /** Delete the record: `stats.removed` 1, or 0 when it is not there (as in CloudBase). With
   * `{ _version }`, only that version is deleted (else `records.version_conflict`). */
  async remove(options?: { _version?: number }): Promise<RemoveResult> {
    const path = recordsPath(this.collection, this.id);
    const { _version: version } = optionsOf(options ?? {}, "remove()", ["_version"]);
    const guarded = version === undefined ? undefined : guard(version, "remove()._version");
    try {
      const sent = guarded === undefined ? {} : { headers: { "if-match": `"${guarded}"` } };
      await this.caller.call("DELETE", path, sent);
      return { stats: { removed: 1 } };
    } catch (error) {
      if (isNotFound(error)) return { stats: { removed: 0 } };
      throw error;
    }
  }
}
