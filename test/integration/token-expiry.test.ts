// A stream authorized by a token ends when the token does: `authorize` may return `{ allowed, expiresAt }`,
// and the server's JWT authorizer returns the token's `exp`. At that time the stream sends one
// `event: error` KSSE_TOKEN_EXPIRED and ends; a reconnect with a fresh token and `?lastEventId=` goes on
// with nothing lost or repeated.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SignJWT } from 'jose';
import { createKafkaSseServer } from '../../src/server/server.js';
import { createTopics, parseSse } from '../e2e/helpers/cliProcess.js';
import { produce, testBrokers } from '../helpers/kafka.js';
import { readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const [topic] = (await createTopics([{ prefix: 'token-expiry', partitions: 1 }])) as [string];

function token(expiresAtSeconds: number): Promise<string> {
  return new SignJWT({ topics: [topic] })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresAtSeconds)
    .sign(new TextEncoder().encode(SECRET));
}

const offsetsOf = (text: string) =>
  parseSse(text)
    .filter((b) => b.event === 'message')
    .map((b) => (JSON.parse(b.data!) as { _kafka: { offset: number } })._kafka.offset);

test('a JWT stream gets KSSE_TOKEN_EXPIRED at exp and ends; a fresh token from the last id continues exactly', async () => {
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', jwtSecret: SECRET, logLevel: 'silent', heartbeatSeconds: 0 });
  const { port } = await server.listen();
  after(() => server.close());
  const stream = (jwt: string, lastEventId: string) =>
    `http://127.0.0.1:${port}/v1/stream/${topic}?access_token=${jwt}&lastEventId=${encodeURIComponent(lastEventId)}`;

  await produce(topic, [0, 1, 2].map((n) => ({ partition: 0, value: { n } })));
  // exp is in whole seconds: this token runs out 3 to 4 s from now.
  const exp = Math.ceil(Date.now() / 1000) + 3;
  const started = Date.now();
  const first = readRaw(stream(await token(exp), JSON.stringify([{ topic, partition: 0, offset: 0 }])), { until: () => false, timeoutMs: 10_000 });
  // Records produced while the stream is open still arrive before it ends.
  setTimeout(() => void produce(topic, [3, 4].map((n) => ({ partition: 0, value: { n } }))), 1000);
  const { status, text, ended } = await first;
  const endedAt = Date.now();
  assert.equal(status, 200);
  assert.ok(ended, 'the server ended the stream');
  assert.ok(endedAt >= exp * 1000 - 50, `ended ${exp * 1000 - endedAt} ms before exp`);
  assert.ok(endedAt - started <= 5000, `ended ${endedAt - exp * 1000} ms after exp (${endedAt - started} ms in)`);
  assert.deepEqual(offsetsOf(text), [0, 1, 2, 3, 4]);
  const blocks = parseSse(text);
  const last = blocks.at(-1)!;
  assert.equal(last.event, 'error', 'the error event is the last thing sent');
  const error = JSON.parse(last.data!) as { code: string; status: number };
  assert.equal(error.code, 'KSSE_TOKEN_EXPIRED');
  assert.equal(error.status, 401);
  const lastId = blocks.filter((b) => b.id !== undefined).at(-1)!.id!;
  assert.deepEqual(JSON.parse(lastId), [{ topic, partition: 0, offset: 5 }]);

  // The old token is refused now; a fresh one resumes from the last id: 5 and 6, nothing again.
  assert.equal((await fetch(stream(await token(exp), lastId))).status, 401);
  await produce(topic, [5, 6].map((n) => ({ partition: 0, value: { n } })));
  const resumed = await readRaw(stream(await token(Math.ceil(Date.now() / 1000) + 300), lastId), { until: (t) => t.includes('"n":6') });
  assert.deepEqual(offsetsOf(resumed.text), [5, 6]);
});

test('the library hook: authorize returning { allowed, expiresAt } ends the stream then; { allowed: false } is a 403; a boolean still works', async () => {
  const kafka = sharedKafka();
  const expiring = await startServer({ kafka, authorize: () => ({ allowed: true, expiresAt: Date.now() + 700 }) });
  const started = Date.now();
  const { text, ended } = await readRaw(`${expiring.url}/${topic}`, { until: () => false, timeoutMs: 5000 });
  assert.ok(ended && Date.now() - started < 3000, `ended after ${Date.now() - started} ms`);
  assert.match(text, /event: error\ndata: \{.*"code":"KSSE_TOKEN_EXPIRED".*\}\n\n$/);

  const denied = await startServer({ kafka, authorize: () => ({ allowed: false, expiresAt: Date.now() + 60_000 }) });
  assert.equal((await fetch(`${denied.url}/${topic}`)).status, 403);
  const plain = await startServer({ kafka, authorize: () => true });
  const open = await readRaw(`${plain.url}/${topic}`, { until: (t) => t.includes('id: ') });
  assert.equal(open.status, 200);
});
