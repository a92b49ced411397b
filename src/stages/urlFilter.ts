// A declarative filter read from a URL's query string, as a `Filterer`: no code is evaluated, and every
// condition is bounded, so a request can neither run code nor make the server do unbounded work.
//
//   ?key=<text>                 the record key, as UTF-8 text
//   ?header.<name>=<text>       a header (names are case-sensitive, as in Kafka)
//   ?match.<dotted.path>=<text> a field of the JSON message (numeric segments index arrays)
//
// One parameter given several times: any of its values (OR). Different parameters: all of them (AND).
import { InvalidFilterError } from '../errors.js';
import type { DeserializedRecord } from '../types.js';
import type { Filterer } from './filter.js';

/** Conditions (parameter=value pairs) one filter may have. */
export const MAX_FILTER_CONDITIONS = 20;
/** Segments of one `match.` path. */
export const MAX_FILTER_PATH_DEPTH = 8;
/** Bytes of one value, and of one header name or path. */
export const MAX_FILTER_VALUE_BYTES = 256;

// Never walked: JSON.parse can make them own keys, and nothing a client asks for should come near them.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

type Test = (record: DeserializedRecord) => boolean;

/**
 * The filter a query string asks for (`key=`, `header.<name>=`, `match.<path>=`), or undefined when it
 * has none; other parameters are ignored. Values compare as text: a string field by its value, a number,
 * boolean or null by its JSON text (`match.n=5` matches `5`, `5.0` and `"5"`); objects and arrays never
 * match. `key=` and `header.` conditions read no message and run first, so a record they drop is never
 * parsed. Throws `InvalidFilterError` (400) for a malformed or oversized filter.
 */
export function urlFilter(searchParams: URLSearchParams | string): Filterer | undefined {
  const params = typeof searchParams === 'string' ? new URLSearchParams(searchParams) : searchParams;
  // name → accepted values, in first-seen order of names.
  const groups = new Map<string, Set<string>>();
  let conditions = 0;
  for (const [name, value] of params) {
    if (!isFilterParameter(name)) continue;
    if (++conditions > MAX_FILTER_CONDITIONS) {
      throw new InvalidFilterError(`A filter may have at most ${MAX_FILTER_CONDITIONS} conditions (key=, header.…=, match.…=)`, { limit: MAX_FILTER_CONDITIONS });
    }
    if (Buffer.byteLength(value) > MAX_FILTER_VALUE_BYTES) {
      throw new InvalidFilterError(`The value of ${shown(name)} is over ${MAX_FILTER_VALUE_BYTES} bytes`, { parameter: shown(name), limit: MAX_FILTER_VALUE_BYTES });
    }
    let values = groups.get(name);
    if (!values) {
      checkName(name);
      groups.set(name, (values = new Set()));
    }
    values.add(value);
  }
  if (groups.size === 0) return undefined;
  const tests: Test[] = [];
  const messageTests: Test[] = [];
  for (const [name, values] of groups) {
    if (name === 'key') tests.push(keyTest(values));
    else if (name.startsWith('header.')) tests.push(headerTest(name.slice('header.'.length), values));
    else messageTests.push(fieldTest(name.slice('match.'.length).split('.'), values));
  }
  // Parse-free tests first: a record they drop never has its message parsed.
  const all = [...tests, ...messageTests];
  const filterer = (record: DeserializedRecord) => {
    for (const test of all) if (!test(record)) return false;
    return true;
  };
  // The same conditions in any order (or repeated) keep the same records: one key for all of them.
  const cohortKey = JSON.stringify([...groups].map(([name, values]) => [name, [...values].sort()]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
  return Object.assign(filterer, { cohortKey: `url:${cohortKey}` });
}

function isFilterParameter(name: string): boolean {
  return name === 'key' || name === 'header' || name === 'match' || name.startsWith('header.') || name.startsWith('match.');
}

/** A parameter name fit for a message: cut short, since it may be huge. */
function shown(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

function checkName(name: string): void {
  if (name === 'header' || name === 'match') {
    throw new InvalidFilterError(`${name}= needs a name: ${name === 'header' ? 'header.<name>=<value>' : 'match.<path>=<value>'}`, { parameter: name });
  }
  if (name === 'key') return;
  const rest = name.slice(name.indexOf('.') + 1);
  if (Buffer.byteLength(rest) > MAX_FILTER_VALUE_BYTES) {
    throw new InvalidFilterError(`The name in ${shown(name)} is over ${MAX_FILTER_VALUE_BYTES} bytes`, { parameter: shown(name), limit: MAX_FILTER_VALUE_BYTES });
  }
  if (rest === '') throw new InvalidFilterError(`${name}= names nothing: use ${name}<name>=<value>`, { parameter: name });
  if (name.startsWith('header.')) return; // any header name is fine, dots included
  const segments = rest.split('.');
  if (segments.length > MAX_FILTER_PATH_DEPTH) {
    throw new InvalidFilterError(`The path of ${shown(name)} is deeper than ${MAX_FILTER_PATH_DEPTH} fields`, { parameter: shown(name), limit: MAX_FILTER_PATH_DEPTH });
  }
  if (segments.includes('')) throw new InvalidFilterError(`The path of ${shown(name)} has an empty field name`, { parameter: shown(name) });
  const forbidden = segments.find((s) => FORBIDDEN_SEGMENTS.has(s));
  if (forbidden !== undefined) throw new InvalidFilterError(`The path of ${shown(name)} names ${forbidden}, which is not allowed`, { parameter: shown(name) });
}

function keyTest(values: Set<string>): Test {
  const wanted = [...values].map((v) => Buffer.from(v, 'utf8'));
  return (record) => record.key !== null && wanted.some((v) => v.equals(record.key!));
}

function headerTest(header: string, values: Set<string>): Test {
  const wanted = [...values].map((v) => Buffer.from(v, 'utf8'));
  const equal = (item: Buffer | string) => (typeof item === 'string' ? values.has(item) : wanted.some((v) => v.equals(item)));
  return (record) => {
    const headers = record.headers;
    if (headers === undefined || headers === null || !Object.hasOwn(headers, header)) return false;
    const value = headers[header];
    if (value === undefined) return false;
    return Array.isArray(value) ? value.some(equal) : equal(value);
  };
}

function fieldTest(path: string[], values: Set<string>): Test {
  return (record) => {
    let at: unknown = record.message;
    for (const segment of path) {
      if (typeof at !== 'object' || at === null || !Object.hasOwn(at, segment)) return false;
      if (Array.isArray(at) && !/^(?:0|[1-9]\d*)$/.test(segment)) return false;
      at = (at as Record<string, unknown>)[segment];
    }
    const text = typeof at === 'string' ? at : typeof at === 'number' || typeof at === 'boolean' || at === null ? String(at) : undefined;
    return text !== undefined && values.has(text);
  };
}
