import { encodeComment } from './sseEncode.js';

/**
 * Sends the first bytes of an SSE stream before anything else: a comment naming the stream, and the
 * reconnection delay (`retry:`, WHATWG "set the event stream's reconnection time"; 0 sends none).
 * Both go out at once, so a client sees the stream open before the first record arrives.
 */
export function preamble(name: string, retryMs = 2000) {
  const head = preambleText(name, retryMs);
  return async function* <T extends string | Uint8Array>(source: AsyncIterable<T>): AsyncGenerator<T | string> {
    yield head;
    yield* source;
  };
}

/** The text `preamble` sends first: the comment naming the stream, then `retry:` (none for 0). */
export function preambleText(name: string, retryMs = 2000): string {
  return encodeComment(name) + (retryMs > 0 ? `retry: ${Math.round(retryMs)}\n\n` : '');
}
