// The Kafka client reaches below kafkajs's public API, so the kafkajs version is pinned exactly and
// `assertSupportedKafkajs` must refuse any other version. No broker is needed: nothing here connects.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { PINNED_KAFKAJS_VERSION, assertSupportedKafkajs, isRetriable, kafkaErrorType } from '../../src/kafka/kafkajsInternals.js';

const require = createRequire(import.meta.url);
/** The installed kafkajs's package.json, as cached by require — the very object the helper reads. */
const kafkajsPackage = require('kafkajs/package.json') as { version: string };
const offlineKafka = () => new Kafka({ clientId: 'pin-test', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });

/** Runs `fn` while require('kafkajs/package.json') reports `version`. */
function withInstalledVersion(version: string, fn: () => void): void {
  const real = kafkajsPackage.version;
  kafkajsPackage.version = version;
  try {
    fn();
  } finally {
    kafkajsPackage.version = real;
  }
}

describe('kafkajs pin', () => {
  it('pins the kafkajs version that is installed', () => {
    assert.equal(kafkajsPackage.version, PINNED_KAFKAJS_VERSION);
  });

  it('pins exactly that version in package.json (no range)', () => {
    const ours = require('../../package.json') as { dependencies: Record<string, string> };
    assert.equal(ours.dependencies.kafkajs, PINNED_KAFKAJS_VERSION);
  });

  it('passes with the installed kafkajs', () => {
    assert.doesNotThrow(() => assertSupportedKafkajs());
  });

  it('passes for a kafkajs instance that still exposes its cluster factory', () => {
    assert.doesNotThrow(() => assertSupportedKafkajs(offlineKafka()));
  });

  it('throws, naming both versions, when another kafkajs version is installed', () => {
    for (const other of ['2.2.5', '2.3.0', '3.0.0', '2.2.3', '2.2.4-beta.1']) {
      withInstalledVersion(other, () => {
        assert.throws(
          () => assertSupportedKafkajs(),
          (err: Error) => err.message.includes(PINNED_KAFKAJS_VERSION) && err.message.includes(other),
        );
      });
    }
    assert.doesNotThrow(() => assertSupportedKafkajs(), 'the real version is back');
  });

  it('checks the version before touching a kafkajs instance', () => {
    withInstalledVersion('9.9.9', () => {
      assert.throws(() => assertSupportedKafkajs(offlineKafka()), /9\.9\.9/);
    });
  });

  it('throws when a kafkajs instance lacks the private cluster factory', () => {
    const stripped = Object.create(Kafka.prototype) as Kafka;
    assert.throws(() => assertSupportedKafkajs(stripped), /cluster factory/);
  });

  it('reads kafkajs error types and retriability defensively', () => {
    assert.equal(kafkaErrorType({ type: 'OFFSET_OUT_OF_RANGE' }), 'OFFSET_OUT_OF_RANGE');
    for (const value of [undefined, null, 'x', {}, { type: 3 }]) assert.equal(kafkaErrorType(value), undefined);
    assert.equal(isRetriable({ retriable: true }), true);
    for (const value of [undefined, null, {}, { retriable: 'yes' }, { retriable: false }]) assert.equal(isRetriable(value), false);
  });
});
