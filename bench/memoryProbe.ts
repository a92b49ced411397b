// `node --expose-gc --import tsx bench/memoryProbe.ts <streams> <floor|cohort|naive|server>`: heap and RSS
// per open stream after a forced GC, in one server process, with the clients in a child process.
//   floor   a bare node:http server that writes a comment and keeps the response
//   cohort  createKafkaSse with a shared kafka (cohorts on); naive: the same with cohorts: false
//   server  createKafkaSseServer, as the CLI runs it (log level warn)
// Streams open in waves of 500 (`WAVE=` to change) on a fresh 3-partition topic. Loopback only.
import { fork } from 'node:child_process';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaSse } from '../src/index.js';
import { createKafkaSseServer } from '../src/server/server.js';

const [first, second, third] = process.argv.slice(2);

if (first === 'clients') {
  const [port, n, path] = [Number(second), Number(third), process.argv[5]!];
  const wave = Number(process.env.WAVE ?? 500);
  const open = () =>
    new Promise<void>((resolve) => {
      get({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
        res.once('data', () => resolve());
        res.resume();
      });
    });
  for (let i = 0; i < n; i += wave) await Promise.all(Array.from({ length: Math.min(wave, n - i) }, open));
  process.send!('open');
} else {
  const streams = Number(first ?? 2000);
  const mode = second ?? 'cohort';
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');
  const kafka = new Kafka({ clientId: 'kafka-sse-memory-probe', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-memory-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

  let port: number;
  let path = '/';
  let close: () => Promise<unknown>;
  let cohorts: () => unknown = () => undefined;
  if (mode === 'server') {
    const server = createKafkaSseServer({ brokers, port: 0, host: '127.0.0.1', logLevel: 'warn' });
    port = (await server.listen()).port;
    path = `/v1/stream/${topic}`;
    close = () => server.close();
    cohorts = () => server.cohorts;
  } else {
    const handle = createKafkaSse({ kafka, cohorts: mode !== 'naive' });
    const kept: unknown[] = [];
    const server = createServer((req, res) => {
      if (mode !== 'floor') return void handle.handle(req, res, topic);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': floor\n\n');
      kept.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = async () => {
      await handle.close();
      server.closeAllConnections();
      server.close();
    };
    cohorts = () => handle.cohorts;
  }
  const clients: Array<ReturnType<typeof fork>> = [];
  const open = (n: number) =>
    new Promise<void>((resolve) => {
      const child = fork(fileURLToPath(import.meta.url), ['clients', String(port), String(n), path], { execArgv: ['--import', 'tsx'] });
      clients.push(child);
      child.once('message', () => resolve());
    });
  const measure = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed };
  };
  await open(50); // the first streams set up what every later one shares (connections, a cohort)
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = measure();
  await open(streams);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const after = measure();
  const kib = (bytes: number) => `${(bytes / streams / 1024).toFixed(1)} KiB`;
  process.stdout.write(`${JSON.stringify({ streams, mode, heapPerStream: kib(after.heap - before.heap), rssPerStream: kib(after.rss - before.rss), cohorts: cohorts() })}\n`);
  for (const child of clients) child.kill();
  await close();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
  process.exit(0);
}
