import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_FILTER_CONDITIONS, MAX_FILTER_PATH_DEPTH, MAX_FILTER_VALUE_BYTES, urlFilter } from '../../src/stages/urlFilter.js';
import type { Filterer } from '../../src/stages/filter.js';
import type { DeserializedRecord } from '../../src/types.js';
import { assertThrowsCode, deserializedRecord } from './support.js';

const record = (message: unknown, init: { key?: string | null; headers?: DeserializedRecord['headers'] } = {}): DeserializedRecord => ({
  ...deserializedRecord({ message, ...(init.headers ? { headers: init.headers } : {}) }),
  key: init.key === undefined || init.key === null ? null : Buffer.from(init.key),
});

function filterOf(query: string): Filterer {
  const filterer = urlFilter(query);
  assert.ok(filterer, `${query} is a filter`);
  return filterer;
}

/** A record whose message counts its reads, as a raw-JSON record's parse would be counted. */
function countingRecord(message: unknown, key: string | null, headers: DeserializedRecord['headers'] = {}) {
  const base = record(message, { key, headers });
  let reads = 0;
  Object.defineProperty(base, 'message', { get: () => (reads++, message), enumerable: true });
  return { record: base, reads: () => reads };
}

describe('urlFilter', () => {
  it('is undefined when the query has no filter parameters, whatever else it has', () => {
    assert.equal(urlFilter(''), undefined);
    assert.equal(urlFilter('since=2026-01-01&client=abc&access_token=t&lastEventId=x&other=1'), undefined);
    assert.equal(urlFilter(new URLSearchParams({ keys: 'a', matches: 'b', 'headerx.a': 'c' })), undefined);
  });

  it('accepts a URLSearchParams or a query string, with or without its ?', () => {
    for (const query of ['key=a', '?key=a', new URLSearchParams('key=a')]) {
      const filterer = urlFilter(query)!;
      assert.equal(filterer(record({}, { key: 'a' })), true);
      assert.equal(filterer(record({}, { key: 'b' })), false);
    }
  });

  it('key= compares the record key as UTF-8 text; a record without a key never matches', () => {
    const filterer = filterOf('key=caf%C3%A9');
    assert.equal(filterer(record({}, { key: 'café' })), true);
    assert.equal(filterer(record({}, { key: 'cafe' })), false);
    assert.equal(filterer(record({}, { key: null })), false);
    assert.equal(filterOf('key=')(record({}, { key: '' })), true);
  });

  it('header.<name>= compares a header as text: Buffer, string or any item of an array', () => {
    const filterer = filterOf('header.source=web');
    assert.equal(filterer(record({}, { headers: { source: Buffer.from('web') } })), true);
    assert.equal(filterer(record({}, { headers: { source: 'web' } })), true);
    assert.equal(filterer(record({}, { headers: { source: [Buffer.from('app'), Buffer.from('web')] } })), true);
    assert.equal(filterer(record({}, { headers: { source: Buffer.from('app') } })), false);
    assert.equal(filterer(record({}, { headers: { Source: 'web' } })), false, 'header names are case-sensitive');
    assert.equal(filterer(record({}, { headers: {} })), false);
    assert.equal(filterOf('header.trace.id=1')(record({}, { headers: { 'trace.id': '1' } })), true, 'dots belong to the header name');
  });

  it('match.<path>= walks the message, numeric segments indexing arrays', () => {
    const message = { meta: { domain: 'en.wikipedia.org', tags: ['a', 'b'] }, n: 5 };
    assert.equal(filterOf('match.meta.domain=en.wikipedia.org')(record(message)), true);
    assert.equal(filterOf('match.meta.domain=de.wikipedia.org')(record(message)), false);
    assert.equal(filterOf('match.meta.tags.1=b')(record(message)), true);
    assert.equal(filterOf('match.meta.tags.length=2')(record(message)), false, 'an array has only its items');
    assert.equal(filterOf('match.meta.missing=x')(record(message)), false);
    assert.equal(filterOf('match.n.deeper=5')(record(message)), false);
    assert.equal(filterOf('match.meta=x')(record(message)), false, 'an object never matches');
  });

  it('compares numbers, booleans and null by their JSON text, strings by their value', () => {
    const filterer = filterOf('match.n=5');
    assert.equal(filterer(record({ n: 5 })), true);
    assert.equal(filterer(record(JSON.parse('{"n":5.0}'))), true, '5.0 is the number 5');
    assert.equal(filterer(record({ n: '5' })), true, 'the string "5" has the same text');
    assert.equal(filterer(record({ n: 50 })), false);
    assert.equal(filterer(record({ n: ' 5' })), false);
    assert.equal(filterOf('match.ok=true')(record({ ok: true })), true);
    assert.equal(filterOf('match.ok=true')(record({ ok: 1 })), false);
    assert.equal(filterOf('match.v=null')(record({ v: null })), true);
    assert.equal(filterOf('match.x=1.5')(record({ x: 1.5 })), true);
  });

  it('one parameter repeated means any of its values; different parameters mean all of them', () => {
    const filterer = filterOf('match.lang=en&match.lang=de&key=k1&key=k2');
    assert.equal(filterer(record({ lang: 'en' }, { key: 'k1' })), true);
    assert.equal(filterer(record({ lang: 'de' }, { key: 'k2' })), true);
    assert.equal(filterer(record({ lang: 'fr' }, { key: 'k1' })), false);
    assert.equal(filterer(record({ lang: 'en' }, { key: 'k3' })), false);
    const two = filterOf('match.a=1&match.b=2');
    assert.equal(two(record({ a: 1, b: 2 })), true);
    assert.equal(two(record({ a: 1, b: 3 })), false);
  });

  it('decides on key and headers without reading the message, and reads it only for match.', () => {
    const dropped = countingRecord({ lang: 'en' }, 'other', { source: 'web' });
    filterOf('match.lang=en&key=wanted&header.source=web')(dropped.record);
    assert.equal(dropped.reads(), 0, 'the key decided; the message was never read');
    const byHeader = countingRecord({ lang: 'en' }, 'k', { source: 'web' });
    assert.equal(filterOf('key=k&header.source=web')(byHeader.record), true);
    assert.equal(byHeader.reads(), 0);
    const byField = countingRecord({ lang: 'en' }, 'k');
    assert.equal(filterOf('key=k&match.lang=en')(byField.record), true);
    assert.equal(byField.reads(), 1);
  });

  it('ignores parameters that are not filters, beside filters', () => {
    const filterer = filterOf('since=0&client=c&key=a&access_token=t&foo=bar');
    assert.equal(filterer(record({}, { key: 'a' })), true);
  });

  describe('refuses with KSSE_INVALID_FILTER (400), saying what is wrong', () => {
    const refused = (query: string, says: RegExp) => {
      const err = assertThrowsCode(() => urlFilter(query), 'KSSE_INVALID_FILTER', 400);
      assert.match(err.message, says);
      assert.equal(err.name, 'InvalidFilterError');
    };

    it('bare header= and match=, and empty names or path fields', () => {
      refused('header=x', /header\.<name>=/);
      refused('match=x', /match\.<path>=/);
      refused('header.=x', /names nothing/);
      refused('match.=x', /names nothing/);
      refused('match.a..b=x', /empty field name/);
      refused('match.a.=x', /empty field name/);
    });

    it('prototype keys anywhere in a path', () => {
      for (const path of ['__proto__', 'a.__proto__', 'constructor', 'a.constructor.prototype', 'prototype.x']) {
        refused(`match.${path}=1`, /not allowed/);
      }
    });

    it('inherited properties never match, even through a header name', () => {
      assert.equal(filterOf('header.toString=x')(record({}, { headers: {} })), false);
      assert.equal(filterOf('match.toString=x')(record({})), false);
      // JSON.parse makes __proto__ an own key; refused above rather than walked.
      assert.equal(filterOf('match.hasOwnProperty=x')(record(JSON.parse('{"__proto__":{"hasOwnProperty":"x"}}'))), false);
    });

    it(`more than ${MAX_FILTER_CONDITIONS} conditions, counting repeats`, () => {
      const at = Array.from({ length: MAX_FILTER_CONDITIONS }, (_, i) => `key=${i}`).join('&');
      assert.ok(urlFilter(at));
      refused(`${at}&key=x`, /at most 20 conditions/);
    });

    it(`paths deeper than ${MAX_FILTER_PATH_DEPTH} fields`, () => {
      const path = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`).join('.');
      assert.ok(urlFilter(`match.${path(MAX_FILTER_PATH_DEPTH)}=1`));
      refused(`match.${path(MAX_FILTER_PATH_DEPTH + 1)}=1`, /deeper than 8 fields/);
    });

    it(`values, header names and paths over ${MAX_FILTER_VALUE_BYTES} bytes`, () => {
      assert.ok(urlFilter(`key=${'a'.repeat(MAX_FILTER_VALUE_BYTES)}`));
      refused(`key=${'a'.repeat(MAX_FILTER_VALUE_BYTES + 1)}`, /value of key is over 256 bytes/);
      refused(`key=${'é'.repeat(MAX_FILTER_VALUE_BYTES / 2 + 1)}`, /over 256 bytes/); // bytes, not characters
      refused(`header.${'h'.repeat(MAX_FILTER_VALUE_BYTES + 1)}=x`, /name in header\.h+… is over 256 bytes/);
    });

    it('a 100 KB value and 5,000 conditions, quickly', () => {
      const huge = `match.a=${'x'.repeat(100_000)}`;
      const many = Array.from({ length: 5000 }, (_, i) => `match.f${i}=${i}`).join('&');
      const hugeName = `match.${'a.'.repeat(50_000)}b=1`;
      const started = performance.now();
      for (let i = 0; i < 10; i++) {
        refused(huge, /over 256 bytes/);
        refused(many, /at most 20 conditions/);
        refused(hugeName, /over 256 bytes/);
      }
      const ms = (performance.now() - started) / 10;
      assert.ok(ms < 50, `refusing took ${ms.toFixed(1)} ms per round`);
    });

    it('keeps huge names short in its message', () => {
      const err = assertThrowsCode(() => urlFilter(`match.${'a'.repeat(10_000)}=1`), 'KSSE_INVALID_FILTER', 400);
      assert.ok(err.message.length < 200, err.message);
    });
  });
});
