import type { DeserializedRecord, KafkaRecord } from '../types.js';

const UNSET: unique symbol = Symbol('unset');

/**
 * A record the default JSON deserializer let through without parsing: its value was checked by
 * `rawJsonObject` and is sent to the client as it is, with `,"_kafka":{…}` spliced in before the closing
 * brace. `message` is still there for anyone who reads it: the first read parses the value (plus
 * `_kafka`, exactly as `jsonDeserializer` does) and from then on the record is encoded from that object,
 * so changes made to it are what the client gets.
 */
export class RawJsonRecord implements DeserializedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaRecord['headers'];
  /** The value's bytes when it was checked. */
  readonly raw: Buffer;
  /** Whether the value is `{}`. */
  readonly empty: boolean;
  private parsed: unknown = UNSET;

  constructor(record: KafkaRecord, raw: Buffer, empty: boolean) {
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.timestamp = record.timestamp;
    this.key = record.key;
    this.value = record.value;
    this.headers = record.headers;
    this.raw = raw;
    this.empty = empty;
  }

  get message(): unknown {
    if (this.parsed === UNSET) {
      const message = JSON.parse(this.raw.toString('utf8')) as Record<string, unknown>;
      message._kafka = kafkaMeta(this);
      this.parsed = message;
    }
    return this.parsed;
  }

  set message(value: unknown) {
    this.parsed = value;
  }

  /** True once `message` has been read or set: from then on it, not the raw bytes, is the record's content. */
  get materialized(): boolean {
    return this.parsed !== UNSET;
  }

  /** The JSON text of `message`, built from the raw bytes (only valid while not `materialized`). */
  json(): string {
    const parts: string[] = [];
    this.pushJson(parts);
    return parts.join('');
  }

  /** The `_kafka` member up to its offset: `,"_kafka":{"topic":…,"partition":…,"offset":` (no comma for `{}`). */
  kafkaHead(): string {
    return `${this.empty ? '"_kafka":' : ',"_kafka":'}${kafkaMetaHead(this)}`;
  }

  /** Appends the pieces of `json()` to `parts`. */
  pushJson(parts: string[]): void {
    const raw = this.raw;
    parts.push(raw.toString('utf8', 0, raw.length - 1), this.kafkaHead(), kafkaMetaTail(this));
  }
}

/** The `_kafka` member the default deserializer adds. */
export function kafkaMeta(record: KafkaRecord) {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : record.key.toString('utf8'),
  };
}

// The members of `_kafka` after `offset`, as JSON.stringify writes them (sseEncodeBytes writes the same).
export const TIMESTAMP_MEMBER = ',"timestamp":';
export const KEY_MEMBER = ',"key":';

let lastTopic: string | undefined;
let lastTopicJson = '';

/** `{"topic":…,"partition":…,"offset":`: `kafkaMeta` as JSON.stringify writes it, up to the offset. */
function kafkaMetaHead(r: KafkaRecord): string {
  if (r.topic !== lastTopic) {
    lastTopic = r.topic;
    lastTopicJson = `{"topic":${JSON.stringify(r.topic)},"partition":`;
  }
  return `${lastTopicJson}${r.partition},"offset":`;
}

/** The rest of `kafkaMeta` from the offset on, and the closing brace of the record's object. */
function kafkaMetaTail(r: KafkaRecord): string {
  const ts = Number.isFinite(r.timestamp) ? String(r.timestamp) : 'null';
  const offset = Number.isFinite(r.offset) ? String(r.offset) : 'null';
  const key = r.key === null ? 'null' : JSON.stringify(r.key.toString('utf8'));
  return `${offset}${TIMESTAMP_MEMBER}${ts}${KEY_MEMBER}${key}}}`;
}
