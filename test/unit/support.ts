// Shared helpers for the unit tests: records without Kafka, a logger that remembers, error assertions.
import assert from 'node:assert/strict';
import { setImmediate as macrotask } from 'node:timers/promises';
import { KafkaSseError } from '../../src/errors.js';
import type { DeserializedRecord, KafkaRecord, Logger } from '../../src/types.js';
import { within } from '../helpers/wait.js';

export { within };

/** A Kafka record as the client would hand it over; `value` objects are JSON-encoded. */
export function kafkaRecord(init: Partial<Omit<KafkaRecord, 'value' | 'key'>> & { value?: unknown; key?: string | Buffer | null } = {}): KafkaRecord {
  const { value = { n: 1 }, key = null, ...rest } = init;
  return {
    topic: 't',
    partition: 0,
    offset: 0,
    timestamp: 1_700_000_000_000,
    headers: {},
    ...rest,
    key: key === null ? null : Buffer.isBuffer(key) ? key : Buffer.from(key),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  };
}

/** A deserialized record carrying `message`. */
export function deserializedRecord(init: Partial<Omit<KafkaRecord, 'value' | 'key'>> & { message?: unknown } = {}): DeserializedRecord {
  const { message = { n: 1 }, ...rest } = init;
  return { ...kafkaRecord(rest), message };
}

export interface LogCall {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: unknown;
  msg: string | undefined;
}

/** A pino-shaped logger that records every call (children share the record). */
export function recordingLogger(calls: LogCall[] = []): Logger & { calls: LogCall[] } {
  const at = (level: LogCall['level']) => (obj: unknown, msg?: string) => {
    calls.push({ level, obj, msg });
  };
  return {
    calls,
    child: () => recordingLogger(calls),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

/** Asserts that `caught` is a KafkaSseError with this stable code and HTTP status; returns it. */
function assertCode(caught: unknown, code: string, status: number): KafkaSseError {
  assert.ok(caught !== undefined, `expected ${code} to be thrown, but nothing was`);
  assert.ok(caught instanceof KafkaSseError, `expected a KafkaSseError, got ${String(caught)}`);
  assert.equal(caught.code, code, `wrong code (message: ${caught.message})`);
  assert.equal(caught.status, status);
  return caught;
}

/** Asserts that `fn` throws a KafkaSseError with this stable code and HTTP status; returns it. */
export function assertThrowsCode(fn: () => unknown, code: string, status: number): KafkaSseError {
  try {
    fn();
  } catch (err) {
    return assertCode(err, code, status);
  }
  return assertCode(undefined, code, status);
}

/** Async variant of assertThrowsCode. */
export async function assertRejectsCode(promise: Promise<unknown>, code: string, status: number): Promise<KafkaSseError> {
  try {
    await promise;
  } catch (err) {
    return assertCode(err, code, status);
  }
  return assertCode(undefined, code, status);
}

/**
 * Lets every pending microtask and I/O callback run. Used only to show that something did NOT happen
 * (a pull that must not occur); anything that should happen is awaited directly.
 */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await macrotask();
}

/** Whether `promise` has settled by now (after letting pending callbacks run). */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  return settled;
}


/** An async source that counts how often it was pulled and whether it was closed. */
export function countingSource<T>(items: T[]): AsyncIterable<T> & { pulls: number; finished: boolean } {
  const state = {
    pulls: 0,
    finished: false,
    async *[Symbol.asyncIterator]() {
      try {
        for (const item of items) {
          state.pulls++;
          yield item;
        }
      } finally {
        state.finished = true;
      }
    },
  };
  return state;
}
