/** `db.command.aggregate` (`const $ = db.command.aggregate`): CloudBase's aggregation operators,
 * for the stages of `aggregate()`.
 *
 *     .group({ _id: '$status', sales: $.sum('$amount'), orders: $.sum(1) })
 *     .project({ total: $.multiply(['$price', '$qty']) })
 *
 * An operator only records what was asked; `end()` translates it into the server's JSON
 * (`{"$sum": "$amount"}`) when the pipeline is about to be sent. An operator minibase has no
 * counterpart for (marked `@deprecated` below, so editors strike it through) makes `end()`
 * reject with `client.unsupported` before anything is sent.
 */

/** One CloudBase aggregation operator and its operand, as written. */
export class AggregateOperator {
  constructor(
    readonly name: string,
    readonly operand: unknown,
  ) {}
}

/** An expression: `'$field.path'`, a value, `$.add([...])` and the like, or an object of them. */
export type AggregateExpression = unknown;

/** `$.dateToString({ date, format, timezone })` */
export interface DateToStringOptions {
  /** a record's time, before any stage reshapes the documents: `'$_created'`, `'$paid_at'` */
  date: string;
  /** `%Y %m %d %H %M %S` and `%%`; ISO-8601 in UTC (`%Y-%m-%dT%H:%M:%SZ`) if left out */
  format?: string;
  /** an IANA name (`'Asia/Shanghai'`, daylight saving time known) or an offset (`'+08:00'`);
   * UTC if left out */
  timezone?: string;
}

type OfOne = (expression: AggregateExpression) => AggregateOperator;
type OfList = (expressions: AggregateExpression[]) => AggregateOperator;
type OfTwo = (expressions: [AggregateExpression, AggregateExpression]) => AggregateOperator;

function make(name: string) {
  return (operand?: unknown) => new AggregateOperator(name, operand);
}

/** The `$` of `const $ = db.command.aggregate`. */
export const aggregateCommand = {
  // -- accumulators, for group() outputs -----------------------------------------------
  /** the sum of the numbers (`$.sum('$amount')`), or 1 a record to count them (`$.sum(1)`) */
  sum: make("sum") as OfOne,
  /** the average of the numbers; null when there are none */
  avg: make("avg") as OfOne,
  /** the least of the numbers and strings (numbers first) */
  min: make("min") as OfOne,
  /** the greatest of the numbers and strings (strings last) */
  max: make("max") as OfOne,
  /** every value, in the order the records came */
  push: make("push") as OfOne,
  /** the distinct values, in no order */
  addToSet: make("addToSet") as OfOne,
  /** how many records the group has (minibase's `{"$count": {}}`; `$.sum(1)` counts too) */
  count: make("count") as () => AggregateOperator,

  // -- expressions, wherever a stage takes a value (group's _id, project) ----------------
  /** the sum of the numbers: `$.add(['$price', '$shipping'])`; null if one is not a number */
  add: make("add") as OfList,
  /** the first number less the second: `$.subtract(['$price', '$discount'])` */
  subtract: make("subtract") as OfTwo,
  /** the product of the numbers: `$.multiply(['$price', '$qty'])` */
  multiply: make("multiply") as OfList,
  /** the first number divided by the second; null on division by zero */
  divide: make("divide") as OfTwo,
  /** a record's time as text in a time zone: `$.dateToString({ date: '$_created',
   * format: '%Y-%m-%d', timezone: 'Asia/Shanghai' })` */
  dateToString: make("dateToString") as (options: DateToStringOptions) => AggregateOperator,
  /** the value as it is, even a string starting with `$` or a list: `$.literal('$1')` */
  literal: make("literal") as (value: unknown) => AggregateOperator,

  // -- what minibase has no counterpart for ----------------------------------------------
  /** @deprecated minibase's group() has no $first: fails with client.unsupported */
  first: make("first"),
  /** @deprecated minibase's group() has no $last: fails with client.unsupported */
  last: make("last"),
  /** @deprecated minibase's group() has no $stdDevPop: fails with client.unsupported */
  stdDevPop: make("stdDevPop"),
  /** @deprecated minibase's group() has no $stdDevSamp: fails with client.unsupported */
  stdDevSamp: make("stdDevSamp"),
  /** @deprecated minibase has no $abs expression: fails with client.unsupported */
  abs: make("abs"),
  /** @deprecated minibase has no $ceil expression: fails with client.unsupported */
  ceil: make("ceil"),
  /** @deprecated minibase has no $exp expression: fails with client.unsupported */
  exp: make("exp"),
  /** @deprecated minibase has no $floor expression: fails with client.unsupported */
  floor: make("floor"),
  /** @deprecated minibase has no $ln expression: fails with client.unsupported */
  ln: make("ln"),
  /** @deprecated minibase has no $log expression: fails with client.unsupported */
  log: make("log"),
  /** @deprecated minibase has no $log10 expression: fails with client.unsupported */
  log10: make("log10"),
  /** @deprecated minibase has no $mod expression: fails with client.unsupported */
  mod: make("mod"),
  /** @deprecated minibase has no $pow expression: fails with client.unsupported */
  pow: make("pow"),
  /** @deprecated minibase has no $sqrt expression: fails with client.unsupported */
  sqrt: make("sqrt"),
  /** @deprecated minibase has no $trunc expression: fails with client.unsupported */
  trunc: make("trunc"),
  /** @deprecated minibase has no $arrayElemAt expression: fails with client.unsupported */
  arrayElemAt: make("arrayElemAt"),
  /** @deprecated minibase has no $arrayToObject expression: fails with client.unsupported */
  arrayToObject: make("arrayToObject"),
  /** @deprecated minibase has no $concatArrays expression: fails with client.unsupported */
  concatArrays: make("concatArrays"),
  /** @deprecated minibase has no $filter expression: fails with client.unsupported */
  filter: make("filter"),
  /** @deprecated minibase has no $in expression: fails with client.unsupported */
  in: make("in"),
  /** @deprecated minibase has no $indexOfArray expression: fails with client.unsupported */
  indexOfArray: make("indexOfArray"),
  /** @deprecated minibase has no $isArray expression: fails with client.unsupported */
  isArray: make("isArray"),
  /** @deprecated minibase has no $map expression: fails with client.unsupported */
  map: make("map"),
  /** @deprecated minibase has no $objectToArray expression: fails with client.unsupported */
  objectToArray: make("objectToArray"),
  /** @deprecated minibase has no $range expression: fails with client.unsupported */
  range: make("range"),
  /** @deprecated minibase has no $reduce expression: fails with client.unsupported */
  reduce: make("reduce"),
  /** @deprecated minibase has no $reverseArray expression: fails with client.unsupported */
  reverseArray: make("reverseArray"),
  /** @deprecated minibase has no $size expression: fails with client.unsupported */
  size: make("size"),
  /** @deprecated minibase has no $slice expression: fails with client.unsupported */
  slice: make("slice"),
  /** @deprecated minibase has no $zip expression: fails with client.unsupported */
  zip: make("zip"),
  /** @deprecated minibase has no $and expression: fails with client.unsupported */
  and: make("and"),
  /** @deprecated minibase has no $not expression: fails with client.unsupported */
  not: make("not"),
  /** @deprecated minibase has no $or expression: fails with client.unsupported */
  or: make("or"),
  /** @deprecated minibase has no $cmp expression: fails with client.unsupported */
  cmp: make("cmp"),
  /** @deprecated minibase has no $eq expression (match() takes _.eq): fails with
   * client.unsupported */
  eq: make("eq"),
  /** @deprecated minibase has no $ne expression (match() takes _.neq): fails with
   * client.unsupported */
  neq: make("neq"),
  /** @deprecated minibase has no $gt expression (match() takes _.gt): fails with
   * client.unsupported */
  gt: make("gt"),
  /** @deprecated minibase has no $gte expression (match() takes _.gte): fails with
   * client.unsupported */
  gte: make("gte"),
  /** @deprecated minibase has no $lt expression (match() takes _.lt): fails with
   * client.unsupported */
  lt: make("lt"),
  /** @deprecated minibase has no $lte expression (match() takes _.lte): fails with
   * client.unsupported */
  lte: make("lte"),
  /** @deprecated minibase has no $cond expression: fails with client.unsupported */
  cond: make("cond"),
  /** @deprecated minibase has no $ifNull expression: fails with client.unsupported */
  ifNull: make("ifNull"),
  /** @deprecated minibase has no $switch expression: fails with client.unsupported */
  switch: make("switch"),
  /** @deprecated minibase has no $dateFromParts expression: fails with client.unsupported */
  dateFromParts: make("dateFromParts"),
  /** @deprecated minibase has no $dateToParts expression: fails with client.unsupported */
  dateToParts: make("dateToParts"),
  /** @deprecated minibase has no $dateFromString expression: fails with client.unsupported */
  dateFromString: make("dateFromString"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  dayOfMonth: make("dayOfMonth"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  dayOfWeek: make("dayOfWeek"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  dayOfYear: make("dayOfYear"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  hour: make("hour"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  isoDayOfWeek: make("isoDayOfWeek"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  isoWeek: make("isoWeek"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  isoWeekYear: make("isoWeekYear"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  millisecond: make("millisecond"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  minute: make("minute"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  month: make("month"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  second: make("second"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  week: make("week"),
  /** @deprecated minibase reads dates with $.dateToString only: fails with client.unsupported */
  year: make("year"),
  /** @deprecated minibase has no $let or variables: fails with client.unsupported */
  let: make("let"),
  /** @deprecated minibase has no $meta: fails with client.unsupported */
  meta: make("meta"),
  /** @deprecated minibase has no $mergeObjects expression: fails with client.unsupported */
  mergeObjects: make("mergeObjects"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  allElementsTrue: make("allElementsTrue"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  anyElementTrue: make("anyElementTrue"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  setDifference: make("setDifference"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  setEquals: make("setEquals"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  setIntersection: make("setIntersection"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  setIsSubset: make("setIsSubset"),
  /** @deprecated minibase has no set expressions: fails with client.unsupported */
  setUnion: make("setUnion"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  concat: make("concat"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  indexOfBytes: make("indexOfBytes"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  indexOfCP: make("indexOfCP"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  ltrim: make("ltrim"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  rtrim: make("rtrim"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  trim: make("trim"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  split: make("split"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  strcasecmp: make("strcasecmp"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  strLenBytes: make("strLenBytes"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  strLenCP: make("strLenCP"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  substr: make("substr"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  substrBytes: make("substrBytes"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  substrCP: make("substrCP"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  toLower: make("toLower"),
  /** @deprecated minibase has no string expressions: fails with client.unsupported */
  toUpper: make("toUpper"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  convert: make("convert"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toBool: make("toBool"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toDate: make("toDate"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toDecimal: make("toDecimal"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toDouble: make("toDouble"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toInt: make("toInt"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toLong: make("toLong"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toObjectId: make("toObjectId"),
  /** @deprecated minibase has no type conversions: fails with client.unsupported */
  toString: make("toString"),
  /** @deprecated minibase has no $type expression: fails with client.unsupported */
  type: make("type"),
};

export type AggregateCommand = typeof aggregateCommand;
