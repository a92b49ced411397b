// `npx tsx bench/validator.ts [--rounds=N]`
// Micro-benchmark of rawJsonObject (src/json/validate.ts), the raw-JSON fast path's check of every record
// value: ns per record for the current implementation, the implementation it replaced (test/helpers/previousRawJsonObject.ts,
// as of commit 671b055) and JSON.parse(buf.toString()) as a reference, all in the same run on the same records.
// Each record set is one Buffer sliced into records, as kafkajs slices a fetch response.
import { NOT_RAW, rawJsonObject } from '../src/json/validate.js';
import { previousRawJsonObject } from '../test/helpers/previousRawJsonObject.js';
import { mulberry32 } from '../test/helpers/prng.js';

const args = process.argv.slice(2);
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 15);
/** Passes over a record set per timed round. */
const PASSES = 10;

// ---------------------------------------------------------------------------------------------------
// Record sets


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
  const rnd = mulberry32(seed);
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
  const rnd = mulberry32(seed);
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
  for (let w = 0; w < 3; w++) for (const [, recs] of SETS) for (const r of recs) warm += rawJsonObject(r) + previousRawJsonObject(r);
  if (warm < 0) console.log(warm); // keeps the results used
  console.log(`node ${process.version}, ${ROUNDS} rounds x ${PASSES} passes, median ns per record`);
  console.log(`${'set'.padEnd(50)} ${'bytes'.padStart(6)} ${'accepted'.padStart(9)} ${'new'.padStart(8)} ${'old'.padStart(8)} ${'JSON.parse'.padStart(11)} ${'old/new'.padStart(8)} ${'parse/new'.padStart(10)}`);
  for (const [name, recs] of SETS) {
    // Both implementations must agree on every record before their times mean anything.
    let accepted = 0;
    let bytes = 0;
    for (const r of recs) {
      const a = rawJsonObject(r);
      const b = previousRawJsonObject(r);
      if (a !== b) throw new Error(`old ${b} and new ${a} disagree on ${r.toString()}`);
      if (a !== NOT_RAW) accepted++;
      bytes += r.length;
    }
    const t = measure(recs, { new: rawJsonObject, old: previousRawJsonObject, parse: parseReference });
    console.log(
      `${name.padEnd(50)} ${(bytes / recs.length).toFixed(0).padStart(6)} ${`${((accepted / recs.length) * 100).toFixed(0)}%`.padStart(9)} ` +
        `${t.new!.toFixed(1).padStart(8)} ${t.old!.toFixed(1).padStart(8)} ${t.parse!.toFixed(1).padStart(11)} ` +
        `${(t.old! / t.new!).toFixed(2).padStart(7)}x ${(t.parse! / t.new!).toFixed(2).padStart(9)}x`,
    );
  }
}

main();
