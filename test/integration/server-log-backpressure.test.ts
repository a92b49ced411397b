// `kafka-sse serve` whose stdout nobody reads any more (a dead log shipper, a stuck `| head`): requests
// are still answered, log lines beyond the buffer are dropped and counted in /metrics, and SIGTERM still
// exits within the shutdown deadline. Synchronous logging would block the process in a write for ever.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { testBrokers } from '../helpers/kafka.js';
import { within } from '../helpers/wait.js';
import { CLI_SOURCE, ROOT, type Exit } from '../e2e/helpers/cliProcess.js';

/** Bytes of debug lines generated: well over a pipe's 64 KiB plus the server's 1 MiB log buffer. */
const LOG_BYTES = 3 * 1024 * 1024;

test('with stdout no longer read, requests are answered, dropped log lines are counted, and SIGTERM exits within 6 s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-sse-fifo-'));
  const fifo = join(dir, 'stdout');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  // The reader opens first (non-blocking), so the writer's open does not wait; the child gets the writer,
  // as a shell's `> fifo` would give it.
  const reader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  const writer = openSync(fifo, constants.O_WRONLY);
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'serve', '--port', '0', '--host', '127.0.0.1', '--metrics-port', '0', '--log-level', 'debug'], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: testBrokers().join(',') },
    stdio: ['ignore', writer, 'pipe'],
  });
  closeSync(writer);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    reader.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  // Read until the `listening` line, then stop reading for good.
  let read = '';
  const { port, metricsUrl } = await within(
    new Promise<{ port: number; metricsUrl: string }>((resolve, reject) => {
      reader.on('data', (d: Buffer) => {
        read += d.toString();
        const line = read.split('\n').find((l) => l.includes('"msg":"listening"'));
        if (line === undefined) return;
        reader.pause();
        resolve(JSON.parse(line) as { port: number; metricsUrl: string });
      });
      void exited.then((e) => reject(new Error(`exited (${e.code ?? e.signal}) before listening:\n${stderr}`)));
    }),
    30_000,
    'listening',
  );
  const base = `http://127.0.0.1:${port}`;

  // Each refused stream request logs its long topic list at debug ("stream requested", "request refused").
  const topics = 'x'.repeat(7000);
  const perRequest = topics.length;
  let answered = 0;
  let stalled: string | undefined;
  for (let sent = 0; sent * perRequest < LOG_BYTES && stalled === undefined; sent += 20) {
    const batch = await Promise.allSettled(
      Array.from({ length: 20 }, () => fetch(`${base}/v1/stream/${topics}`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status)),
    );
    for (const r of batch) {
      if (r.status === 'fulfilled') answered++;
      else stalled ??= String(r.reason);
    }
  }
  const metrics = await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.text(),
    (err: unknown) => `no answer: ${String(err)}`,
  );

  const signalledAt = Date.now();
  child.kill('SIGTERM');
  const exit = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 6000))]);
  const took = Date.now() - signalledAt;
  console.log(`# ${answered} requests answered; SIGTERM → exit ${JSON.stringify(exit)} after ${took} ms`);
  assert.notEqual(exit, 'still running', `the server did not exit within 6 s of SIGTERM (requests stalled: ${stalled ?? 'no'})`);
  assert.deepEqual(exit, { code: 0, signal: null }, stderr);
  assert.equal(stalled, undefined, 'every request was answered while stdout was not read');
  const dropped = Number(/^kafka_sse_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1]);
  assert.ok(dropped > 0, `dropped log lines are counted in /metrics; got:\n${metrics.slice(0, 500)}`);
});
