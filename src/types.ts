import type { IncomingHttpHeaders } from 'node:http';

/** A Kafka record as read from a partition; what deserializers and filters receive. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Milliseconds since the epoch (CreateTime or LogAppendTime, as the topic is configured). */
  readonly timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
}

/** A record after deserialization: `message` is what is sent to the client. */
export interface DeserializedRecord extends KafkaRecord {
  message: unknown;
  /**
   * On records of the raw-JSON fast path (`RawJsonRecord`): the bytes to send instead of
   * `JSON.stringify(message)`, or null. Absent elsewhere; never set it yourself.
   */
  readonly rawJson?: Buffer | null;
}

/**
 * A record of the raw-JSON fast path, as `deserialize(…, { rawJson: true })` (and so `kafkaSse` with the
 * default deserializer) makes it: its value is a plain JSON object, checked but not parsed.
 *
 * - `rawJson` (a getter on the prototype) gives the value's bytes while `message` has not been read, or
 *   was read and still holds exactly what was parsed; every encoder then writes the event data from them:
 *   the value with `,"_kafka":{…}` spliced in before its closing brace. Once `message` was set, or what
 *   was read has changed (a key added, removed or reordered, a value replaced, at any depth), it is null
 *   and the record is encoded from `message`.
 * - `message` is an own, enumerable accessor: its first read parses the value and adds `_kafka`, as the
 *   default deserializer does. Copies (spread, `Object.assign`, `structuredClone`) therefore carry the
 *   message, as a plain property, and no `rawJson`: a copy is always encoded from its message.
 *
 * A stage keeps the fast path by passing on the record objects it keeps (filtering, reordering,
 * re-batching, adding fields to them in place). Reading `message` costs a parse per record but not the
 * fast path; copying a record costs the parse and the fast path (the copy is stringified).
 */
export interface RawJsonRecord extends DeserializedRecord {
  readonly rawJson: Buffer | null;
}

/** How far a client has read in one partition: the next offset to read, or a timestamp to start at. */
export interface Position {
  topic: string;
  partition: number;
  offset: number;
}

/** A position as it appears in event ids when `useTimestampForId` is on. */
export interface TimestampPosition {
  topic: string;
  partition: number;
  timestamp: number;
}

/** Progress through one partition made by a batch: the next offset and the last record's timestamp. */
export interface PartitionProgress {
  topic: string;
  partition: number;
  nextOffset: number;
  lastTimestamp?: number;
}

/**
 * What flows between stages: the records of one fetch plus the progress the fetch made.
 * Stages that drop records (a deserializer skipping bad JSON, a filter) keep `progress`, so records a
 * client never saw still count as read.
 */
export interface RecordBatch<R> {
  records: R[];
  progress: PartitionProgress[];
}

/** A record paired with the SSE event id the client holds once it has received it. */
export interface TrackedRecord<R extends KafkaRecord = DeserializedRecord> {
  readonly record: R;
  readonly id: string;
  /**
   * Optional, set by `idTrack`: `id` is `idRun.head`, then `idNumber` as JSON writes it, then `idRun.tail`.
   * An encoder may write these parts instead of making `id` (the parts are shared by a run of records).
   */
  readonly idRun?: IdParts;
  readonly idNumber?: number;
}

/** The parts of an event id around one partition's number, shared by a run of records of that partition. */
export interface IdParts {
  readonly head: string;
  readonly tail: string;
}

/** A batch whose records went through `idTrack`: `id` is the event id after the whole batch. */
export interface TrackedBatch<R extends KafkaRecord = DeserializedRecord> {
  records: TrackedRecord<R>[];
  id: string;
  /** True when the stream has just started or caught up: nothing more to read for now. */
  idle: boolean;
}

/** A pipeline stage: an async-iterable transform, composable with it-pipe. */
export type Stage<In, Out> = (source: AsyncIterable<In>) => AsyncIterable<Out>;

/** The pino-compatible logger kafka-sse writes to. */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** The parts of an HTTP request kafka-sse reads. */
export interface RequestLike {
  headers: IncomingHttpHeaders;
  /** The request URL (path and query, or absolute); read for `?lastEventId=`. */
  url?: string | undefined;
  socket?: { remoteAddress?: string | undefined };
}
