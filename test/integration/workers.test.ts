// `kafka-sse serve --workers N`: N processes share one port, each with its own Kafka connections; the
// primary serves the aggregated /metrics, replaces a worker that dies, and on SIGTERM has every worker end
// its streams cleanly before it exits 0 with no worker left behind.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { createTopic, produce } from '../helpers/kafka.js';
import { delay, until, within } from '../helpers/wait.js';
import { messageOffsets, openStream, runCli, startCli, type CliServer, type OpenStream } from '../e2e/helpers/cliProcess.js';
import { RESTART_MAX_MS, restartDelayMs } from '../../src/server/workers.js';

type Log = Record<string, unknown>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every pid a test saw is SIGKILLed after the file, should a failing test have left one behind. */
const seenPids = new Set<number>();
after(() => {
  for (const pid of seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

function workerPids(server: CliServer): number[] {
  const listening = server.logs.find((l) => l.msg === 'listening');
  const pids = (listening?.workerPids ?? []) as number[];
  for (const pid of pids) seenPids.add(pid);
  return pids;
}

/** The pid of the worker that logged `stream opened` for each of `count` streams so far. */
const openedBy = (logs: Log[]) => logs.filter((l) => l.msg === 'stream opened').map((l) => l.pid as number);

/** Opens `count` streams on `topic`, one connection each, and waits until every one has its first id. */
async function openStreams(url: string, topic: string, count: number): Promise<OpenStream[]> {
  const streams = await Promise.all(Array.from({ length: count }, () => openStream(`${url}/v1/stream/${topic}`)));
  after(() => streams.forEach((s) => s.close()));
  await Promise.all(streams.map((s) => s.until((t) => t.includes('id: '), 15_000)));
  return streams;
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('--workers 2: two processes serve one port, every stream gets every record, and SIGTERM ends every stream cleanly and exits 0 with no worker left', async () => {
  const topic = await createTopic(2, 'workers');
  const server = await startCli(['--workers', '2', '--metrics-port', '0']);
  seenPids.add(server.child.pid!);
  const pids = workerPids(server);
  assert.equal(pids.length, 2, 'the listening line names two worker pids');
  assert.ok(!pids.includes(server.child.pid!), 'the workers are processes of their own');
  assert.equal(server.logs.filter((l) => l.msg === 'listening').length, 1, 'one listening line, from the primary');
  assert.equal(server.logs.filter((l) => l.msg === 'worker listening').length, 2);
  assert.ok(server.metricsUrl, 'the listening line has the primary\'s metricsUrl');

  const streams = await openStreams(server.url, topic, 6);
  await until(() => openedBy(server.logs).length === 6, () => `6 'stream opened' lines, got ${openedBy(server.logs).length}`, 5000);
  const servedBy = new Set(openedBy(server.logs));
  assert.deepEqual([...servedBy].sort(), [...pids].sort(), 'both workers serve streams (and only they)');

  const records = Array.from({ length: 20 }, (_, n) => ({ partition: n % 2, value: { n } }));
  await produce(topic, records);
  const expected = ['0', '1'].flatMap((p) => Array.from({ length: 10 }, (_, o) => `${p}:${o}`)).sort();
  for (const stream of streams) {
    const text = await stream.until((t) => messageOffsets(t).length >= 20, 15_000);
    assert.deepEqual(messageOffsets(text).sort(), expected, 'every record once on every stream');
  }

  // The primary's /metrics sums the workers' registries and adds its own.
  assert.equal(await metric(server.metricsUrl!, 'kafka_sse_active_streams'), 6);
  assert.equal(await metric(server.metricsUrl!, 'kafka_sse_events_sent_total'), 6 * 20);
  assert.equal(await metric(server.metricsUrl!, 'kafka_sse_workers'), 2);

  const signalledAt = Date.now();
  const exit = await within(server.stop('SIGTERM', 8000), 8000, 'exit after SIGTERM');
  const took = Date.now() - signalledAt;
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  assert.ok(took < 5000, `exited after ${took} ms`);
  for (const stream of streams) assert.equal(await within(stream.ended, 1000, 'stream end'), 'clean', 'the response ended cleanly, not cut');
  const closed = server.logs.filter((l) => l.msg === 'stream closed');
  assert.equal(closed.length, 6);
  assert.ok(closed.every((l) => l.reason === 'server closing'), JSON.stringify(closed.map((l) => l.reason)));
  assert.deepEqual(
    server.logs.filter((l) => l.msg === 'shut down').map((l) => [l.role ?? 'worker', l.clean]).sort(),
    [['primary', true], ['worker', true], ['worker', true]],
  );
  await until(() => pids.every((pid) => !alive(pid)), () => `worker pids still alive: ${pids.filter(alive).join(', ')}`, 2000);
  await assert.rejects(fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2000) }), 'nothing listens any more');
});

test('Ctrl-C (SIGINT to the primary and its workers at once, as a terminal sends it) drains the same way', async () => {
  const topic = await createTopic(1, 'workers-int');
  const server = await startCli(['--workers', '2']);
  seenPids.add(server.child.pid!);
  const pids = workerPids(server);
  const streams = await openStreams(server.url, topic, 4);
  const signalledAt = Date.now();
  const exited = server.stop('SIGINT', 8000);
  for (const pid of pids) process.kill(pid, 'SIGINT');
  const exit = await within(exited, 8000, 'exit after SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  assert.ok(Date.now() - signalledAt < 5000);
  for (const stream of streams) assert.equal(await within(stream.ended, 1000, 'stream end'), 'clean');
  await until(() => pids.every((pid) => !alive(pid)), 'no worker left', 2000);
});

test('a worker killed with SIGKILL is replaced, and the server goes on serving on both processes', async () => {
  const topic = await createTopic(1, 'workers-kill');
  const server = await startCli(['--workers', '2']);
  seenPids.add(server.child.pid!);
  const [victim, survivor] = workerPids(server) as [number, number];

  process.kill(victim, 'SIGKILL');
  await until(() => server.logs.some((l) => l.msg === 'worker died; replacing it' && l.workerPid === victim), 'the primary logs the death', 5000);
  const died = server.logs.find((l) => l.msg === 'worker died; replacing it')!;
  assert.equal(died.signal, 'SIGKILL');
  assert.equal(died.level, 50, 'logged as an error');
  await until(() => server.logs.some((l) => l.msg === 'worker replaced'), 'a replacement worker listening', 20_000);
  const replacement = server.logs.find((l) => l.msg === 'worker replaced')!.workerPid as number;
  seenPids.add(replacement);
  assert.ok(alive(replacement) && replacement !== victim && replacement !== survivor);

  // Connections alternate between the workers: four streams land on both the survivor and the replacement.
  const streams = await openStreams(server.url, topic, 4);
  await until(() => openedBy(server.logs).length === 4, 'four stream opened lines', 5000);
  assert.deepEqual([...new Set(openedBy(server.logs))].sort(), [survivor, replacement].sort());
  await produce(topic, Array.from({ length: 5 }, (_, n) => ({ partition: 0, value: { n } })));
  for (const stream of streams) assert.equal(messageOffsets(await stream.until((t) => messageOffsets(t).length >= 5, 15_000)).length, 5);

  // The earlier crash does not make the shutdown unclean.
  const exit = await within(server.stop('SIGTERM', 8000), 8000, 'exit after SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  for (const stream of streams) assert.equal(await within(stream.ended, 1000, 'stream end'), 'clean');
  await until(() => !alive(survivor) && !alive(replacement), 'no worker left', 2000);
});

test('a primary killed with SIGKILL leaves no worker serving on its own', async () => {
  const server = await startCli(['--workers', '2']);
  seenPids.add(server.child.pid!);
  const pids = workerPids(server);
  await within(server.stop('SIGKILL', 2000), 3000, 'primary killed');
  await until(() => pids.every((pid) => !alive(pid)), () => `workers still alive: ${pids.filter(alive).join(', ')}`, 10_000);
});

test('a worker that cannot listen (port taken) stops the others, and the primary exits 1 as a single process would', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  after(() => taken.close());
  const { port } = taken.address() as AddressInfo;
  const result = await runCli(['serve', '--workers', '2', '--port', String(port), '--host', '127.0.0.1'], {}, 30_000);
  assert.equal(result.code, 1, result.stderr);
  const logs = result.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Log);
  assert.ok(logs.some((l) => l.msg === 'could not listen' && l.worker !== undefined), 'a worker reports the taken port');
  assert.ok(logs.some((l) => l.msg === 'could not start the workers' && l.role === 'primary'));
  const pids = [...new Set(logs.filter((l) => l.worker !== undefined).map((l) => l.pid as number))];
  await delay(100);
  assert.deepEqual(pids.filter(alive), [], 'no worker left');
});

test('a crash loop backs off: 250 ms, doubling, at most 30 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(restartDelayMs), [250, 500, 1000, 2000, 4000]);
  assert.equal(restartDelayMs(40), RESTART_MAX_MS);
});
