/**
 * The end of the pipeline for fetch-style frameworks: a `ReadableStream` of UTF-8 bytes that pulls from
 * the source only when the consumer reads, so backpressure reaches Kafka. Cancelling the stream
 * (the client left) calls `onCancel` (abort your pipeline's signal there) and returns the source
 * iterator, which ends the pipeline.
 */
export interface WebSinkOptions {
  /** Called when the consumer cancels the stream (the client left): abort your pipeline's signal here. */
  onCancel?: () => void;
}

export function webSink(options?: WebSinkOptions): (source: AsyncIterable<string | Uint8Array>) => ReadableStream<Uint8Array>;
/** `webSink(options)(source)`, as with `sink(res)(source)`; this direct form is kept for existing code. */
export function webSink(source: AsyncIterable<string | Uint8Array>, options?: WebSinkOptions): ReadableStream<Uint8Array>;
export function webSink(
  first?: AsyncIterable<string | Uint8Array> | WebSinkOptions,
  direct: WebSinkOptions = {},
): ReadableStream<Uint8Array> | ((source: AsyncIterable<string | Uint8Array>) => ReadableStream<Uint8Array>) {
  if (first !== undefined && Symbol.asyncIterator in first) return toReadableStream(first, direct);
  const options = (first ?? {}) as WebSinkOptions;
  return (source) => toReadableStream(source, options);
}

function toReadableStream(source: AsyncIterable<string | Uint8Array>, options: WebSinkOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(typeof value === 'string' ? encoder.encode(value) : value);
      },
      async cancel() {
        // A read may be waiting on Kafka: let the owner abort it first, or return() would wait behind it.
        options.onCancel?.();
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
