// The raw-JSON fast path: its record (see `RawJsonRecord` in types.ts and docs/decisions/008), and the one
// owner of the `_kafka` member the default deserializer adds, as an object (`kafkaMeta`), as JSON text
// (`messageJson`) and as bytes written into an encoder's Buffer (`RawJsonWriter`).
import type { DeserializedRecord, KafkaRecord, RawJsonRecord as RawJsonRecordShape } from '../types.js';

/** The `_kafka` member the default deserializer adds to every message. */
export function kafkaMeta(record: KafkaRecord) {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : record.key.toString('utf8'),
  };
}

const UNREAD = 0;
const READ = 1;
const SET = 2;

/**
 * A record the default JSON deserializer let through unparsed (its value checked by `rawJsonObject`); see
 * `RawJsonRecord` in types.ts for the protocol. `message` is an own, enumerable accessor, so copies
 * (spread, `Object.assign`, `structuredClone`) get the message; `rawJson` is a getter on the prototype,
 * so copies never carry bytes beside a message they may change. Its first read parses the value, adds
 * `_kafka` and notes every container and value in it; from then on `rawJson` gives the bytes only while
 * the message still holds exactly those (what `JSON.stringify` would write is unchanged).
 */
export class RawJsonRecord implements RawJsonRecordShape {
  declare readonly topic: string;
  declare readonly partition: number;
  declare readonly offset: number;
  declare readonly timestamp: number;
  declare key: Buffer | null;
  declare value: Buffer | null;
  declare headers: KafkaRecord['headers'];
  declare message: unknown;
  #raw: Buffer;
  #state = UNREAD;
  #message: unknown;
  /** What `unchanged` compares the message with, once read. */
  #noted: unknown[] | undefined;

  // One getter and one setter for every record, so records share their hidden class.
  static readonly #accessor: PropertyDescriptor = {
    get(this: RawJsonRecord): unknown {
      if (this.#state !== UNREAD) return this.#message;
      const message = JSON.parse(this.#raw.toString('utf8')) as Record<string, unknown>;
      message._kafka = kafkaMeta(this);
      this.#message = message;
      this.#state = READ;
      const noted: unknown[] = [];
      note(message, noted);
      this.#noted = noted;
      return message;
    },
    set(this: RawJsonRecord, value: unknown) {
      this.#message = value;
      this.#state = SET;
      this.#noted = undefined;
    },
    enumerable: true,
    configurable: true,
  };

  /** `raw`: the value's bytes, which `rawJsonObject` accepted. */
  constructor(record: KafkaRecord, raw: Buffer) {
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.timestamp = record.timestamp;
    this.key = record.key;
    this.value = record.value;
    this.headers = record.headers;
    this.#raw = raw;
    Object.defineProperty(this, 'message', RawJsonRecord.#accessor);
  }

  /** The bytes to send, while `message` is unread or still exactly what they hold; else null. */
  get rawJson(): Buffer | null {
    if (this.#state === UNREAD) return this.#raw;
    if (this.#state === READ && unchanged(this.#message, this.#noted!, 0) >= 0) return this.#raw;
    if (this.#state === READ) {
      this.#state = SET;
      this.#noted = undefined;
    }
    return null;
  }

  /**
   * When `record` is a RawJsonRecord whose message was read and is unchanged, lets go of the parsed message
   * (the next read parses again): it is sent from its bytes anyway, and the parsed object can die young.
   */
  static forgetUnchanged(record: object): void {
    if (!(#raw in record) || record.#state !== READ || unchanged(record.#message, record.#noted!, 0) < 0) return;
    record.#state = UNREAD;
    record.#message = undefined;
    record.#noted = undefined;
  }

  /** True once `message` was read or set. */
  get materialized(): boolean {
    return this.#state !== UNREAD;
  }

  /** The JSON text the client gets as the event's data. */
  json(): string {
    return messageJson(this);
  }
}

const EMPTY_OBJECT = Buffer.from('{}');

/**
 * A tombstone (a record with a null value) sent as a delete: its message is `{ _kafka }` alone, written
 * like any raw record (`{}` with `_kafka` spliced in), and encoders send it as `event: delete`.
 * `tombstone` is an own field, so copies of the record stay deletes.
 */
export class TombstoneRecord extends RawJsonRecord {
  readonly tombstone = true;
  constructor(record: KafkaRecord) {
    super(record, EMPTY_OBJECT);
  }
}

/** True for a tombstone sent as a delete (`deserialize({ tombstones: 'delete' })`), or a copy of one. */
export function isTombstone(record: object): boolean {
  return (record as { tombstone?: unknown }).tombstone === true;
}

/**
 * Notes `value` as `JSON.stringify` sees it: each object (itself, its key count, then each own enumerable
 * key and value) and array (itself, its length, its items), depth first.
 */
function note(value: unknown, into: unknown[]): void {
  if (Array.isArray(value)) {
    into.push(value, value.length);
    for (const item of value) {
      into.push(item);
      if (typeof item === 'object' && item !== null) note(item, into);
    }
  } else {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object);
    into.push(object, keys.length);
    for (const key of keys) {
      const item = object[key];
      into.push(key, item);
      if (typeof item === 'object' && item !== null) note(item, into);
    }
  }
}

/** Walks `value` as `note` did; returns where its notes end in `noted`, or -1 at the first difference. */
function unchanged(value: unknown, noted: unknown[], at: number): number {
  if (noted[at] !== value) return -1;
  if (Array.isArray(value)) {
    if (noted[at + 1] !== value.length) return -1;
    at += 2;
    for (const item of value) {
      if (noted[at++] !== item) return -1;
      if (typeof item === 'object' && item !== null && (at = unchanged(item, noted, at)) < 0) return -1;
    }
    return at;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (noted[at + 1] !== keys.length) return -1;
  at += 2;
  for (const key of keys) {
    const item = object[key];
    if (noted[at] !== key || noted[at + 1] !== item) return -1;
    at += 2;
    if (typeof item === 'object' && item !== null && (at = unchanged(item, noted, at)) < 0) return -1;
  }
  return at;
}

/** The JSON text of a record's message: from the bytes while `rawJson` is set, else `JSON.stringify`. */
export function messageJson(record: DeserializedRecord): string {
  const raw = record.rawJson;
  if (raw === undefined || raw === null) return JSON.stringify(record.message) ?? 'null';
  return `${raw.toString('utf8', 0, raw.length - 1)}${isEmptyObject(raw) ? '"_kafka":' : ',"_kafka":'}${kafkaMetaHead(record)}${kafkaMetaTail(record)}}`;
}

/** Whether `raw` (an object `rawJsonObject` accepted) has no members: `{`, spaces or tabs, `}`. */
function isEmptyObject(raw: Uint8Array): boolean {
  let i = raw.length - 2;
  while (i > 0 && (raw[i] === 0x20 || raw[i] === 0x09)) i--;
  return raw[i] === 0x7b;
}

// `kafkaMeta(r)` as JSON.stringify writes it, in two parts: up to the offset (the same for a run of records
// of one partition), and from the offset on.
const TIMESTAMP_MEMBER = ',"timestamp":';
const KEY_MEMBER = ',"key":';
let lastTopic: string | undefined;
let lastTopicJson = '';

/** `{"topic":…,"partition":…,"offset":` */
function kafkaMetaHead(r: KafkaRecord): string {
  if (r.topic !== lastTopic) {
    lastTopic = r.topic;
    lastTopicJson = `{"topic":${JSON.stringify(r.topic)},"partition":`;
  }
  return `${lastTopicJson}${jsonNumber(r.partition)},"offset":`;
}

/** `<offset>,"timestamp":<timestamp>,"key":<key>}` */
function kafkaMetaTail(r: KafkaRecord): string {
  const key = r.key === null ? 'null' : JSON.stringify(r.key.toString('utf8'));
  return `${jsonNumber(r.offset)}${TIMESTAMP_MEMBER}${jsonNumber(r.timestamp)}${KEY_MEMBER}${key}}`;
}

/** A number as JSON.stringify writes it: its digits, or null when not finite. */
export const jsonNumber = (value: number) => (Number.isFinite(value) ? String(value) : 'null');

/** Bytes of a string, cached per distinct string (id parts of a run, `_kafka` prefixes). */
export class ByteCache {
  private readonly map = new Map<string, Buffer>();
  get(text: string): Buffer {
    let bytes = this.map.get(text);
    if (bytes === undefined) {
      if (this.map.size >= 64) this.map.clear();
      bytes = Buffer.from(text, 'utf8');
      this.map.set(text, bytes);
    }
    return bytes;
  }
}

/** The most bytes `writeNumber` writes: a sign and 16 digits, or "null". */
export const NUMBER_BYTES = 20;

/** Writes the digits of `n`, an integer in [0, 2^31), at `at`; returns the new end. */
function writeDigits(chunk: Buffer, at: number, n: number, minDigits: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  if (digits < minDigits) digits = minDigits;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = (n / 10) | 0;
    chunk[i] = 0x30 + n - q * 10;
    n = q;
  }
  return end;
}

/** Writes `n` as JSON.stringify would (an integer's digits, `null` when not finite) at `at`; returns the new end. */
export function writeNumber(chunk: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n)) return at + chunk.write(jsonNumber(n), at, 'latin1');
  if (n < 0) {
    chunk[at++] = 0x2d;
    n = -n;
  }
  if (n < 0x80000000) return writeDigits(chunk, at, n, 1);
  // Timestamps and large offsets: the digits above the last nine, then those nine.
  const high = Math.floor(n / 1e9);
  return writeDigits(chunk, writeNumber(chunk, at, high), n - high * 1e9, 9);
}

/** Copies `bytes` into `chunk` at `at`; returns the new end. Short pieces by hand, which beats `set`'s call. */
export function put(chunk: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length;
  if (n > 48) {
    chunk.set(bytes, at);
    return at + n;
  }
  for (let i = 0; i < n; i++) chunk[at + i] = bytes[i]!;
  return at + n;
}

const TIMESTAMP_FIELD = Buffer.from(TIMESTAMP_MEMBER);
const KEY_FIELD = Buffer.from(KEY_MEMBER);
const NULL_KEY_END = Buffer.from(`${KEY_MEMBER}null}}`);
const END_OF_KAFKA = Buffer.from('}}');

/**
 * Writes the event data of records with `rawJson` set straight into a Buffer, byte for byte what
 * `messageJson` returns: the value without its `}`, then `,"_kafka":{…}}` from cached prefixes and digits.
 */
export class RawJsonWriter {
  private readonly cache = new ByteCache();
  private metaTopic: string | undefined;
  private metaPartition = Number.NaN;
  private metaEmpty = false;
  private metaHead: Buffer = Buffer.alloc(0);
  // Records produced together share their millisecond: the digits written last, to copy.
  private lastChunk: Buffer | undefined;
  private lastTimestamp = Number.NaN;
  private lastTimestampAt = -1;
  private lastTimestampLength = 0;

  /** An upper bound of what `write` writes for `record`. */
  maxBytes(record: KafkaRecord, raw: Buffer): number {
    return raw.length + 128 + record.topic.length * 6 + 3 * NUMBER_BYTES + (record.key === null ? 0 : record.key.length * 6 + 2);
  }

  /** Writes the event data of `record`, whose `rawJson` is `raw`, at `at`; returns the new end. */
  write(chunk: Buffer, at: number, record: KafkaRecord, raw: Buffer): number {
    chunk.set(raw, at);
    at += raw.length - 1;
    const empty = raw.length === 2 || isEmptyObject(raw);
    if (record.topic !== this.metaTopic || record.partition !== this.metaPartition || empty !== this.metaEmpty) {
      this.metaTopic = record.topic;
      this.metaPartition = record.partition;
      this.metaEmpty = empty;
      this.metaHead = this.cache.get(`${empty ? '"_kafka":' : ',"_kafka":'}${kafkaMetaHead(record)}`);
    }
    at = writeNumber(chunk, put(chunk, at, this.metaHead), record.offset);
    at = put(chunk, at, TIMESTAMP_FIELD);
    if (record.timestamp === this.lastTimestamp && chunk === this.lastChunk) {
      const from = this.lastTimestampAt;
      this.lastTimestampAt = at;
      for (let d = 0; d < this.lastTimestampLength; d++) chunk[at++] = chunk[from + d]!;
    } else {
      this.lastChunk = chunk;
      this.lastTimestamp = record.timestamp;
      this.lastTimestampAt = at;
      at = writeNumber(chunk, at, record.timestamp);
      this.lastTimestampLength = at - this.lastTimestampAt;
    }
    if (record.key === null) return put(chunk, at, NULL_KEY_END);
    at = put(chunk, at, KEY_FIELD);
    at += chunk.write(JSON.stringify(record.key.toString('utf8')), at);
    return put(chunk, at, END_OF_KAFKA);
  }
}
