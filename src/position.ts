// Parsing and validation of what a client asks for: topic names, assignment objects and the
// `Last-Event-ID` header. Pure: no I/O, every failure a KafkaSseError with status 400 (or 431).
import {
  HeaderTooLargeError,
  InvalidAssignmentError,
  InvalidTimestampError,
  InvalidTopicNameError,
} from './errors.js';

/** One partition to read, starting at an `offset`, or else a `timestamp` (ms epoch). Offset wins. */
export interface Assignment {
  topic: string;
  partition: number;
  offset?: number | string;
  timestamp?: number;
}

/**
 * Where one request starts. `topics` start at the latest offset of every partition (or `atTimestamp`);
 * `partitions` start where they say, falling back to `atTimestamp`, then latest.
 */
export interface StartRequest {
  topics: string[];
  partitions: Array<{ topic: string; partition: number; offset?: number; timestamp?: number }>;
}

export interface ParseLimits {
  /** Largest `Last-Event-ID` accepted, in bytes (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Most assignments one request may name (default 1,000). */
  maxAssignments?: number;
}

/** A safe, short description of any client-supplied value (never calls its methods). */
function describe(value: unknown): string | number | boolean | null {
  if (typeof value === 'string') return value.slice(0, 300);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  return Array.isArray(value) ? 'array' : typeof value;
}

const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_ASSIGNMENTS = 1000;
const MAX_PARTITION = 2 ** 31 - 1;
// Kafka's own rule: ASCII alphanumerics, '.', '_' and '-', at most 249 characters, not '.' or '..'.
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Throws unless `name` is a topic name Kafka accepts. */
export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidTopicNameError('Topic names must be non-empty strings', { topic: describe(name) });
  }
  if (name === '.' || name === '..' || !LEGAL_TOPIC.test(name)) {
    throw new InvalidTopicNameError(
      'Topic names may contain only ASCII letters, digits, ".", "_" and "-", up to 249 characters, and may not be "." or ".."',
      { topic: name.slice(0, 300) },
    );
  }
  return name;
}

function nonNegativeInteger(value: unknown, field: string, max: number, allowDigitString: boolean): number {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (allowDigitString && typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) n = Number(value);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > max) {
    throw new InvalidAssignmentError(
      `"${field}" must be a non-negative integer${allowDigitString ? ' (or a string of digits)' : ''} no larger than ${max}`,
      { field, value: describe(value ?? null) },
    );
  }
  return n;
}

function parseAssignment(raw: unknown, index: number): StartRequest['partitions'][number] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidAssignmentError('Each assignment must be an object {topic, partition, offset|timestamp}', { index });
  }
  // Only own, known keys are read; anything else (including __proto__ or constructor) is ignored.
  const get = (key: string): unknown => (Object.prototype.hasOwnProperty.call(raw, key) ? (raw as Record<string, unknown>)[key] : undefined);
  const topic = validateTopicName(get('topic'));
  const partition = nonNegativeInteger(get('partition'), 'partition', MAX_PARTITION, false);
  const rawOffset = get('offset');
  const rawTimestamp = get('timestamp');
  const out: StartRequest['partitions'][number] = { topic, partition };
  if (rawOffset !== undefined && rawOffset !== null) {
    out.offset = nonNegativeInteger(rawOffset, 'offset', Number.MAX_SAFE_INTEGER, true);
  }
  if (rawTimestamp !== undefined && rawTimestamp !== null) {
    out.timestamp = nonNegativeInteger(rawTimestamp, 'timestamp', Number.MAX_SAFE_INTEGER, false);
  }
  return out;
}

function checkDuplicates(request: StartRequest): StartRequest {
  const seen = new Set<string>();
  for (const { topic, partition } of request.partitions) {
    const key = `${topic}\u0000${partition}`;
    if (seen.has(key)) {
      throw new InvalidAssignmentError('A partition is assigned more than once', { topic, partition });
    }
    seen.add(key);
  }
  // A topic asked for whole and by partition would be read twice.
  const byPartition = new Set(request.partitions.map((p) => p.topic));
  const whole = new Set<string>();
  for (const topic of request.topics) {
    if (byPartition.has(topic) || whole.has(topic)) {
      throw new InvalidAssignmentError('A topic is requested more than once', { topic });
    }
    whole.add(topic);
  }
  return request;
}

/**
 * Parses the `assignments` argument of `kafkaSse`: a topic name, comma-separated names, or an array of
 * names and assignment objects.
 */
export function parseAssignments(input: unknown, limits: ParseLimits = {}): StartRequest {
  const items = typeof input === 'string' ? input.split(',') : input;
  if (!Array.isArray(items)) {
    throw new InvalidAssignmentError('Assignments must be topic names or an array of {topic, partition} objects');
  }
  const max = limits.maxAssignments ?? DEFAULT_MAX_ASSIGNMENTS;
  if (items.length > max) {
    throw new InvalidAssignmentError(`At most ${max} topics or assignments may be requested at once`, { count: items.length });
  }
  const request: StartRequest = { topics: [], partitions: [] };
  items.forEach((item: unknown, index) => {
    if (typeof item === 'string') request.topics.push(validateTopicName(item.trim()));
    else request.partitions.push(parseAssignment(item, index));
  });
  if (request.topics.length === 0 && request.partitions.length === 0) {
    throw new InvalidAssignmentError('No topics were requested');
  }
  return checkDuplicates(request);
}

/**
 * Parses a `Last-Event-ID` header: a JSON array of `{topic, partition, offset|timestamp}`. Its size is
 * checked before anything is parsed.
 */
export function parseLastEventId(header: string, limits: ParseLimits = {}): StartRequest {
  const maxBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (header.length > maxBytes || Buffer.byteLength(header) > maxBytes) {
    throw new HeaderTooLargeError(`Last-Event-ID is larger than ${maxBytes} bytes`, { limit: maxBytes });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(header);
  } catch {
    throw new InvalidAssignmentError('Last-Event-ID is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new InvalidAssignmentError('Last-Event-ID must be a non-empty JSON array of {topic, partition, offset|timestamp}');
  }
  if (parsed.some((item) => item === null || typeof item !== 'object' || Array.isArray(item))) {
    throw new InvalidAssignmentError('Every Last-Event-ID entry must be an object {topic, partition, offset|timestamp}');
  }
  return parseAssignments(parsed, limits);
}

/** Parses a start time: ms since the epoch as a number or digit string, or an ISO-8601 date. */
export function parseTimestamp(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && value.length > 0 && value.length <= 64) {
    if (/^[0-9]+$/.test(value)) {
      const n = Number(value);
      if (Number.isSafeInteger(n)) return n;
    } else {
      const t = parseIsoDate(value);
      if (t !== undefined) return t;
    }
  }
  throw new InvalidTimestampError('A start time must be milliseconds since the epoch or an ISO-8601 date', {
    value: typeof value === 'string' ? value.slice(0, 64) : describe(value),
  });
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO-8601 date or date-time, rejecting impossible ones (2024-02-30) that Date.parse would roll over. */
function parseIsoDate(value: string): number | undefined {
  const m = ISO_DATE.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const t = Date.parse(value.replace(' ', 'T'));
  return Number.isFinite(t) && t >= 0 ? t : undefined;
}
