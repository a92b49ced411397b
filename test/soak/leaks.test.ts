// Kafka sockets left open by a closed server. Runs the server in a child process (which exits by itself),
// since a leaked socket would otherwise keep this test process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { ROOT, createTopics } from '../e2e/helpers/cliProcess.js';
import { testBrokers } from '../helpers/kafka.js';

const [topic] = (await createTopics([{ prefix: 'leaks', partitions: 2 }])) as [string];

/** In the child: a server, `streams` streams opened at once and closed, close(), then the Kafka sockets left. */
const CHILD = `
import { request } from 'node:http';
import { pino } from 'pino';
import { createKafkaSseServer } from ${JSON.stringify(`${ROOT}/src/server/server.ts`)};
const [topic, count, brokers, warm] = process.argv.slice(1);
const brokerPorts = new Set(brokers.split(',').map((b) => Number(b.split(':').at(-1))));
const server = createKafkaSseServer({ brokers: brokers.split(','), port: 0, host: '127.0.0.1', metricsPort: 0, logger: pino({ level: 'silent' }), shutdownGraceMs: 500 });
const { port, metricsUrl } = await server.listen();
const open = () => new Promise((resolve, reject) => {
  const req = request('http://127.0.0.1:' + port + '/v1/stream/' + topic, { agent: false }, (res) => {
    let text = '';
    res.on('data', (d) => { text += d; });
    res.on('error', () => {});
    resolve({ req, text: () => text });
  });
  req.on('error', reject);
  req.end();
});
const fetched = async () => /kafka_sse_fetch_duration_seconds_count (\\d+)/.exec(await (await fetch(metricsUrl)).text())?.[1];
const waitFor = async (check) => { const end = Date.now() + 10000; while (!(await check())) { if (Date.now() > end) throw new Error('timeout'); await new Promise((r) => setTimeout(r, 20)); } };
if (warm === 'warm') {
  const first = await open();
  await waitFor(async () => Number(await fetched()) > 0);
  first.req.destroy();
  await waitFor(() => server.openStreams === 0);
}
const streams = await Promise.all(Array.from({ length: Number(count) }, open));
// Every stream set up against Kafka (its opening position block says where it starts). Streams that
// start where their cohort stands make no fetch of their own, so fetches are not counted per stream.
await waitFor(() => streams.every((s) => s.text().includes('event: position')));
for (const s of streams) s.req.destroy();
await waitFor(() => server.openStreams === 0);
await server.close();
await new Promise((r) => setTimeout(r, 500));
const kafkaSockets = process._getActiveHandles().filter((h) => brokerPorts.has(h.remotePort)).length;
console.log(JSON.stringify({ kafkaSockets }));
process.exit(0);
`;

function runChild(count: number, warm: boolean): Promise<{ kafkaSockets: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, topic, String(count), testBrokers().join(','), warm ? 'warm' : 'cold'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`child exited ${code}: ${out}\n${err}`));
      else resolve(JSON.parse(line) as { kafkaSockets: number });
    });
  });
}

test('a warmed-up server closes every Kafka socket, after ten streams opened at once', async () => {
  assert.deepEqual(await runChild(10, true), { kafkaSockets: 0 });
});

test(
  'streams opened at once on a fresh server leave no Kafka socket open after close()',
  async () => {
    assert.deepEqual(await runChild(5, false), { kafkaSockets: 0 });
  },
);
