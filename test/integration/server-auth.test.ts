// `kafka-sse serve --jwt-secret … | --jwks-url …`: a JWT whose claim lists the readable topics, checked
// before anything touches Kafka, from the Authorization header, the access_token parameter or a cookie.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createTopics, openStream, startCli } from '../e2e/helpers/cliProcess.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const ISSUER = 'https://issuer.test';
const [granted, other] = (await createTopics([
  { prefix: 'auth-granted', partitions: 1 },
  { prefix: 'auth-other', partitions: 1 },
])) as [string, string];

// A JSON Web Key Set served on loopback, as an identity provider would.
const { publicKey, privateKey } = await generateKeyPair('RS256');
const stranger = await generateKeyPair('RS256');
const jwks = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  void exportJWK(publicKey).then((jwk) => res.end(JSON.stringify({ keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] })));
});
await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => jwks.close(() => resolve())));
const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;

const [hmac, rsa] = await Promise.all([
  startCli(['--jwt-issuer', ISSUER, '--log-level', 'trace', '--metrics-port', '0'], { JWT_SECRET: SECRET }),
  startCli(['--jwks-url', jwksUrl]),
]);

async function hs256(claims: Record<string, unknown>, options: { secret?: string; expiresAt?: number; issuer?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(options.issuer ?? ISSUER)
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 300)
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

async function errorOf(res: Response): Promise<{ code: string; status: number; message: string }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as { code: string; status: number; message: string };
}

async function streamStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const stream = await openStream(url, headers);
  stream.close();
  return stream.status;
}

test('no token: 401 KSSE_UNAUTHORIZED with WWW-Authenticate: Bearer', async () => {
  const res = await fetch(`${hmac.url}/v1/stream/${granted}`);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer');
  const body = await errorOf(res);
  assert.equal(body.code, 'KSSE_UNAUTHORIZED');
  assert.match(body.message, /access_token/);
});

test('a token with a bad signature, an expired one, or from another issuer: 401', async () => {
  const cases = {
    'bad signature': await hs256({ topics: [granted] }, { secret: 'another-secret-that-is-also-32-bytes-long!' }),
    expired: await hs256({ topics: [granted] }, { expiresAt: Math.floor(Date.now() / 1000) - 60 }),
    'other issuer': await hs256({ topics: [granted] }, { issuer: 'https://someone-else.test' }),
    garbage: 'not.a.jwt',
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await fetch(`${hmac.url}/v1/stream/${granted}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401, name);
    assert.equal((await errorOf(res)).code, 'KSSE_UNAUTHORIZED', name);
  }
  const expired = await fetch(`${hmac.url}/v1/stream/${granted}`, { headers: { authorization: `Bearer ${cases.expired}` } });
  assert.match((await errorOf(expired)).message, /expired/);
});

test('a valid token for another topic: 403 KSSE_FORBIDDEN, also for topics named only in Last-Event-ID', async () => {
  const token = await hs256({ topics: [granted] });
  const res = await fetch(`${hmac.url}/v1/stream/${other}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 403);
  assert.equal((await errorOf(res)).code, 'KSSE_FORBIDDEN');
  const sneaky = await fetch(`${hmac.url}/v1/stream/${granted}`, {
    headers: { authorization: `Bearer ${token}`, 'last-event-id': JSON.stringify([{ topic: other, partition: 0, offset: 0 }]) },
  });
  assert.equal(sneaky.status, 403);
  assert.equal((await errorOf(sneaky)).code, 'KSSE_FORBIDDEN');
});

test('a valid token for the topic streams, from the header, the access_token parameter or the cookie', async () => {
  const token = await hs256({ topics: `${granted} unrelated` });
  assert.equal(await streamStatus(`${hmac.url}/v1/stream/${granted}`, { authorization: `Bearer ${token}` }), 200);
  assert.equal(await streamStatus(`${hmac.url}/v1/stream/${granted}?access_token=${token}`), 200);
  assert.equal(await streamStatus(`${hmac.url}/v1/stream/${granted}`, { cookie: `theme=dark; kafka_sse_token=${token}` }), 200);
  const everything = await hs256({ topics: ['*'] });
  assert.equal(await streamStatus(`${hmac.url}/v1/stream/${granted},${other}`, { authorization: `Bearer ${everything}` }), 200);
});

test('/v1/topics needs a token and lists only granted topics; /healthz and the metrics listener stay open', async () => {
  assert.equal((await fetch(`${hmac.url}/v1/topics`)).status, 401);
  const token = await hs256({ topics: [granted] });
  const res = await fetch(`${hmac.url}/v1/topics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.deepEqual(((await res.json()) as { topics: unknown[] }).topics, [{ topic: granted, partitions: 1 }]);
  assert.equal((await fetch(`${hmac.url}/healthz`)).status, 200);
  assert.equal((await fetch(hmac.metricsUrl!)).status, 200);
});

test('--jwks-url verifies asymmetric tokens against the key set', async () => {
  const sign = (key: CryptoKey, kid: string) =>
    new SignJWT({ topics: [granted] }).setProtectedHeader({ alg: 'RS256', kid }).setExpirationTime('5m').sign(key);
  assert.equal(await streamStatus(`${rsa.url}/v1/stream/${granted}`, { authorization: `Bearer ${await sign(privateKey, 'k1')}` }), 200);
  const forged = await fetch(`${rsa.url}/v1/stream/${granted}`, { headers: { authorization: `Bearer ${await sign(stranger.privateKey, 'k1')}` } });
  assert.equal(forged.status, 401);
  assert.equal((await errorOf(forged)).code, 'KSSE_UNAUTHORIZED');
  const wrongTopic = await fetch(`${rsa.url}/v1/stream/${other}`, { headers: { authorization: `Bearer ${await sign(privateKey, 'k1')}` } });
  assert.equal(wrongTopic.status, 403);
});

test('the token is never written to the logs', async () => {
  const token = await hs256({ topics: [granted] });
  await streamStatus(`${hmac.url}/v1/stream/${granted}?access_token=${token}`);
  await fetch(`${hmac.url}/nope?access_token=${token}`);
  assert.ok(!JSON.stringify(hmac.logs).includes(token));
});
