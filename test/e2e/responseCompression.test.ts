// `kafka-sse serve --compress`: clients that accept gzip or br get a compressed stream that is flushed at
// every chunk, so an event reaches them as soon as it is fetched, not when the compressor's buffer fills.
// Checked with Chromium's own EventSource (it sends Accept-Encoding itself) and with node:http + node:zlib
// decoding as it goes, and with a real `curl --compressed` (.ci/run installs curl where it is missing).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { chromiumPage } from './helpers/chromium.js';
import { startCli, type CliServer } from './helpers/cliProcess.js';
import { createTopic, produce } from '../helpers/kafka.js';

const PROMPT_MS = 1000;

/** One `--compress` server for the file (started here, so it is stopped when the file ends). */
const server = await startCli(['--compress']);
const compressingServer = async (): Promise<CliServer> => server;

/** A raw GET whose body is decoded as it arrives; `text()` is everything decoded so far. */
function openDecoded(url: string, acceptEncoding: string | undefined) {
  return new Promise<{ res: http.IncomingMessage; text: () => string; until(needle: string, timeoutMs?: number): Promise<number>; close(): void }>((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}) } }, (res) => {
      const coding = res.headers['content-encoding'];
      const body = coding === 'gzip' ? res.pipe(createGunzip()) : coding === 'br' ? res.pipe(createBrotliDecompress()) : res;
      let text = '';
      const waiters = new Set<() => void>();
      body.on('data', (d: Buffer) => {
        text += d.toString();
        for (const w of waiters) w();
      });
      body.on('error', () => {});
      resolve({
        res,
        text: () => text,
        close: () => req.destroy(),
        // Resolves with the time the text first held `needle`.
        until: (needle, timeoutMs = 5000) =>
          new Promise((done, fail) => {
            const check = () => {
              if (!text.includes(needle)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done(Date.now());
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`"${needle}" not decoded within ${timeoutMs} ms (held in a compressor?); decoded so far:\n${text}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      });
    });
    req.on('error', reject);
  });
}

for (const coding of ['gzip', 'br'] as const) {
  test(`--compress: Accept-Encoding ${coding} gets a ${coding} stream whose preamble and first event decode at once`, async (t) => {
    const { url } = await compressingServer();
    const topic = await createTopic(1, `compress-${coding}`);
    const stream = await openDecoded(`${url}/v1/stream/${topic}`, coding);
    t.after(() => stream.close());
    assert.equal(stream.res.statusCode, 200);
    assert.equal(stream.res.headers['content-encoding'], coding);
    assert.match(String(stream.res.headers.vary), /accept-encoding/i);
    // The preamble is flushed on its own: nothing else is sent until a record is produced.
    await stream.until('retry:');
    const producedAt = Date.now();
    await produce(topic, [{ partition: 0, value: { hello: coding } }]);
    const decodedAt = await stream.until(`"hello":"${coding}"`);
    assert.ok(decodedAt - producedAt < PROMPT_MS, `the first event took ${decodedAt - producedAt} ms from produce to decoded`);
  });
}

test('--compress: a request without Accept-Encoding gets the stream uncompressed (and Vary: Accept-Encoding)', async (t) => {
  const { url } = await compressingServer();
  const topic = await createTopic(1, 'compress-identity');
  const stream = await openDecoded(`${url}/v1/stream/${topic}`, undefined);
  t.after(() => stream.close());
  assert.equal(stream.res.headers['content-encoding'], undefined);
  assert.match(String(stream.res.headers.vary), /accept-encoding/i);
  await stream.until('retry:');
});

test('--compress: a HEAD answers the Content-Encoding and Vary its GET would get', async () => {
  const { url } = await compressingServer();
  const topic = await createTopic(1, 'compress-head');
  const head = await fetch(`${url}/v1/stream/${topic}`, { method: 'HEAD', headers: { accept: 'text/event-stream', 'accept-encoding': 'br' } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-encoding'), 'br');
  assert.match(head.headers.get('vary') ?? '', /accept-encoding/i);
});

test("--compress: Chromium's EventSource gets a compressed stream and its first event within a second of produce", async (t) => {
  const { url } = await compressingServer();
  const topic = await createTopic(1, 'compress-browser');
  const page = await chromiumPage(t);
  const streamPath = `/v1/stream/${topic}`;
  const response = page.waitForResponse((r) => r.url().endsWith(streamPath));
  await page.goto(`${url}/healthz`); // the server's own origin, so the EventSource needs no CORS
  await page.evaluate((path) => {
    const log = { opens: 0, messages: [] as string[] };
    (window as unknown as { log: typeof log }).log = log;
    const source = new EventSource(path);
    source.onopen = () => log.opens++;
    source.onmessage = (e) => log.messages.push(e.data as string);
  }, streamPath);
  type Log = { opens: number; messages: string[] };
  const headers = await (await response).allHeaders();
  assert.equal(headers['content-encoding'], 'gzip', `response headers: ${JSON.stringify(headers)}`);
  const sent = (await (await response).request().allHeaders())['accept-encoding'] ?? '';
  assert.match(sent, /gzip/, 'Chromium sent Accept-Encoding itself');
  // Headers go out once the start is resolved: from onopen on, a produced record belongs to the stream.
  await page.waitForFunction(() => (window as unknown as { log: Log }).log.opens > 0);
  const producedAt = Date.now();
  await produce(topic, [{ partition: 0, value: { browser: 'compressed' } }]);
  await page.waitForFunction(() => (window as unknown as { log: Log }).log.messages.length > 0, undefined, { timeout: 5000, polling: 10 });
  const elapsed = Date.now() - producedAt;
  const { messages } = await page.evaluate(() => (window as unknown as { log: Log }).log);
  assert.equal((JSON.parse(messages[0]!) as { browser: string }).browser, 'compressed');
  assert.ok(elapsed < PROMPT_MS, `the first event took ${elapsed} ms from produce to the page`);
});

test('--compress with curl --compressed: curl asks for the stream compressed, decodes it, and prints each event as it arrives', async () => {
  const { spawn } = await import('node:child_process');
  const { url } = await compressingServer();
  const topic = await createTopic(1, 'compress-curl');
  const curl = spawn('curl', ['--compressed', '--no-buffer', '--silent', '--show-error', '--max-time', '20', '--verbose', '-H', 'Accept: text/event-stream', `${url}/v1/stream/${topic}`]);
  let out = '';
  let headers = '';
  curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
  curl.stderr.on('data', (d: Buffer) => (headers += d.toString()));
  const exited = new Promise<void>((resolve) => curl.on('exit', () => resolve()));
  try {
    const seen = (needle: string, timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const tick = setInterval(() => {
          if (out.includes(needle)) {
            clearInterval(tick);
            resolve();
          } else if (Date.now() - started > timeoutMs) {
            clearInterval(tick);
            reject(new Error(`curl printed no "${needle}" within ${timeoutMs} ms; headers:\n${headers}\nbody:\n${out}`));
          }
        }, 20);
      });
    await seen('event: position', 5000); // the stream is set up and its first chunks decoded
    const producedAt = Date.now();
    await produce(topic, [{ partition: 0, value: { curl: 1 } }]);
    await seen('"curl":1', 5000);
    assert.ok(Date.now() - producedAt < 3000, `the event reached curl ${Date.now() - producedAt} ms after it was produced`);
    assert.match(headers, /^< content-encoding: (gzip|br)\r?$/im, 'curl got a compressed response');
  } finally {
    curl.kill();
    await exited;
  }
});
