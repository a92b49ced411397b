// `npx tsx bench/validator.ts [--rounds=N]`
// Micro-benchmark of rawJsonObject (src/json/validate.ts), the raw-JSON fast path's check of every record
// value: ns per record for the current implementation, the implementation it replaced (copied below, as
// of commit 671b055) and JSON.parse(buf.toString()) as a reference, all in the same run on the same records.
// Each record set is one Buffer sliced into records, as kafkajs slices a fetch response.
import { isUtf8 } from 'node:buffer';
import { EMPTY_OBJECT, NOT_RAW, OBJECT, rawJsonObject } from '../src/json/validate.js';

const args = process.argv.slice(2);
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 15);
/** Passes over a record set per timed round. */
const PASSES = 10;

// ---------------------------------------------------------------------------------------------------
// Record sets

/** Deterministic PRNG (mulberry32), so that every run measures the same records. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One Buffer holding every text, and the records as slices of it. */
function slices(texts: string[]): Buffer[] {
  const bufs = texts.map((t) => Buffer.from(t, 'utf8'));
  const all = Buffer.concat(bufs);
  const out: Buffer[] = [];
  let at = 0;
  for (const b of bufs) {
    out.push(all.subarray(at, at + b.length));
    at += b.length;
  }
  return out;
}

/** The server benchmark's records (bench/support.ts jsonRecord): ~300 bytes, mostly a padding string. */
function pageViews(count: number, size = 300): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const base = JSON.stringify({ id: i, type: 'page_view', user: `user-${i % 9973}`, url: `/articles/${i % 1000}`, pad: '' });
    out.push(base.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, size - base.length))}"`));
  }
  return out;
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'checkout', 'search', 'Zoë', 'Ångström', 'naïve', 'café', 'Привет', 'мир', '東京', '🙂', 'line\nbreak', 'tab\there', 'say "hi"', 'C:\\path', '</script>', '\u2028'];

/** Records with nested objects and arrays, integers, decimals, booleans, null, escapes and non-ASCII text. */
function mixed(count: number, seed: number): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const text = (words: number) => Array.from({ length: words }, () => pick(WORDS)).join(' ');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const items = Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, k) => ({
      sku: `SKU-${Math.floor(rnd() * 1e6)}`,
      qty: 1 + Math.floor(rnd() * 5),
      price: Math.round(rnd() * 1e5) / 100,
      tags: Array.from({ length: Math.floor(rnd() * 3) }, () => pick(WORDS)),
      gift: k % 2 === 0,
    }));
    const value = {
      id: i,
      type: pick(['order', 'refund', 'cart']),
      at: 1_700_000_000_000 + i * 1000,
      user: { id: `u-${Math.floor(rnd() * 1e5)}`, name: text(2), vip: rnd() < 0.1, address: null },
      items,
      total: -Math.round(rnd() * 1e4) / 10 || 0,
      note: text(3 + Math.floor(rnd() * 10)),
      meta: { source: pick(['web', 'ios', 'android']), depth: { a: { b: { c: [1, [2, [3]]] } } }, empty: {}, none: [] },
    };
    out.push(JSON.stringify(value));
  }
  return out;
}

/** Long non-ASCII text, and JSON carried inside a string (a backslash every few bytes). */
function unicodeText(count: number, seed: number): string[] {
  const rnd = prng(seed);
  const words = ['Привет', 'мир', '東京', 'καλημέρα', 'ü', 'naïve', '🙂'];
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ id: i, text: Array.from({ length: 30 }, () => words[Math.floor(rnd() * words.length)]).join(' ') }));
}
function embeddedJson(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ id: i, payload: JSON.stringify({ id: i, type: 'page_view', user: `user-${i}`, url: `/articles/${i % 1000}`, tags: ['a', 'b'] }) }));
}

// ---------------------------------------------------------------------------------------------------
// Timing

type Check = (buf: Buffer) => number;
const parseReference: Check = (buf) => {
  const v: unknown = JSON.parse(buf.toString());
  return v !== null && typeof v === 'object' ? 2 : 0;
};

/**
 * One loop per implementation, compiled from source apiece, so that no call site in the timing loop sees
 * two targets (a shared loop would inline the first function it meets and deoptimise for the second).
 */
function loopFor(fn: Check): (recs: Buffer[]) => number {
  const loop = new Function('fn', 'passes', `return function (recs) {
    let sink = 0;
    for (let p = 0; p < passes; p++) for (let k = 0; k < recs.length; k++) sink += fn(recs[k]);
    return sink;
  }`) as (fn: Check, passes: number) => (recs: Buffer[]) => number;
  return loop(fn, PASSES);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** ns per record for each implementation: the median of ROUNDS rounds, rounds interleaved. */
function measure(recs: Buffer[], impls: Record<string, Check>): Record<string, number> {
  const loops = Object.entries(impls).map(([name, fn]) => [name, loopFor(fn)] as const);
  const times: Record<string, number[]> = Object.fromEntries(loops.map(([name]) => [name, []]));
  let sink = 0;
  for (const [, loop] of loops) sink += loop(recs); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, loop] of loops) {
      const t0 = process.hrtime.bigint();
      sink += loop(recs);
      times[name]!.push(Number(process.hrtime.bigint() - t0) / (PASSES * recs.length));
    }
  }
  if (sink === 0.5) console.log(sink); // keeps the results used
  return Object.fromEntries(Object.entries(times).map(([name, ts]) => [name, median(ts)]));
}

function main() {
  const SETS: Array<[string, Buffer[]]> = [
    ['(a) 10,000 page views, ~300 bytes', slices(pageViews(10_000))],
    ['(b) 10,000 nested / numbers / escapes / unicode', slices(mixed(10_000, 1))],
    ['(c) 2,000 long non-ASCII texts', slices(unicodeText(2_000, 2))],
    ['(d) 2,000 JSON-in-a-string payloads', slices(embeddedJson(2_000))],
    ['(e) 10,000 page views, ~1,000 bytes', slices(pageViews(10_000, 1000))],
  ];

  // Warm both implementations on every set first, as a server sees every kind of record: each is then
  // timed with code optimised for all of them, not for the first set it met.
  let warm = 0;
  for (let w = 0; w < 3; w++) for (const [, recs] of SETS) for (const r of recs) warm += rawJsonObject(r) + oldRawJsonObject(r);
  if (warm < 0) console.log(warm); // keeps the results used
  console.log(`node ${process.version}, ${ROUNDS} rounds x ${PASSES} passes, median ns per record`);
  console.log(`${'set'.padEnd(50)} ${'bytes'.padStart(6)} ${'accepted'.padStart(9)} ${'new'.padStart(8)} ${'old'.padStart(8)} ${'JSON.parse'.padStart(11)} ${'old/new'.padStart(8)} ${'parse/new'.padStart(10)}`);
  for (const [name, recs] of SETS) {
    // Both implementations must agree on every record before their times mean anything.
    let accepted = 0;
    let bytes = 0;
    for (const r of recs) {
      const a = rawJsonObject(r);
      const b = oldRawJsonObject(r);
      if (a !== b) throw new Error(`old ${b} and new ${a} disagree on ${r.toString()}`);
      if (a !== NOT_RAW) accepted++;
      bytes += r.length;
    }
    const t = measure(recs, { new: rawJsonObject, old: oldRawJsonObject, parse: parseReference });
    console.log(
      `${name.padEnd(50)} ${(bytes / recs.length).toFixed(0).padStart(6)} ${`${((accepted / recs.length) * 100).toFixed(0)}%`.padStart(9)} ` +
        `${t.new!.toFixed(1).padStart(8)} ${t.old!.toFixed(1).padStart(8)} ${t.parse!.toFixed(1).padStart(11)} ` +
        `${(t.old! / t.new!).toFixed(2).padStart(7)}x ${(t.parse! / t.new!).toFixed(2).padStart(9)}x`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// The implementation rawJsonObject replaced (src/json/validate.ts as of 671b055), unchanged but for names.

const MAX_DEPTH = 64;
const MAX_INT_DIGITS = 300;

// Byte classes.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

// stack[d] is 1 for an object, 2 for an array; shared, since a check runs to its end synchronously.
const STACK = new Uint8Array(MAX_DEPTH + 1);
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;
// Bytes after a backslash that JSON allows, `u` handled apart.
const ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') ESCAPE[c.charCodeAt(0)] = 1;

function oldRawJsonObject(buf: Uint8Array): number {
  const n = buf.length;
  if (n < 2 || buf[0] !== OPEN_OBJ || buf[n - 1] !== CLOSE_OBJ) return NOT_RAW;
  // stack[d] is 1 for an object, 2 for an array; depth 0 is the top-level object.
  const stack = STACK;
  let depth = 0;
  stack[0] = 1;
  let i = 1;
  oldSawHighByte = false;
  let empty = true;
  // In a container, right after its opening byte or a comma: what may come next.
  // state 0: expecting a value (or, just after `[`, a `]`); 1: expecting a key (or, just after `{`, `}`);
  // after a value we look for `,` or the close.
  let state = 1;
  let justOpened = true;
  for (;;) {
    // Skip whitespace.
    let c = buf[i]!;
    while (c === SPACE || c === TAB) c = buf[++i]!;
    if (i >= n) return NOT_RAW;
    if (state === 1) {
      // Expecting a key.
      if (c === CLOSE_OBJ && justOpened) {
        i++;
        if (depth === 0) return i === n ? EMPTY_OBJECT : NOT_RAW;
        depth--;
        state = 2;
        justOpened = false;
        continue;
      }
      if (c !== QUOTE) return NOT_RAW;
      if (depth === 0) empty = false;
      i = oldSkipString(buf, i + 1, n);
      if (i < 0) return NOT_RAW;
      c = buf[i]!;
      while (c === SPACE || c === TAB) c = buf[++i]!;
      if (c !== COLON) return NOT_RAW;
      i++;
      state = 0;
      justOpened = false;
      continue;
    }
    if (state === 0) {
      // Expecting a value.
      if (c === QUOTE) {
        const end = oldSkipString(buf, i + 1, n);
        if (end < 0) return NOT_RAW;
        i = end;
      } else if (c === OPEN_OBJ || c === OPEN_ARR) {
        if (depth === MAX_DEPTH) return NOT_RAW;
        stack[++depth] = c === OPEN_OBJ ? 1 : 2;
        i++;
        justOpened = true;
        if (c === OPEN_OBJ) {
          state = 1;
        } else {
          // An empty array?
          c = buf[i]!;
          while (c === SPACE || c === TAB) c = buf[++i]!;
          if (c === CLOSE_ARR) {
            i++;
            depth--;
            state = 2;
            justOpened = false;
          }
        }
        continue;
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        i = oldSkipNumber(buf, i, n);
        if (i < 0) return NOT_RAW;
      } else if (c === 0x74) {
        // true
        if (buf[i + 1] !== 0x72 || buf[i + 2] !== 0x75 || buf[i + 3] !== 0x65) return NOT_RAW;
        i += 4;
      } else if (c === 0x66) {
        // false
        if (buf[i + 1] !== 0x61 || buf[i + 2] !== 0x6c || buf[i + 3] !== 0x73 || buf[i + 4] !== 0x65) return NOT_RAW;
        i += 5;
      } else if (c === 0x6e) {
        // null
        if (buf[i + 1] !== 0x75 || buf[i + 2] !== 0x6c || buf[i + 3] !== 0x6c) return NOT_RAW;
        i += 4;
      } else {
        return NOT_RAW;
      }
      state = 2;
      justOpened = false;
      continue;
    }
    // state 2: after a value, a comma or the container's close.
    if (c === COMMA) {
      i++;
      state = stack[depth] === 1 ? 1 : 0;
      justOpened = false;
      continue;
    }
    if (c === CLOSE_OBJ ? stack[depth] !== 1 : c !== CLOSE_ARR || stack[depth] !== 2) return NOT_RAW;
    i++;
    if (depth === 0) {
      if (i !== n) return NOT_RAW;
      if (oldSawHighByte && !isUtf8(buf)) return NOT_RAW;
      return empty ? EMPTY_OBJECT : OBJECT;
    }
    depth--;
  }
}

// Set by oldSkipString when a string holds a byte above 0x7f (outside strings they are rejected anyway).
let oldSawHighByte = false;

/** From just after an opening quote: the index after the closing quote, or -1. */
function oldSkipString(buf: Uint8Array, i: number, n: number): number {
  for (;;) {
    if (i >= n) return -1;
    const c = buf[i]!;
    // Most bytes of most strings: letters, digits and punctuation that need no look.
    if (c > BACKSLASH && c < 0x80) {
      i++;
      continue;
    }
    if (c === QUOTE) return i + 1;
    if (c < SPACE) return -1; // raw control characters (CR, LF among them) are not JSON
    if (c > 0x7f) oldSawHighByte = true;
    if (c === BACKSLASH) {
      const e = buf[i + 1]!;
      if (e === 0x75) {
        if (!HEX[buf[i + 2]!] || !HEX[buf[i + 3]!] || !HEX[buf[i + 4]!] || !HEX[buf[i + 5]!]) return -1;
        i += 6;
      } else {
        if (i + 1 >= n || !ESCAPE[e]) return -1;
        i += 2;
      }
      continue;
    }
    i++;
  }
}

/** From a number's first byte: the index after it, or -1 for a malformed or unusual one. */
function oldSkipNumber(buf: Uint8Array, i: number, n: number): number {
  if (buf[i] === MINUS) {
    i++;
    if (buf[i] === ZERO) return -1; // -0, -0.5: -0 would lose its sign; rare enough to take the slow path
  }
  let c = buf[i]!;
  const start = i;
  if (c === ZERO) {
    c = buf[++i]!;
  } else if (c > ZERO && c <= NINE) {
    do c = buf[++i]!;
    while (c >= ZERO && c <= NINE && i < n);
    if (i - start > MAX_INT_DIGITS) return -1;
  } else {
    return -1;
  }
  if (c === DOT) {
    c = buf[++i]!;
    if (!(c >= ZERO && c <= NINE) || i >= n) return -1;
    do c = buf[++i]!;
    while (c >= ZERO && c <= NINE && i < n);
  }
  if (c === 0x65 || c === 0x45) return -1; // exponent: may overflow to Infinity; slow path
  return i;
}

main();
