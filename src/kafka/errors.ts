// What a failure from kafkajs means to a stream, decided in one place. kafkajs throws its own error
// classes (exported from 'kafkajs'), protocol errors carry Kafka's error `type` (OFFSET_OUT_OF_RANGE, …)
// and every kafkajs error says whether it is `retriable`. The classes are checked with instanceof against
// the kafkajs copy that made the user's instance (`kafkajsInternals(kafka).errors`), never by name.
import { KafkaUnavailableError } from '../errors.js';

/**
 * - `transient`: may pass (a broker down or restarting, a leader moving, a request timing out): retry.
 * - `offset-out-of-range`: the position left the log (retention): move it.
 * - `unknown-topic`: the topic or partition does not exist (any more).
 * - `permanent`: retrying will not help.
 */
export type ErrorKind = 'transient' | 'offset-out-of-range' | 'unknown-topic' | 'permanent';

type ErrorClass = abstract new (...args: never[]) => Error;

/** The kafkajs error classes whose errors pass by themselves even when kafkajs calls them non-retriable. */
export interface KafkajsErrorClasses {
  KafkaJSConnectionError: ErrorClass;
  KafkaJSRequestTimeoutError: ErrorClass;
  KafkaJSBrokerNotFound: ErrorClass;
  KafkaJSNumberOfRetriesExceeded: ErrorClass;
  KafkaJSLockTimeout: ErrorClass;
}

const CLASS_NAMES: Array<keyof KafkajsErrorClasses> = [
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSLockTimeout',
];

/** The error classes among a kafkajs module's exports, or the name of the first one missing. */
export function errorClassesOf(exports: Record<string, unknown>): KafkajsErrorClasses | string {
  const out: Partial<Record<keyof KafkajsErrorClasses, ErrorClass>> = {};
  for (const name of CLASS_NAMES) {
    const value = exports[name];
    if (typeof value !== 'function') return name;
    out[name] = value as ErrorClass;
  }
  return out as KafkajsErrorClasses;
}

/** The Kafka error type (`OFFSET_OUT_OF_RANGE`, …) of a kafkajs protocol error, if it has one. */
export function kafkaErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/** kafkajs's own verdict on whether retrying may help. */
export function isRetriable(err: unknown): boolean {
  return (err as { retriable?: unknown } | null)?.retriable === true;
}

/** What a failure means to a stream (see `ErrorKind`). */
export function classify(err: unknown, classes: KafkajsErrorClasses): ErrorKind {
  if (err instanceof KafkaUnavailableError) return 'transient';
  const type = kafkaErrorType(err);
  if (type === 'OFFSET_OUT_OF_RANGE') return 'offset-out-of-range';
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'INVALID_TOPIC_EXCEPTION') return 'unknown-topic';
  if (isRetriable(err)) return 'transient';
  for (const name of CLASS_NAMES) if (err instanceof classes[name]) return 'transient';
  return 'permanent';
}
