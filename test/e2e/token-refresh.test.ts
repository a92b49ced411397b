// The README's token refresh in Chromium: a page streams with a token that runs out 3 s in; on
// KSSE_TOKEN_EXPIRED it closes its EventSource and opens a new one with a fresh token and ?lastEventId=,
// as the README's snippet does. Every record arrives exactly once across the change of token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { createKafkaSseServer } from '../../src/server/server.js';
import { createTopics } from './helpers/cliProcess.js';
import { chromiumPage } from './helpers/chromium.js';
import { produce, testBrokers } from '../helpers/kafka.js';

const SECRET = 'a-browser-test-secret-at-least-32-bytes-long';

test('Chromium: a page whose token expires reopens from its last id with a fresh one, every record once', async (t) => {
  const [topic] = (await createTopics([{ prefix: 'token-refresh', partitions: 1 }])) as [string];
  const sign = (expiresAtSeconds: number) =>
    new SignJWT({ topics: [topic] }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresAtSeconds).sign(new TextEncoder().encode(SECRET));
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', jwtSecret: SECRET, logLevel: 'silent' });
  const url = (await server.listen()).url.replace(/\/$/, '');
  t.after(() => server.close());

  const page = await chromiumPage(t);
  let tokensIssued = 0;
  // The app's token endpoint: the first token runs out 3-4 s from now, later ones in a minute.
  await page.exposeFunction('fetchFreshToken', async () => sign(Math.ceil(Date.now() / 1000) + (tokensIssued++ === 0 ? 3 : 60)));
  await page.goto(`${url}/healthz`);
  // The README's snippet, with the messages recorded; as a string, so no bundler helper leaks into the page.
  await page.evaluate(`(async () => {
    window.seen = [];
    window.opened = 0;
    window.expired = 0;
    let lastId;
    function open(token) {
      const query = new URLSearchParams({ access_token: token, ...(lastId ? { lastEventId: lastId } : {}) });
      const source = new EventSource('/v1/stream/${topic}?' + query);
      window.opened++;
      const track = (event) => (lastId = event.lastEventId);
      source.addEventListener('message', (event) => {
        window.seen.push(event.data);
        track(event);
      });
      source.addEventListener('position', track);
      source.addEventListener('error', (event) => {
        if ('data' in event && JSON.parse(String(event.data)).code === 'KSSE_TOKEN_EXPIRED') {
          window.expired++;
          source.close();
          void window.fetchFreshToken().then(open);
        }
      });
    }
    open(await window.fetchFreshToken());
  })()`);
  type Win = { seen: string[]; opened: number; expired: number };
  await page.waitForFunction(() => (window as unknown as Win).opened === 1);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the first stream is set up (it starts at the end)

  await produce(topic, Array.from({ length: 10 }, (_, n) => ({ partition: 0, value: { n } })));
  await page.waitForFunction(() => (window as unknown as Win).seen.length >= 10, undefined, { timeout: 10_000 });
  await page.waitForFunction(() => (window as unknown as Win).expired >= 1, undefined, { timeout: 10_000 });
  await produce(topic, Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: { n: 10 + i } })));
  await page.waitForFunction(() => (window as unknown as Win).seen.length >= 20, undefined, { timeout: 15_000 });
  await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive right behind

  const state = await page.evaluate(() => {
    const { seen, opened, expired } = window as unknown as Win;
    return { seen, opened, expired };
  });
  const ns = state.seen.map((d) => (JSON.parse(d) as { n: number }).n);
  assert.deepEqual(ns, Array.from({ length: 20 }, (_, i) => i), 'every record once, in order, across the new token');
  assert.ok(state.expired >= 1 && state.opened >= 2, `the token expired and the page reopened (${state.expired} expiries, ${state.opened} opens)`);
});
