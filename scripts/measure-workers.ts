// What `kafka-sse serve --workers N` buys on this machine: the same load against 1 and then 2 workers (or
// the list given), alternating, several runs each. Two loads:
//   live:  S streams on one 4-partition topic, a producer at R records/s for T s; per record and stream the
//          produced → parsed latency (same clock), the share of the S × produced events delivered, and the
//          server's CPU (primary + workers, from /proc) over the production window;
//   drain: K streams each reading the same M-record history from the start (?since=0); time until all have
//          every record, events/s over all streams, server CPU.
// The streams are read by a separate client process (this file, forked with --client); the broker, the
// client, the producer and the server share the machine's cores. Every child is stopped by PID.
//
//   npx tsx scripts/measure-workers.ts [--workers=1,2] [--runs=2] [--streams=200] [--rate=200] [--seconds=15]
//                                      [--drain-streams=16] [--drain-records=20000] [--fanout=naive]
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Message } from 'kafkajs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const flag = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const BROKERS = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');

// ------------------------------------------------------------------------------------------------ client

interface ClientStats {
  opened: number;
  failed: number;
  events: number;
  latencies: number[];
}

function clientMain(): void {
  const streams: Array<{ res: IncomingMessage; events: number }> = [];
  let latencies: number[] = [];
  let events = 0;
  const open = (url: string, expect: number | undefined, onEvent: () => void) =>
    new Promise<boolean>((resolve) => {
      const req = get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve(false);
          return;
        }
        const stream = { res, events: 0 };
        streams.push(stream);
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = Date.now();
          pending += chunk;
          const blocks = pending.split('\n\n');
          pending = blocks.pop()!;
          for (const block of blocks) {
            const t = /"t":(\d+)/.exec(block);
            if (!t || !block.includes('\ndata: ') && !block.startsWith('data: ')) continue;
            stream.events++;
            events++;
            if (expect === undefined) latencies.push(at - Number(t[1]));
            onEvent();
          }
        });
        res.on('error', () => {});
        resolve(true);
      });
      req.on('error', () => resolve(false));
    });
  process.on('message', (message: { cmd: string; url: string; count: number; expect?: number }) => {
    void (async () => {
      if (message.cmd === 'open') {
        let opened = 0;
        let failed = 0;
        for (let i = 0; i < message.count; i += 50) {
          const batch = await Promise.all(Array.from({ length: Math.min(50, message.count - i) }, () => open(message.url, undefined, () => {})));
          for (const ok of batch) ok ? opened++ : failed++;
        }
        process.send!({ opened, failed });
      } else if (message.cmd === 'stats') {
        const stats: ClientStats = { opened: streams.length, failed: 0, events, latencies };
        process.send!(stats);
        latencies = [];
        events = 0;
      } else if (message.cmd === 'drain') {
        const expect = message.expect!;
        const started = Date.now();
        let complete = 0;
        let resolveAll: () => void = () => {};
        const all = new Promise<void>((r) => (resolveAll = r));
        const results = await Promise.all(
          Array.from({ length: message.count }, () => {
            let n = 0;
            return open(message.url, expect, () => {
              if (++n === expect && ++complete === message.count) resolveAll();
            });
          }),
        );
        const timeout = new Promise<void>((r) => setTimeout(r, 120_000).unref());
        await Promise.race([all, timeout]);
        process.send!({ ms: Date.now() - started, complete, failed: results.filter((ok) => !ok).length });
      } else if (message.cmd === 'close') {
        for (const s of streams) s.res.destroy();
        streams.length = 0;
        process.send!({ closed: true });
      }
    })();
  });
}

// ------------------------------------------------------------------------------------------------ runner

interface Server {
  child: ChildProcess;
  port: number;
  pids: number[];
}

async function startServer(workers: number, fanout: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/server/cli.ts', 'serve', '--port', '0', '--host', '127.0.0.1', '--workers', String(workers), '--fanout', fanout, '--brokers', BROKERS.join(',')],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let pending = '';
  return within(
    new Promise<Server>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        pending += d.toString();
        let nl: number;
        while ((nl = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (!line.includes('"msg":"listening"')) continue;
          const entry = JSON.parse(line) as { port: number; workerPids?: number[] };
          resolve({ child, port: entry.port, pids: [child.pid!, ...(entry.workerPids ?? [])] });
        }
      });
      child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
    }),
    60_000,
    'server listening',
  );
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise<void>((r) => server.child.once('exit', () => r()));
  server.child.kill('SIGTERM');
  await within(exited, 10_000, 'server exit').catch(() => server.child.kill('SIGKILL'));
  for (const pid of server.pids.slice(1)) {
    try {
      process.kill(pid, 'SIGKILL'); // only if one was left behind
    } catch {
      // gone, as it should be
    }
  }
}

/** CPU seconds (user + system) used so far by these processes. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
    } catch {
      // exited
    }
  }
  return ticks / 100;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function ask<T>(client: ChildProcess, message: object, ms = 180_000): Promise<T> {
  return within(new Promise<T>((resolve) => client.once('message', (m) => resolve(m as T))), ms, JSON.stringify(message).slice(0, 60)).finally(() => {}) as Promise<T>;
}
function send<T>(client: ChildProcess, message: object, ms?: number): Promise<T> {
  const reply = ask<T>(client, message, ms);
  client.send(message);
  return reply;
}

const pct = (sorted: number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runnerMain(): Promise<void> {
  const workerList = flag('workers', '1,2').split(',').map(Number);
  const runs = Number(flag('runs', '2'));
  const streams = Number(flag('streams', '200'));
  const rate = Number(flag('rate', '200'));
  const seconds = Number(flag('seconds', '15'));
  const drainStreams = Number(flag('drain-streams', '16'));
  const drainRecords = Number(flag('drain-records', '20000'));
  const fanout = flag('fanout', 'naive');
  console.log(
    `# measure-workers: ${availableParallelism()} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; live ${streams} streams × ${rate} rec/s × ${seconds} s; ` +
      `drain ${drainStreams} streams × ${drainRecords} records; --fanout ${fanout}; workers ${workerList.join(',')}; ${runs} runs`,
  );

  const kafka = new Kafka({ clientId: 'measure-workers', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const stamp = Date.now().toString(36);
  const liveTopic = `measure-workers-live-${stamp}`;
  const drainTopic = `measure-workers-drain-${stamp}`;
  await admin.createTopics({ topics: [{ topic: liveTopic, numPartitions: 4 }, { topic: drainTopic, numPartitions: 4 }], waitForLeaders: true });
  const pad = 'x'.repeat(120);
  for (let i = 0; i < drainRecords; i += 2000) {
    const messages: Message[] = Array.from({ length: Math.min(2000, drainRecords - i) }, (_, j) => ({ key: String(i + j), value: JSON.stringify({ n: i + j, t: 0, pad }) }));
    await producer.send({ topic: drainTopic, acks: -1, messages });
  }

  const client = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rows: string[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const workers of workerList) {
        // live
        let server = await startServer(workers, fanout);
        const url = `http://127.0.0.1:${server.port}/v1/stream/${liveTopic}`;
        const { opened, failed } = await send<{ opened: number; failed: number }>(client, { cmd: 'open', url, count: streams });
        await sleep(1500); // every stream set up and caught up
        await send<ClientStats>(client, { cmd: 'stats' }); // discard anything before the window
        const cpuBefore = cpuSeconds(server.pids);
        const t0 = Date.now();
        let produced = 0;
        let failedSends = 0;
        const inFlight = new Set<Promise<void>>();
        const perTick = rate / 100;
        let owed = 0;
        while (Date.now() - t0 < seconds * 1000) {
          owed += perTick;
          const n = Math.floor(owed);
          owed -= n;
          if (n > 0) {
            // Not awaited (at most 100 sends in flight), so a slow acknowledgement does not lower the rate.
            const now = Date.now();
            const messages = Array.from({ length: n }, (_, j) => ({ key: String(produced + j), value: JSON.stringify({ n: produced + j, t: now, pad }) }));
            produced += n;
            const sent = producer.send({ topic: liveTopic, acks: 1, messages }).then(() => {}, () => { failedSends += n; });
            inFlight.add(sent);
            void sent.finally(() => inFlight.delete(sent));
            if (inFlight.size >= 100) await Promise.race(inFlight);
          }
          await sleep(Math.max(0, t0 + ((produced / rate) * 1000) - Date.now()));
        }
        await within(Promise.all(inFlight), 10_000, 'the last sends');
        produced -= failedSends;
        const cpu = cpuSeconds(server.pids) - cpuBefore;
        const wallMs = Date.now() - t0;
        await sleep(3000); // the tail
        const stats = await send<ClientStats>(client, { cmd: 'stats' });
        await send(client, { cmd: 'close' });
        await stopServer(server);
        const sorted = stats.latencies.sort((a, b) => a - b);
        rows.push(
          `live  workers=${workers} run=${run}: opened ${opened}/${streams}${failed ? ` (${failed} failed)` : ''}, delivered ${((100 * stats.events) / (produced * opened)).toFixed(1)}% of ${produced}×${opened}, ` +
            `latency p50 ${pct(sorted, 50)} ms p99 ${pct(sorted, 99)} ms max ${sorted.at(-1)} ms, server CPU ${cpu.toFixed(1)} s over ${(wallMs / 1000).toFixed(1)} s (${((100 * cpu) / (wallMs / 1000)).toFixed(0)}% of one core)`,
        );
        console.log(rows.at(-1));

        // drain
        server = await startServer(workers, fanout);
        const drainCpuBefore = cpuSeconds(server.pids);
        const drain = await send<{ ms: number; complete: number; failed: number }>(client, {
          cmd: 'drain',
          url: `http://127.0.0.1:${server.port}/v1/stream/${drainTopic}?since=0`,
          count: drainStreams,
          expect: drainRecords,
        });
        const drainCpu = cpuSeconds(server.pids) - drainCpuBefore;
        await send(client, { cmd: 'close' });
        await stopServer(server);
        rows.push(
          `drain workers=${workers} run=${run}: ${drain.complete}/${drainStreams} streams complete in ${(drain.ms / 1000).toFixed(2)} s, ` +
            `${Math.round((drainStreams * drainRecords) / (drain.ms / 1000)).toLocaleString('en')} events/s, server CPU ${drainCpu.toFixed(1)} s (${((100 * drainCpu) / (drain.ms / 1000)).toFixed(0)}% of one core)`,
        );
        console.log(rows.at(-1));
      }
    }
  } finally {
    client.kill('SIGKILL');
    await admin.deleteTopics({ topics: [liveTopic, drainTopic] }).catch(() => {});
    await producer.disconnect();
    await admin.disconnect();
  }
}

if (process.argv.includes('--client')) clientMain();
else await runnerMain();
