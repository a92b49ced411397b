// Authorization under attack, beyond test/integration/server-auth.test.ts (no token, bad signature,
// expired, wrong topic, right topic): forged algorithms, missing claims, topics named only in
// Last-Event-ID, and the order of checks — authorization answers before Kafka is asked anything.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { sharedClient } from '../../src/index.js';
import { createKafkaSseServer, type KafkaSseServerOptions } from '../../src/server/server.js';
import { createTopics, messageOffsets, openStream } from '../e2e/helpers/cliProcess.js';
import { fixtureKafka, produce, testBrokers } from '../helpers/kafka.js';

const SECRET = 'hostile-auth-secret-that-is-at-least-32-bytes';
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'kafka-sse';
const [granted, other] = (await createTopics([
  { prefix: 'hauth-granted', partitions: 2 },
  { prefix: 'hauth-other', partitions: 1 },
])) as [string, string];
await produce(granted, [{ partition: 0, value: { n: 0 } }, { partition: 1, value: { n: 1 } }]);

type LogLine = { level: number; msg: string } & Record<string, unknown>;

async function startServer(options: KafkaSseServerOptions) {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', logger, shutdownGraceMs: 500, ...options });
  const { port } = await server.listen();
  after(() => server.close());
  return { server, url: `http://127.0.0.1:${port}`, logs };
}

// An identity provider's key set on loopback, for the algorithm-confusion case.
const rsa = await generateKeyPair('RS256', { extractable: true });
const jwks = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  void exportJWK(rsa.publicKey).then((jwk) => res.end(JSON.stringify({ keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] })));
});
await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => jwks.close(() => resolve())));

const hmac = await startServer({ jwtSecret: SECRET, jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
const keySet = await startServer({ jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` });

function token(claims: Record<string, unknown>, options: { secret?: string; audience?: string; notBefore?: number } = {}) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(options.audience ?? AUDIENCE).setIssuedAt().setExpirationTime('5m');
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

async function refused(url: string, headers: Record<string, string>, status: number, code: string, what: string) {
  const res = await fetch(url, { headers });
  assert.equal(res.status, status, what);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.code, code, what);
  assert.ok(!('stack' in body), what);
  if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer', what);
}

test('forged and malformed tokens are 401: alg none, HS256 signed with the public key, wrong audience, not yet valid, truncated', async () => {
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const unsigned = new UnsecuredJWT({ topics: ['*'] }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').encode();
  await refused(`${hmac.url}/v1/stream/${granted}`, bearer(unsigned), 401, 'KSSE_UNAUTHORIZED', 'alg: none');
  await refused(`${keySet.url}/v1/stream/${granted}`, bearer(unsigned), 401, 'KSSE_UNAUTHORIZED', 'alg: none against a key set');
  // Algorithm confusion: an HMAC token keyed with the RSA public key must not pass as RS256.
  const pem = await exportSPKI(rsa.publicKey);
  const confused = await new SignJWT({ topics: ['*'] }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setExpirationTime('5m').sign(new TextEncoder().encode(pem));
  await refused(`${keySet.url}/v1/stream/${granted}`, bearer(confused), 401, 'KSSE_UNAUTHORIZED', 'HS256 keyed with the public key');
  await refused(`${hmac.url}/v1/stream/${granted}`, bearer(await token({ topics: [granted] }, { audience: 'someone-else' })), 401, 'KSSE_UNAUTHORIZED', 'wrong audience');
  await refused(`${hmac.url}/v1/stream/${granted}`, bearer(await token({ topics: [granted] }, { notBefore: Math.floor(Date.now() / 1000) + 3600 })), 401, 'KSSE_UNAUTHORIZED', 'not yet valid');
  const good = await token({ topics: [granted] });
  await refused(`${hmac.url}/v1/stream/${granted}`, bearer(good.slice(0, -5)), 401, 'KSSE_UNAUTHORIZED', 'truncated signature');
  await refused(`${hmac.url}/v1/stream/${granted}`, { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` }, 401, 'KSSE_UNAUTHORIZED', 'Basic credentials');
  await refused(`${hmac.url}/v1/stream/${granted}`, bearer('x'.repeat(4000)), 401, 'KSSE_UNAUTHORIZED', 'a long garbage token');
});

test('valid tokens whose claim does not grant the topic are 403: no claim, an empty claim, a claim of the wrong type', async () => {
  const bearer = async (claims: Record<string, unknown>) => ({ authorization: `Bearer ${await token(claims)}` });
  await refused(`${hmac.url}/v1/stream/${granted}`, await bearer({}), 403, 'KSSE_FORBIDDEN', 'no topics claim');
  await refused(`${hmac.url}/v1/stream/${granted}`, await bearer({ topics: [] }), 403, 'KSSE_FORBIDDEN', 'empty claim');
  await refused(`${hmac.url}/v1/stream/${granted}`, await bearer({ topics: { [granted]: true } }), 403, 'KSSE_FORBIDDEN', 'an object claim');
  await refused(`${hmac.url}/v1/stream/${granted}`, await bearer({ topics: [`${granted}-suffix`, granted.slice(0, -1)] }), 403, 'KSSE_FORBIDDEN', 'near-miss names');
  await refused(`${hmac.url}/v1/stream/${granted},${other}`, await bearer({ topics: [granted] }), 403, 'KSSE_FORBIDDEN', 'one of two topics');
});

test('Last-Event-ID: a resume within the granted topics streams; naming any other topic is 403', async () => {
  const auth = { authorization: `Bearer ${await token({ topics: [granted] })}` };
  const resume = JSON.stringify([0, 1].map((partition) => ({ topic: granted, partition, offset: 0 })));
  const stream = await openStream(`${hmac.url}/v1/stream/${granted}`, { ...auth, 'Last-Event-ID': resume });
  assert.equal(stream.status, 200);
  const text = await stream.until((t) => messageOffsets(t).length >= 2);
  stream.close();
  assert.deepEqual(messageOffsets(text).sort(), ['0:0', '1:0']);
  const widened = JSON.stringify([{ topic: granted, partition: 0, offset: 0 }, { topic: other, partition: 0, offset: 0 }]);
  await refused(`${hmac.url}/v1/stream/${granted}`, { ...auth, 'Last-Event-ID': widened }, 403, 'KSSE_FORBIDDEN', 'a widened resume');
  // The path names a granted topic, but Last-Event-ID (which replaces it) names only another one.
  const swapped = JSON.stringify([{ topic: other, partition: 0, offset: 0 }]);
  await refused(`${hmac.url}/v1/stream/${granted}`, { ...auth, 'Last-Event-ID': swapped }, 403, 'KSSE_FORBIDDEN', 'a swapped resume');
});

test('authorization answers before Kafka is asked: 401/403 even for topics that do not exist, which stay uncreated', async () => {
  const client = sharedClient(hmac.server.kafka) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const calls: string[] = [];
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  for (const method of ['connect', 'topicPartitions', 'resolve', 'listTopics']) {
    const original = client[method]!;
    originals.set(method, original);
    client[method] = function (this: unknown, ...args: unknown[]) {
      calls.push(method);
      return original.apply(this, args);
    };
  }
  try {
    const ghost = `hauth-ghost-${Date.now().toString(36)}`;
    await refused(`${hmac.url}/v1/stream/${ghost}`, {}, 401, 'KSSE_UNAUTHORIZED', 'no token, missing topic');
    await refused(`${hmac.url}/v1/stream/${ghost}`, { authorization: `Bearer ${await token({ topics: [granted] })}` }, 403, 'KSSE_FORBIDDEN', 'not granted, missing topic');
    await refused(`${hmac.url}/v1/stream/${granted}`, { 'Last-Event-ID': JSON.stringify([{ topic: ghost, partition: 0, offset: 0 }]) }, 401, 'KSSE_UNAUTHORIZED', 'no token, missing topic in Last-Event-ID');
    assert.deepEqual(calls, [], 'the Kafka client was not called');
    assert.ok(!(await (await fixtureKafka().admin).listTopics()).includes(ghost));
  } finally {
    for (const [method, original] of originals) client[method] = original;
  }
  // Malformed input is still a 400 first: parsing needs no credentials and no Kafka.
  await refused(`${hmac.url}/v1/stream/a%20b`, {}, 400, 'KSSE_INVALID_TOPIC_NAME', 'bad name, no token');
  // A client's bad token is not the operator's error.
  assert.deepEqual(hmac.logs.filter((l) => l.level > 40).map((l) => l.msg), []);
  assert.deepEqual(keySet.logs.filter((l) => l.level > 40).map((l) => l.msg), []);
});
