// Response compression (the `compress` option; Kafka's batch codecs are compression.test.ts) on the
// fetch-style path (`kafkaSseResponse`): the same node:zlib stage as the Node path, flushed per chunk
// (the platform's CompressionStream cannot flush), and a complete body at the end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGunzip, gunzipSync } from 'node:zlib';
import { createKafkaSse, kafkaSseResponse } from '../../src/index.js';
import { sharedKafka } from '../helpers/sse.js';
import { createTopic, produce } from '../helpers/kafka.js';

test('kafkaSseResponse with compress: gzip, each chunk decodable on arrival, a complete gzip body when the stream ends', async () => {
  const topic = await createTopic(1, 'compress-fetch');
  const options = { kafka: sharedKafka(), compress: true, maxLifetimeMs: 3000, heartbeatMs: 0 };
  const response = await kafkaSseResponse(new Request('http://127.0.0.1/', { headers: { 'accept-encoding': 'gzip, br' } }), topic, options);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-encoding'), 'gzip');
  assert.equal(response.headers.get('vary'), 'Accept-Encoding');
  const gunzip = createGunzip();
  let decoded = '';
  gunzip.on('data', (d: Buffer) => (decoded += d.toString()));
  const decodedNow = async (piece: Uint8Array) => {
    gunzip.write(piece);
    await new Promise<void>((resolve) => gunzip.flush(() => resolve()));
    return decoded;
  };
  const reader = response.body!.getReader();
  const pieces: Uint8Array[] = [];
  const next = async () => {
    const { value, done } = await reader.read();
    if (!done) pieces.push(value);
    return done ? undefined : value;
  };
  assert.match(await decodedNow((await next())!), /retry: 2000/, 'the preamble decodes from its own chunk');
  const producedAt = Date.now();
  await produce(topic, [{ partition: 0, value: { fetchPath: true } }]);
  while (!decoded.includes('"fetchPath":true')) {
    const piece = await next();
    assert.ok(piece, 'the stream ended before the event decoded');
    await decodedNow(piece);
  }
  // Well before the stream's end (3 s): not held back until the compressor's trailer.
  assert.ok(Date.now() - producedAt < 1000, `the event decoded ${Date.now() - producedAt} ms after produce`);
  while (await next());
  assert.match(gunzipSync(Buffer.concat(pieces)).toString(), /"fetchPath":true/);
});

test('kafkaSseResponse with compress: no Accept-Encoding, no compression', async () => {
  const topic = await createTopic(1, 'compress-fetch-identity');
  const options = { kafka: sharedKafka(), compress: { gzip: 1, br: false } as const, maxLifetimeMs: 300, heartbeatMs: 0 };
  const response = await kafkaSseResponse(new Request('http://127.0.0.1/'), topic, options);
  assert.equal(response.headers.get('content-encoding'), null);
  assert.match(await response.text(), /^: kafka-sse stream/);
});

test('compress levels out of range are refused when the handle is made', () => {
  assert.throws(() => createKafkaSse({ compress: { gzip: 12 } }), /compress\.gzip must be false or an integer 1–9/);
  assert.throws(() => createKafkaSse({ compress: { br: 1.5 } }), /compress\.br/);
});
