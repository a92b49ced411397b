import { encodeComment } from './sseEncode.js';

/**
 * Passes chunks through and, whenever nothing has been sent for `intervalMs`, sends an SSE comment so
 * proxies and load balancers keep an idle stream open. Never pulls the source ahead of the consumer.
 */
export function heartbeat(intervalMs: number, comment = 'heartbeat') {
  return async function* <T extends string | Uint8Array>(source: AsyncIterable<T>): AsyncGenerator<T | string> {
    const iterator = source[Symbol.asyncIterator]();
    const beat = encodeComment(comment);
    let pending: Promise<IteratorResult<T>> | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      for (;;) {
        pending ??= iterator.next();
        const tick = new Promise<'tick'>((resolve) => {
          timer = setTimeout(() => resolve('tick'), intervalMs);
        });
        const result = await Promise.race([pending, tick]);
        clearTimeout(timer);
        if (result === 'tick') {
          yield beat;
          continue;
        }
        pending = undefined;
        if (result.done) return;
        yield result.value;
      }
    } finally {
      clearTimeout(timer);
      await iterator.return?.();
    }
  };
}
