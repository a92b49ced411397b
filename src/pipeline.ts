// The default pipeline, as public compositions of exported stages: `kafkaSse` runs exactly these, so a
// pipeline of your own can take them apart, put stages in between, and get the same bytes.
//
//   consume → defaultStages: deserialize → filter → [transform] → countEvents → idTrack → encode
//           → streamFraming: errorEvent → heartbeat → preamble → meter → (sink)
import { pipe } from 'it-pipe';
import type { KafkaSseError } from './errors.js';
import { deserialize, type Deserializer } from './stages/deserialize.js';
import { errorEvent } from './stages/errorEvent.js';
import { filter, type Filterer } from './stages/filter.js';
import { heartbeat } from './stages/heartbeat.js';
import { idTrack } from './stages/idTrack.js';
import { countEvents, meter, type StreamCounters } from './stages/meter.js';
import { ndjsonEncode } from './stages/ndjsonEncode.js';
import { preamble } from './stages/preamble.js';
import { sseEncode, sseEncodeBytes } from './stages/sseEncode.js';
import type { DeserializedRecord, KafkaRecord, Logger, Position, RecordBatch, Stage } from './types.js';

export interface DefaultStagesOptions {
  /** Where the stream starts: the positions `consume` was given (ids are built from them). */
  positions: Position[];
  /** SSE events (default) or NDJSON lines. */
  format?: 'sse' | 'ndjson';
  /** Turns a record into `record.message` (default: UTF-8 JSON plus `_kafka`, sent from its bytes when nothing reads it). */
  deserializer?: Deserializer;
  /** Returns true to send a deserialized record. */
  filterer?: Filterer;
  /** A stage of your own, on deserialized, filtered batches before ids are assigned. */
  transform?: Stage<RecordBatch<DeserializedRecord>, RecordBatch<DeserializedRecord>>;
  /** Event ids carry timestamps instead of offsets. */
  useTimestampForId?: boolean;
  /** Tombstones: skipped (default) or sent as `event: delete` with data `{ _kafka }` (see `deserialize`). */
  tombstones?: 'skip' | 'delete';
  /** The start timestamp of a stream that began at a point in time (for timestamp ids before the first record). */
  startTimestamp?: number;
  /** Where skipped records are reported. */
  logger?: Logger;
  /** Filled as batches pass: `events` counts the records that become events. */
  counters?: StreamCounters;
}

/**
 * The record part of the default pipeline: fetched batches in, encoded chunks out (one per batch).
 * With the default deserializer, plain JSON values go on unparsed and are copied into the output byte for
 * byte unless a stage reads or changes them (docs/decisions/008-fast-path-protocol.md).
 */
export function defaultStages(options: DefaultStagesOptions): Stage<RecordBatch<KafkaRecord>, string | Uint8Array> {
  const raw = options.deserializer === undefined;
  const counters = options.counters ?? { events: 0, bytes: 0 };
  return (source) => {
    const deserialized = deserialize({
      rawJson: raw,
      ...(options.tombstones ? { tombstones: options.tombstones } : {}),
      ...(options.deserializer ? { deserializer: options.deserializer } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    })(source);
    const filtered = options.filterer ? filter(options.filterer)(deserialized) : deserialized;
    const counted = countEvents(counters)(options.transform ? options.transform(filtered) : filtered);
    if (options.format === 'ndjson') return ndjsonEncode()(counted);
    const tracked = pipe(
      counted,
      idTrack(options.positions, {
        useTimestampForId: options.useTimestampForId === true,
        ...(options.startTimestamp !== undefined ? { startTimestamp: options.startTimestamp } : {}),
      }),
    );
    // One Buffer per batch, raw records copied into it; a custom deserializer's records are framed as strings.
    return raw ? sseEncodeBytes()(tracked) : sseEncode()(tracked);
  };
}

export interface StreamFramingOptions {
  /** SSE (default) or NDJSON: NDJSON gets no preamble, heartbeats or error events. */
  format?: 'sse' | 'ndjson';
  /** Named in the first comment of the stream. */
  connectionId: string;
  /** The `retry:` hint sent first (ms; default 2,000; 0: none). */
  retryMs?: number;
  /** A comment after this long without output (ms; default 15,000; 0: none). */
  heartbeatMs?: number;
  /** Filled as chunks go out: `bytes` counts every byte sent. */
  counters?: StreamCounters;
  /** Called per chunk sent, with the events counted since the last call and its bytes. */
  onProgress?: (sent: { events: number; bytes: number }) => void;
  /** Told of the error that ended the stream, with what the client was sent. */
  onError?: (err: unknown, clientError: KafkaSseError) => void;
  /** Once aborted (client gone, server closing, lifetime), an error is just the end of the stream. */
  signal?: AbortSignal;
}

/**
 * What every stream gets around its records: one `event: error` if a stage fails, heartbeats while
 * idle, the preamble (a comment and `retry:`) first, and byte metering of everything sent.
 */
export function streamFraming(options: StreamFramingOptions): Stage<string | Uint8Array, string | Uint8Array> {
  const counters = options.counters ?? { events: 0, bytes: 0 };
  return (source) => {
    const framed = errorEvent({
      format: options.format ?? 'sse',
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })(source);
    if (options.format === 'ndjson') return meter(counters, options.onProgress)(framed);
    const interval = options.heartbeatMs ?? 15_000;
    const beating = interval > 0 ? heartbeat(interval)(framed) : framed;
    return meter(counters, options.onProgress)(preamble(`kafka-sse stream ${options.connectionId}`, options.retryMs ?? 2000)(beating));
  };
}
