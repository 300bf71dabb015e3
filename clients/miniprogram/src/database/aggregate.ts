/** `db.collection(name).aggregate()`: a pipeline of stages over the records the user may list,
 * as CloudBase's `Aggregate`, run by `end()`:
 *
 *     const $ = db.command.aggregate
 *     const { list } = await db.collection('orders').aggregate()
 *       .match({ status: 'paid' })
 *       .group({ _id: '$buyer', spent: $.sum('$amount'), orders: $.sum(1) })
 *       .sort({ spent: -1 }).limit(10)
 *       .end()
 *
 * Pipelines are values, like queries: each stage answers a new pipeline and leaves this one as
 * it was. Nothing is checked or sent until `end()`; a mistake found then rejects it before any
 * request. The server applies the collection's list rule first (and each lookup's collection's
 * to what it brings in), so a user aggregates only what they could list.
 */
import type { Caller } from "../caller";
import { invalidArgument, unsupported } from "../errors";
import { aggregatePath } from "./paths";
import { type Stage, toPipeline } from "./pipeline";
import type { AnyFields } from "./types";
import { isPlainObject } from "./values";

/** What `end()` answers, as in CloudBase: the documents the pipeline makes. */
export interface AggregateResult<R> {
  list: R[];
}

/** `group({ _id: key, output: $.sum(...), ... })` */
export interface GroupSpec {
  /** the key to group by: `'$status'`, an object of expressions, or null for one group */
  _id: unknown;
  [output: string]: unknown;
}

/** `unwind({ path, includeArrayIndex, preserveNullAndEmptyArrays })` */
export interface UnwindOptions {
  /** the array field, with its $: `'$tags'` */
  path: string;
  /** a field to hold each item's index */
  includeArrayIndex?: string;
  /** keep documents whose array is empty, null or missing (without the field) */
  preserveNullAndEmptyArrays?: boolean;
}

/** `lookup({ from, localField, foreignField, as })` */
export interface LookupOptions {
  /** the collection to join, through its list rule */
  from: string;
  /** the field of this document (no $), a string, number or boolean */
  localField: string;
  /** the field of `from`'s records equal to it */
  foreignField: string;
  /** the field that holds the matching records, a list in `_id` order */
  as: string;
}

export class Aggregate<R = AnyFields> {
  constructor(
    private readonly caller: Caller,
    private readonly collection: string,
    private readonly stages: readonly Stage[] = [],
  ) {}

  /** Keep the documents matching the condition: what where() takes (db.command commands,
   * nested objects, regexes, `_.or([...])`). First in the pipeline, it uses the indexes. */
  match(condition: object): Aggregate<R> {
    return this.with("match", condition);
  }

  /** One document per distinct `_id`, with accumulated outputs:
   * `group({ _id: '$status', total: $.sum('$amount'), orders: $.count() })`. */
  group(spec: GroupSpec): Aggregate<R> {
    return this.with("group", spec);
  }

  /** Sort by fields, 1 ascending or -1 descending, then by the next: `sort({ spent: -1 })`. */
  sort(spec: Record<string, 1 | -1>): Aggregate<R> {
    return this.with("sort", spec);
  }

  /** Leave out the first n documents. */
  skip(n: number): Aggregate<R> {
    return this.with("skip", n);
  }

  /** At most n documents. */
  limit(n: number): Aggregate<R> {
    return this.with("limit", n);
  }

  /** Keep fields (`{ title: 1 }`, `_id` too unless `_id: 0`) and compute new ones
   * (`{ total: $.multiply(['$price', '$qty']) }`), or remove fields (`{ body: 0 }`). */
  project(spec: Record<string, unknown>): Aggregate<R> {
    return this.with("project", spec);
  }

  /** One document per item of an array field: `unwind('$tags')`, or with options. */
  unwind(path: string | UnwindOptions): Aggregate<R> {
    return this.with("unwind", path);
  }

  /** One document `{ [name]: how many came }` (none when none came). */
  count(name: string): Aggregate<R> {
    return this.with("count", name);
  }

  /** Join another collection: the records of `from` whose `foreignField` equals this
   * document's `localField`, as a list in the field `as`. */
  lookup(options: LookupOptions): Aggregate<R> {
    return this.with("lookup", options);
  }

  /** @deprecated minibase has no $addFields (project() keeps and computes fields): `end()`
   * fails with client.unsupported */
  addFields(spec: object): Aggregate<R> {
    return this.with("addFields", spec);
  }

  /** @deprecated minibase has no $bucket (group() by a computed key): `end()` fails with
   * client.unsupported */
  bucket(spec: object): Aggregate<R> {
    return this.with("bucket", spec);
  }

  /** @deprecated minibase has no $bucketAuto: `end()` fails with client.unsupported */
  bucketAuto(spec: object): Aggregate<R> {
    return this.with("bucketAuto", spec);
  }

  /** @deprecated minibase has no geo queries: `end()` fails with client.unsupported */
  geoNear(options: object): Aggregate<R> {
    return this.with("geoNear", options);
  }

  /** @deprecated minibase has no $replaceRoot: `end()` fails with client.unsupported */
  replaceRoot(spec: object): Aggregate<R> {
    return this.with("replaceRoot", spec);
  }

  /** @deprecated minibase has no $sample: `end()` fails with client.unsupported */
  sample(options: { size: number }): Aggregate<R> {
    return this.with("sample", options);
  }

  /** @deprecated minibase has no $sortByCount (group() with $.sum(1), then sort()): `end()`
   * fails with client.unsupported */
  sortByCount(expression: unknown): Aggregate<R> {
    return this.with("sortByCount", expression);
  }

  /** Run the pipeline: `{ list }`, the documents it makes (at most the server's
   * aggregate_max_results, 1000 by default: more is `aggregate.too_large`, so end with limit()).
   * Rejects with MinibaseError `aggregate.invalid_pipeline` (`details.at` names the place,
   * `pipeline.<stage from 0>...`), `aggregate.too_slow`, `aggregate.too_large`, or
   * `aggregate.out_of_range`. */
  async end(): Promise<AggregateResult<R>> {
    // CloudBase's end({ success, fail }), from JavaScript
    if (arguments.length) endOptions(arguments[0]);
    const path = aggregatePath(this.collection);
    const pipeline = toPipeline(this.stages);
    // an aggregation reads: retried on a network failure like a GET
    const answer = await this.caller.call<{ items: R[] }>("POST", path, {
      body: { pipeline },
      retry: true,
    });
    return { list: answer.items };
  }

  private with(name: string, spec: unknown): Aggregate<R> {
    return new Aggregate<R>(this.caller, this.collection, [...this.stages, { name, spec }]);
  }
}

function endOptions(options: unknown): never {
  if (isPlainObject(options) && ["success", "fail", "complete"].some((key) => key in options)) {
    throw unsupported("end(): minibase answers with a promise, not callbacks: await it");
  }
  throw invalidArgument("end() takes nothing");
}
