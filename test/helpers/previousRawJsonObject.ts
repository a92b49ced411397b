// rawJsonObject as it was before it was made faster (src/json/validate.ts as of commit 671b055), its code
// unchanged but for names. Kept as an independent reference: the differential fuzz test in
// test/unit/jsonValidate.test.ts wants the same answer from it and from the current rawJsonObject on
// every input, and bench/validator.ts times the two side by side.
import { isUtf8 } from 'node:buffer';
import { EMPTY_OBJECT, NOT_RAW, OBJECT } from '../../src/json/validate.js';


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

export function previousRawJsonObject(buf: Uint8Array): number {
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
