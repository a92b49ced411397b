// The Kafka client reaches below kafkajs's public API, so the kafkajs version is pinned exactly, and the
// version checked is that of the kafkajs that made the instance a user passes, not the library's own.
// Another version, or a kafkajs missing a private file, must give the pin message, never MODULE_NOT_FOUND.
// Copies of the installed kafkajs in a temporary folder play the user's kafkajs. Nothing here connects.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { KafkaClient } from '../../src/kafka/client.js';
import { PINNED_KAFKAJS_VERSION, assertSupportedKafkajs, kafkajsInternals } from '../../src/kafka/kafkajsInternals.js';

const require = createRequire(import.meta.url);
const installed = dirname(require.resolve('kafkajs/package.json'));
const config: KafkaConfig = { clientId: 'pin-test', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING };
const offlineKafka = () => new Kafka(config);

const scratch = mkdtempSync(join(tmpdir(), 'kafkajs-pin-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A copy of the installed kafkajs under `<scratch>/<name>/node_modules/kafkajs`, changed by `change`, and a
 * Kafka instance made by its own `Kafka` class (as a user's copy would make it).
 */
function kafkaFromCopy(name: string, change: (root: string) => void): Kafka {
  const root = join(scratch, name, 'node_modules', 'kafkajs');
  cpSync(installed, root, { recursive: true });
  change(root);
  const { Kafka: CopiedKafka } = createRequire(join(scratch, name, 'index.js'))('kafkajs') as { Kafka: typeof Kafka };
  assert.notEqual(CopiedKafka, Kafka, 'the copy is a kafkajs of its own');
  return new CopiedKafka(config);
}

function setVersion(root: string, version: string): void {
  const manifest = join(root, 'package.json');
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), version }));
}

/** The pin message: names the pinned version and the protocol layer, and is no module-loader error. */
function isPinMessage(...mentions: string[]) {
  return (err: Error & { code?: unknown }) =>
    err.code !== 'MODULE_NOT_FOUND' &&
    err.message.includes(`kafkajs ${PINNED_KAFKAJS_VERSION}'s protocol layer`) &&
    mentions.every((m) => err.message.includes(m));
}

describe('kafkajs pin', () => {
  it('pins the kafkajs version that is installed', () => {
    const { version } = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version, PINNED_KAFKAJS_VERSION);
  });

  it('names exactly that version wherever package.json names kafkajs (no range)', () => {
    const ours = require('../../package.json') as Record<string, Record<string, string> | undefined>;
    const named = ['dependencies', 'peerDependencies', 'devDependencies'].flatMap((field) => ours[field]?.kafkajs ?? []);
    assert.ok(named.length > 0, 'package.json names kafkajs');
    for (const version of named) assert.equal(version, PINNED_KAFKAJS_VERSION);
  });

  it('passes with the installed kafkajs, with and without an instance', () => {
    assert.doesNotThrow(() => assertSupportedKafkajs());
    assert.doesNotThrow(() => assertSupportedKafkajs(offlineKafka()));
  });

  it('loads the internals of the kafkajs that made the instance', () => {
    assert.equal(kafkajsInternals(offlineKafka()).root, installed);
    const copy = kafkaFromCopy('same-version', () => {});
    const internals = kafkajsInternals(copy);
    assert.equal(internals.root, join(scratch, 'same-version', 'node_modules', 'kafkajs'));
    assert.notEqual(internals.sendRequest, kafkajsInternals().sendRequest, "the copy's own Broker#sendRequest, which its brokers use");
    assert.doesNotThrow(() => new KafkaClient(copy), 'a second copy of the pinned version is fine');
  });

  it("refuses an instance made by another kafkajs version, naming both, though the library's own copy is the pinned one", () => {
    for (const other of ['2.2.5', '2.3.0', '2.2.4-beta.1']) {
      const kafka = kafkaFromCopy(`version-${other}`, (root) => setVersion(root, other));
      assert.throws(() => new KafkaClient(kafka), isPinMessage(other));
      assert.throws(() => assertSupportedKafkajs(kafka), isPinMessage(other));
    }
    assert.doesNotThrow(() => new KafkaClient(offlineKafka()), "the library's own kafkajs still passes");
  });

  it('gives the pin message, not MODULE_NOT_FOUND, when a private file it needs has moved', () => {
    // Private files kafkajs's public API loads without (removing the others would break kafkajs itself).
    for (const file of ['src/protocol/messageSet/decoder.js', 'src/protocol/requests/fetch/v1/response.js']) {
      const name = `moved-${file.replaceAll('/', '_')}`;
      const kafka = kafkaFromCopy(name, (root) => rmSync(join(root, file)));
      // The module named may be one that requires the moved file.
      assert.throws(() => new KafkaClient(kafka), isPinMessage('(version 2.2.4) has no src/'), file);
    }
  });

  it('gives the pin message when a private hook is gone from a file still in place', () => {
    const kafka = kafkaFromCopy('no-send-request', (root) => {
      const broker = join(root, 'src/broker/index.js');
      writeFileSync(broker, readFileSync(broker, 'utf8').replaceAll("Symbol('private:Broker:sendRequest')", "Symbol('renamed')"));
    });
    assert.throws(() => new KafkaClient(kafka), isPinMessage('Broker#sendRequest'));
  });

  it('throws when a kafkajs instance lacks the private cluster factory', () => {
    const stripped = Object.create(Kafka.prototype) as Kafka;
    assert.throws(() => assertSupportedKafkajs(stripped), /cluster factory/);
  });

  it('refuses an object no loaded kafkajs made, with a message saying so', () => {
    assert.throws(() => new KafkaClient({} as Kafka), isPinMessage('version cannot be checked'));
  });
});
