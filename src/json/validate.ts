import { isUtf8 } from 'node:buffer';

/** `rawJsonObject`'s answers. */
export const NOT_RAW = 0;
export const EMPTY_OBJECT = 1;
export const OBJECT = 2;

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
// Bytes in a string that need a look (1) rather than a step over (0): the quote, the backslash, control
// bytes, bytes above 0x7f, and `}`: a string cannot end at the buffer's last byte, which is `}`, so every
// scan of a string stops there at the latest and no loop reads past the end.
const IN_STRING = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) IN_STRING[b] = 1;
for (let b = 0x80; b < 0x100; b++) IN_STRING[b] = 1;
IN_STRING[QUOTE] = 1;
IN_STRING[BACKSLASH] = 1;
IN_STRING[CLOSE_OBJ] = 1;
// The same with bytes above 0x7f stepped over, for the rest of a string once one has been seen.
const IN_UTF8_STRING = IN_STRING.slice();
IN_UTF8_STRING.fill(0, 0x80);

// Long strings are scanned four bytes at a time through an Int32Array on the buffer's whole ArrayBuffer.
// The view is kept for the next record, which usually comes from the same ArrayBuffer (a fetch response,
// Buffer's pool); it keeps that ArrayBuffer reachable until a record from another one comes. Only records
// of WORDS_MIN_LENGTH bytes or more use it: getting it costs about as much as scanning 20 bytes one by one.
const WORDS_MIN_LENGTH = 128;
let wordsOf: ArrayBufferLike | undefined;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);
// Whether wordsOf is small enough for byte offsets into it to be int32s (below 2 GiB); if not, no words.
let wordsUsable = false;
// %TypedArray%.prototype's getters, called directly: `buf.buffer` and `buf.byteOffset` look them up through
// Buffer's prototype chain, which costs V8 more than the call.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const bufferOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'buffer')!.get as (this: Uint8Array) => ArrayBufferLike;
const byteOffsetOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'byteOffset')!.get as (this: Uint8Array) => number;

/** At a backslash inside a string: the index after its escape (`\uXXXX` or one of `"\/bfnrt`), or -1. */
function escapeEnd(buf: Uint8Array, i: number): number {
  const e = buf[i + 1]!;
  if (e !== 0x75) return ESCAPE[e] ? i + 2 : -1;
  return HEX[buf[i + 2]!] && HEX[buf[i + 3]!] && HEX[buf[i + 4]!] && HEX[buf[i + 5]!] ? i + 6 : -1;
}

/**
 * Whether `buf` is a JSON object that can go to a client as it is, without `JSON.parse` and
 * `JSON.stringify`: returns EMPTY_OBJECT or OBJECT when `JSON.parse(buf.toString('utf8'))` gives a
 * plain object whose re-serialisation parses to the same value, NOT_RAW otherwise.
 *
 * Deliberately a subset of JSON (NOT_RAW means "take the slow path", not "invalid"): the first byte must be
 * `{` and the last `}` (no surrounding whitespace); no CR or LF anywhere (an SSE `data:` line cannot hold
 * them); no exponent in numbers (`1e400` parses to Infinity, which JSON.stringify turns into null) and no
 * number starting with `-0` (`-0` becomes `0`); at most 300 integer digits (no overflow); nesting at most
 * 64 deep; bytes above 0x7f only inside strings and only as valid UTF-8 (else `toString('utf8')` would
 * replace them).
 */
export function rawJsonObject(buf: Uint8Array): number {
  const n = buf.length;
  if (n < 2 || buf[0] !== OPEN_OBJ || buf[n - 1] !== CLOSE_OBJ) return NOT_RAW;
  // Every loop below stops at the last byte, `}`: a byte loop at a `}`, whitespace and digit loops at
  // anything else, and each container close checks `i === last` before stepping past it.
  const last = n - 1;
  const inString = IN_STRING;
  const stack = STACK;
  let sawHighByte = false;
  // The word view, once a long string wants it: view[w] holds bytes 4w - off to 4w - off + 3 of buf, and
  // words before wEnd end before the last byte.
  let view: Int32Array<ArrayBufferLike> | undefined;
  let off = 0;
  let wEnd = 0;
  let i = 1;
  let c = buf[1]!;
  while (c === SPACE || c === TAB) c = buf[++i]!;
  if (c === CLOSE_OBJ) return i === last ? EMPTY_OBJECT : NOT_RAW;
  // stack[d] is 1 for an object, 2 for an array; depth 0 is the top-level object.
  let depth = 0;
  stack[0] = 1;
  // At `member`, c = buf[i] must open a key; at `value`, a value. Whitespace is skipped before both.
  member: for (;;) {
    if (c !== QUOTE) return NOT_RAW;
    // A key: short, so one byte at a time.
    i++;
    for (;;) {
      c = buf[i]!;
      while (inString[c] === 0) c = buf[++i]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        i = escapeEnd(buf, i);
        if (i < 0) return NOT_RAW;
      } else if (c >= 0x80) {
        sawHighByte = true;
        i++;
      } else if (c === CLOSE_OBJ && i !== last) {
        i++;
      } else {
        return NOT_RAW; // a control byte (CR and LF among them), or no closing quote
      }
    }
    c = buf[++i]!;
    while (c === SPACE || c === TAB) c = buf[++i]!;
    if (c !== COLON) return NOT_RAW;
    c = buf[++i]!;
    while (c === SPACE || c === TAB) c = buf[++i]!;
    value: for (;;) {
      if (c === QUOTE) {
        i++;
        // Whether to look for a run of plain bytes worth going four bytes at a time over: not in short
        // records, and no more in this string once one look has found none (escaped JSON, say).
        let tryWords = n >= WORDS_MIN_LENGTH;
        for (;;) {
          if (tryWords && i + 16 < n) {
            if (
              (inString[buf[i]!]! | inString[buf[i + 1]!]! | inString[buf[i + 2]!]! | inString[buf[i + 3]!]! |
                inString[buf[i + 4]!]! | inString[buf[i + 5]!]! | inString[buf[i + 6]!]! | inString[buf[i + 7]!]!) !== 0
            ) {
              tryWords = false;
            } else {
              i += 8;
              if (view === undefined) {
                const ab = bufferOf.call(buf);
                if (ab !== wordsOf) {
                  wordsOf = ab;
                  wordsUsable = ab.byteLength <= 0x7fffffff;
                  words = new Int32Array(ab, 0, wordsUsable ? ab.byteLength >>> 2 : 0);
                }
                view = words;
                // (Else off = wEnd = 0: no word is before wEnd, and the loop below reads none.)
                if (wordsUsable) {
                  off = byteOffsetOf.call(buf);
                  wEnd = (off + last) >> 2;
                }
              }
              // The word holding byte i also holds up to three bytes before it, plain ones just checked. A word
              // needs a look when a byte of it is a quote or backslash (a zero byte in x ^ 0x22 or x ^ 0x5c,
              // which borrows when 1 is subtracted), below 0x20 (borrows when 0x20 is) or above 0x7f (its high
              // bit survives x ^ 0x22 - 1 or, for 0xa2, x ^ 0x5c - 1). No plain byte borrows, so a word with
              // none of those has no high bit set in any of the three, and a word with one has.
              let w = (off + i) >> 2;
              for (; w < wEnd; w++) {
                const x = view[w]!;
                if (((((x ^ 0x22222222) - 0x01010101) | ((x ^ 0x5c5c5c5c) - 0x01010101) | (x - 0x20202020)) & 0x80808080) !== 0) break;
              }
              // From the start of that word (or the last bytes, when no word needs a look), byte by byte.
              const j = (w << 2) - off;
              if (j > i) i = j;
            }
          }
          c = buf[i]!;
          while (inString[c] === 0) c = buf[++i]!;
          if (c >= 0x80) {
            // Non-ASCII text: on byte by byte, stepping over bytes above 0x7f, for the rest of the string.
            sawHighByte = true;
            const inUtf8String = IN_UTF8_STRING;
            do c = buf[++i]!;
            while (inUtf8String[c] === 0);
          }
          if (c === QUOTE) break;
          if (c === BACKSLASH) {
            i = escapeEnd(buf, i);
            if (i < 0) return NOT_RAW;
          } else if (c === CLOSE_OBJ && i !== last) {
            i++;
          } else {
            return NOT_RAW; // a control byte (CR and LF among them), or no closing quote
          }
        }
        i++;
      } else if ((c >= ZERO && c <= NINE) || c === MINUS) {
        if (c === MINUS) {
          c = buf[++i]!;
          // -0, -0.5: -0 would lose its sign; rare enough to take the slow path
          if (c === ZERO || !(c >= ZERO && c <= NINE)) return NOT_RAW;
        }
        if (c === ZERO) {
          c = buf[++i]!;
        } else {
          const start = i;
          do c = buf[++i]!;
          while (c >= ZERO && c <= NINE);
          if (i - start > MAX_INT_DIGITS) return NOT_RAW;
        }
        if (c === DOT) {
          c = buf[++i]!;
          if (!(c >= ZERO && c <= NINE)) return NOT_RAW;
          do c = buf[++i]!;
          while (c >= ZERO && c <= NINE);
        }
        if (c === 0x65 || c === 0x45) return NOT_RAW; // exponent: may overflow to Infinity; slow path
      } else if (c === OPEN_OBJ) {
        if (depth === MAX_DEPTH) return NOT_RAW;
        c = buf[++i]!;
        while (c === SPACE || c === TAB) c = buf[++i]!;
        if (c !== CLOSE_OBJ) {
          stack[++depth] = 1;
          continue member;
        }
        if (i === last) return NOT_RAW;
        i++;
      } else if (c === OPEN_ARR) {
        if (depth === MAX_DEPTH) return NOT_RAW;
        c = buf[++i]!;
        while (c === SPACE || c === TAB) c = buf[++i]!;
        if (c !== CLOSE_ARR) {
          stack[++depth] = 2;
          continue value;
        }
        i++;
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
      // After a value: a comma, or closes.
      for (;;) {
        c = buf[i]!;
        while (c === SPACE || c === TAB) c = buf[++i]!;
        if (c === COMMA) {
          c = buf[++i]!;
          while (c === SPACE || c === TAB) c = buf[++i]!;
          if (stack[depth] === 1) continue member;
          continue value;
        }
        if (c === CLOSE_OBJ ? stack[depth] !== 1 : c !== CLOSE_ARR || stack[depth] !== 2) return NOT_RAW;
        if (depth === 0) {
          if (i !== last) return NOT_RAW;
          if (sawHighByte && !isUtf8(buf)) return NOT_RAW;
          return OBJECT;
        }
        if (i === last) return NOT_RAW;
        i++;
        depth--;
      }
    }
  }
}
