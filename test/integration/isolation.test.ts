// One bad partition hurts no one else: two streams on one shared kafkajs instance (the CLI server's),
// whose partitions share a leader and so one merged tail long-poll. A snappy batch arrives for one of
// them on a server that cannot load snappy: that stream alone ends, with KSSE_UNSUPPORTED_COMPRESSION
// and a long retry hint; the other keeps streaming without an error event. Real broker.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs, { CompressionTypes } from 'kafkajs';
import { ROOT, createTopics, openStream, parseSse, startCli } from '../e2e/helpers/cliProcess.js';
import { fixtureKafka } from '../helpers/kafka.js';

const require = createRequire(import.meta.url);
type KafkajsCodec = () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };
const registry = kafkajs.CompressionCodecs as unknown as Record<number, KafkajsCodec>;
registry[CompressionTypes.Snappy] = require('kafkajs-snappy') as KafkajsCodec;

const messages = (text: string) => parseSse(text).filter((b) => b.event === undefined || b.event === 'message').filter((b) => b.data !== undefined && b.id !== undefined);
const errors = (text: string) => parseSse(text).filter((b) => b.event === 'error');

test('a batch one stream cannot decode ends that stream only; the stream sharing its long-poll goes on without an error', async () => {
  const [plain, snappy] = await createTopics([
    { prefix: 'isolation-plain', partitions: 1 },
    { prefix: 'isolation-snappy', partitions: 1 },
  ]);
  const server = await startCli(['--log-level', 'info'], { NODE_OPTIONS: `--require ${join(ROOT, 'test', 'fixtures', 'no-snappy.cjs')}` });
  const accept = { accept: 'text/event-stream' };
  const a = await openStream(`${server.url}/v1/stream/${plain}`, accept);
  const b = await openStream(`${server.url}/v1/stream/${snappy}`, accept);
  // Both resolved and waiting in the tail long-poll (their start positions have arrived).
  await a.until((t) => t.includes('event: position'));
  await b.until((t) => t.includes('event: position'));

  const producer = await fixtureKafka().producer;
  {
    await producer.send({ topic: plain, messages: [{ value: JSON.stringify({ n: 0 }) }] });
    await producer.send({ topic: snappy, compression: CompressionTypes.Snappy, messages: [{ value: JSON.stringify({ n: 0 }) }, { value: JSON.stringify({ n: 1 }) }] });
    await b.until((t) => errors(t).length > 0, 15_000);
    for (let n = 1; n <= 5; n++) await producer.send({ topic: plain, messages: [{ value: JSON.stringify({ n }) }] });
    await a.until((t) => messages(t).length >= 6, 15_000);
  }

  const [error] = errors(b.text());
  const body = JSON.parse(error!.data!) as { code: string; codec?: string; message: string };
  assert.equal(body.code, 'KSSE_UNSUPPORTED_COMPRESSION', 'a precise, stable code');
  assert.equal(body.codec, 'snappy');
  assert.doesNotMatch(body.message, /simulated|binding|require/, 'the load failure stays in the log');
  assert.ok(parseSse(b.text()).some((block) => block.retry !== undefined && block.retry >= 60_000), 'a long retry hint, so the client does not reconnect into it every two seconds');
  assert.equal(await b.ended, 'clean', 'the undecodable stream ended');
  assert.equal(messages(b.text()).length, 0);

  assert.deepEqual(errors(a.text()), [], 'the other stream saw no error event');
  assert.deepEqual(messages(a.text()).map((m) => (JSON.parse(m.data!) as { n: number }).n), [0, 1, 2, 3, 4, 5]);
  a.close();

  const lines = server.logs.filter((l) => l.code === 'KSSE_UNSUPPORTED_COMPRESSION');
  assert.equal(lines.length, 1, `one log line for the operator: ${JSON.stringify(lines)}`);
  assert.match(JSON.stringify(lines[0]), /snappy/, 'the log line names the codec and why it is missing');
  await server.stop();
});
