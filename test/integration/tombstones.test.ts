// Tombstones on a compacted topic (real broker): with `tombstones: 'delete'` a null value is sent as
// `event: delete` with its id and data `{"_kafka":…}` (NDJSON: the same line plus `"_deleted":true`);
// by default it is skipped and only moves the id. The server's `--tombstones delete` passes the option.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { parseCli } from '../../src/server/config.js';
import { createKafkaSseServer } from '../../src/server/server.js';
import { parseSse } from '../e2e/helpers/cliProcess.js';
import { createTopicsReady, produce, testBrokers } from '../helpers/kafka.js';
import { readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const topic = `tombstones-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
{
  const admin = new Kafka({ clientId: 'tombstones-test', brokers: testBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  after(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });
  const topics = [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }];
  await createTopicsReady(admin, topics);
}
// k1=v, then k1's tombstone, then k2=w: offsets 0, 1, 2.
await produce(topic, [
  { partition: 0, key: 'k1', value: { v: 1 } },
  { partition: 0, key: 'k1', value: null },
  { partition: 0, key: 'k2', value: { w: 2 } },
]);

const kafka = sharedKafka();
const fromStart = JSON.stringify([{ topic, partition: 0, offset: 0 }]);
const idAt = (offset: number) => JSON.stringify([{ topic, partition: 0, offset }]);
type Meta = { topic: string; partition: number; offset: number; timestamp: number; key: string | null };

/** The stream from offset 0 until the record at offset 2 has arrived: its record events (message and delete). */
async function recordEvents(url: string) {
  const { status, text } = await readRaw(url, { headers: { 'last-event-id': fromStart }, until: (t) => t.includes('"w":2') });
  assert.equal(status, 200);
  return parseSse(text).filter((b) => b.event === 'message' || b.event === 'delete');
}

test("tombstones: 'delete' sends a tombstone as event: delete with its id and {\"_kafka\":…}, between the messages", async () => {
  const server = await startServer({ kafka, tombstones: 'delete' });
  const events = await recordEvents(`${server.url}/${topic}`);
  assert.deepEqual(events.map((e) => [e.event, e.id]), [
    ['message', idAt(1)],
    ['delete', idAt(2)],
    ['message', idAt(3)],
  ], 'a message, then the delete of k1, ids advancing by one');
  const deleted = JSON.parse(events[1]!.data!) as { _kafka: Meta };
  assert.deepEqual(Object.keys(deleted), ['_kafka'], 'nothing but _kafka');
  assert.deepEqual({ ...deleted._kafka, timestamp: 0 }, { topic, partition: 0, offset: 1, timestamp: 0, key: 'k1' });
  assert.ok(deleted._kafka.timestamp > 0);
  // The same _kafka as a message's: the first event's, one offset on.
  const first = JSON.parse(events[0]!.data!) as { v: number; _kafka: Meta };
  assert.deepEqual(first, { v: 1, _kafka: { topic, partition: 0, offset: 0, timestamp: first._kafka.timestamp, key: 'k1' } });
});

test('by default a tombstone is skipped, and the id still moves past it', async () => {
  const server = await startServer({ kafka });
  const events = await recordEvents(`${server.url}/${topic}`);
  assert.deepEqual(events.map((e) => [e.event, e.id]), [
    ['message', idAt(1)],
    ['message', idAt(3)],
  ]);
});

test('NDJSON: a tombstone is its {"_kafka":…} line with "_deleted":true', async () => {
  const server = await startServer({ kafka, tombstones: 'delete' });
  const { text } = await readRaw(`${server.url}/${topic}`, {
    headers: { 'last-event-id': fromStart, accept: 'application/json' },
    until: (t) => t.includes('"w":2'),
  });
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { _kafka: Meta; _deleted?: true });
  assert.deepEqual(lines.map((l) => [l._kafka.offset, l._deleted ?? false]), [[0, false], [1, true], [2, false]]);
  assert.deepEqual(Object.keys(lines[1]!), ['_kafka', '_deleted']);
});

test('a stage that reads the message of a delete keeps it a delete', async () => {
  const server = await startServer({ kafka, tombstones: 'delete', filterer: (r) => typeof r.message === 'object' });
  const events = await recordEvents(`${server.url}/${topic}`);
  assert.deepEqual(events.map((e) => e.event), ['message', 'delete', 'message']);
  assert.equal((JSON.parse(events[1]!.data!) as { _kafka: Meta })._kafka.offset, 1);
});

test('the server: --tombstones delete (TOMBSTONES) passes the option; anything but skip|delete is a usage error', async () => {
  const cli = parseCli(['serve', '--tombstones', 'delete', '--port', '0', '--host', '127.0.0.1'], {});
  assert.equal(cli.command, 'serve');
  const config = (cli as { config: Parameters<typeof createKafkaSseServer>[0] }).config!;
  assert.equal(config.tombstones, 'delete');
  assert.equal((parseCli(['serve'], { TOMBSTONES: 'delete' }) as { config: { tombstones?: string } }).config.tombstones, 'delete');
  assert.throws(() => parseCli(['serve', '--tombstones', 'keep'], {}), /--tombstones must be skip or delete/);
  const server = createKafkaSseServer({ ...config, brokers: testBrokers(), logLevel: 'silent' });
  const { port } = await server.listen();
  after(() => server.close());
  const events = await recordEvents(`http://127.0.0.1:${port}/v1/stream/${topic}`);
  assert.deepEqual(events.map((e) => e.event), ['message', 'delete', 'message']);
});
