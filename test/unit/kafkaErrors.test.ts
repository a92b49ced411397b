// classify: what a failure from kafkajs means to a stream, judged by kafkajs's own error classes, its
// protocol error types and its `retriable` flag, never by the error's name. Nothing here connects.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { KafkaUnavailableError } from '../../src/errors.js';
import { classify, isRetriable, kafkaErrorType } from '../../src/kafka/errors.js';
import { kafkajsInternals } from '../../src/kafka/kafkajsInternals.js';

const require = createRequire(import.meta.url);
type ErrorClass = new (...args: unknown[]) => Error;
const kafkajs = require('kafkajs') as Record<string, ErrorClass>;
const classes = kafkajsInternals().errors;
/** A protocol error as kafkajs raises it for a broker's error code. */
const protocolError = (type: string, retriable: boolean) => new kafkajs.KafkaJSProtocolError!({ type, retriable, message: type, code: 1 });

describe('classify', () => {
  it('calls connection failures, timeouts, a missing broker, spent retries and lock timeouts transient', () => {
    for (const name of ['KafkaJSConnectionError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound', 'KafkaJSLockTimeout', 'KafkaJSConnectionClosedError']) {
      assert.equal(classify(new kafkajs[name]!('x'), classes), 'transient', name);
    }
    const spent = new kafkajs.KafkaJSNumberOfRetriesExceeded!(new Error('x'), { retryCount: 5, retryTime: 100 });
    assert.equal((spent as Error & { retriable?: boolean }).retriable, false, 'kafkajs calls it non-retriable');
    assert.equal(classify(spent, classes), 'transient');
  });

  it('does not go by the name: a non-retriable error named like a connection error is permanent', () => {
    const impostor = Object.assign(new Error('x'), { name: 'KafkaJSConnectionError', retriable: false });
    assert.equal(classify(impostor, classes), 'permanent');
  });

  it("calls KafkaUnavailableError and anything kafkajs calls retriable transient", () => {
    assert.equal(classify(new KafkaUnavailableError('down'), classes), 'transient');
    assert.equal(classify(protocolError('NOT_LEADER_OR_FOLLOWER', true), classes), 'transient');
  });

  it('names offsets out of range and unknown topics', () => {
    assert.equal(classify(protocolError('OFFSET_OUT_OF_RANGE', false), classes), 'offset-out-of-range');
    assert.equal(classify(protocolError('UNKNOWN_TOPIC_OR_PARTITION', true), classes), 'unknown-topic');
    assert.equal(classify(protocolError('INVALID_TOPIC_EXCEPTION', false), classes), 'unknown-topic');
  });

  it('calls everything else permanent', () => {
    for (const err of [new Error('x'), protocolError('CORRUPT_MESSAGE', false), new kafkajs.KafkaJSNonRetriableError!('x'), undefined, null, 'text']) {
      assert.equal(classify(err, classes), 'permanent', String(err));
    }
  });

  it('reads kafkajs error types and retriability defensively', () => {
    assert.equal(kafkaErrorType({ type: 'OFFSET_OUT_OF_RANGE' }), 'OFFSET_OUT_OF_RANGE');
    for (const value of [undefined, null, 'x', {}, { type: 3 }]) assert.equal(kafkaErrorType(value), undefined);
    assert.equal(isRetriable({ retriable: true }), true);
    for (const value of [undefined, null, {}, { retriable: 'yes' }, { retriable: false }]) assert.equal(isRetriable(value), false);
  });
});
