import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * The end of the pipeline for Node: writes each chunk to `res` (a `ServerResponse` or any Writable) and
 * waits for `drain` only when `write` returns false, so a slow client pauses everything upstream and
 * nothing is buffered beyond the socket's own buffer. Resolves when the source ends or the client leaves.
 */
export function sink(res: Writable) {
  return async function (source: AsyncIterable<string | Uint8Array>): Promise<void> {
    for await (const chunk of source) {
      if (res.destroyed || res.writableEnded) return;
      if (!res.write(chunk) && !(await drained(res))) return;
    }
  };
}

/** Resolves true on `drain`, false if the stream closes first; leaves no listener behind. */
export async function drained(res: Writable): Promise<boolean> {
  const done = new AbortController();
  try {
    return await Promise.race([
      once(res, 'drain', { signal: done.signal }).then(() => true),
      once(res, 'close', { signal: done.signal }).then(() => false),
    ]);
  } finally {
    done.abort();
  }
}
