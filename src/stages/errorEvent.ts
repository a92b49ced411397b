import { KafkaSseError, StageError } from '../errors.js';
import { encodeEvent } from './sseEncode.js';

export interface ErrorEventOptions {
  /** SSE gets one `event: error`; NDJSON has no error framing, so its stream just ends. */
  format?: 'sse' | 'ndjson';
  /** Turns what a stage threw into what the client may see (default: `stageError`). */
  toClientError?: (err: unknown) => KafkaSseError;
  /** Told of every error that ended the stream (for logs), with what the client was sent. */
  onError?: (err: unknown, clientError: KafkaSseError) => void;
  /** Once aborted (client gone, server closing), an error is the stream's end, not news for the client. */
  signal?: AbortSignal;
}

/**
 * What a client sees of an error thrown in a pipeline: a KafkaSseError as it is; anything else (a user's
 * deserializer, filter or stage failing) as `KSSE_STAGE_ERROR` with the thrown message.
 */
export function stageError(err: unknown): KafkaSseError {
  if (err instanceof KafkaSseError) return err;
  return new StageError(`The stream failed: ${(err as Error | null)?.message ?? String(err)}`);
}

/**
 * Ends the stream cleanly on an error: whatever a stage upstream throws becomes one SSE `error` event
 * carrying the error's JSON (never a stack), and the stream ends, so an `EventSource` reconnects with its
 * last id. An error with `retryAfterSeconds` first asks the client to wait that long (`retry:`).
 */
export function errorEvent(options: ErrorEventOptions = {}) {
  const clientErrorOf = options.toClientError ?? stageError;
  return async function* <T extends string | Uint8Array>(source: AsyncIterable<T>): AsyncGenerator<T | string> {
    try {
      yield* source;
    } catch (err) {
      if (options.signal?.aborted) return;
      const clientError = clientErrorOf(err);
      options.onError?.(err, clientError);
      if (options.format === 'ndjson') return;
      yield errorEventText(clientError);
    }
  };
}

/** The SSE text of an error that ends a stream: `retry:` first when it suggests a wait, then one `error` event. */
export function errorEventText(clientError: KafkaSseError): string {
  const after = clientError.details.retryAfterSeconds;
  return (typeof after === 'number' ? `retry: ${Math.round(after * 1000)}\n\n` : '') + encodeEvent('error', undefined, JSON.stringify(clientError));
}
