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
