// Fan-out on the real broker: caught-up streams of the same partitions share one cohort (one fetch, one
// encoding, the same Buffer to every socket), and every stream still gets every record exactly once,
// whether it stays in the cohort, falls behind and catches up alone, filters, or is cut mid-batch.
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { createKafkaSse, sharedClient, urlFilter, type KafkaSseHandle } from '../../src/index.js';
import { createTopic, produce, recordsPerPartition } from '../helpers/kafka.js';
import { sharedKafka } from '../helpers/sse.js';
import { delay, eventually } from '../helpers/wait.js';

const kafka = sharedKafka();

/** `createKafkaSse` with these options on 127.0.0.1:0; `?key=` (and the other URL filters) filter per request. */
async function serve(options: Parameters<typeof createKafkaSse>[0] = {}): Promise<{ url: string; handle: KafkaSseHandle }> {
  const handle = createKafkaSse({
    kafka,
    retryMs: 50,
    requestFilter: (req) => urlFilter(new URL(req.url ?? '/', 'http://x').searchParams),
    ...options,
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    void handle.handle(req, res, decodeURIComponent(url.pathname.slice(1)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    await handle.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handle };
}

interface Client {
  /** `p:n` of every message event, in arrival order. */
  seen: string[];
  /** The id of the last complete event that had one. */
  lastId: string | undefined;
  response: IncomingMessage;
  /** Destroys the connection now, mid-event or not. */
  cut(): void;
  closed: Promise<void>;
}

/** A raw SSE client that counts only complete events (the blank line dispatches one, as in a browser). */
function open(url: string, lastEventId?: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } }, (response) => {
      assert.equal(response.statusCode, 200);
      response.setEncoding('utf8');
      let buffer = '';
      const client: Client = {
        seen: [],
        lastId: lastEventId,
        response,
        cut: () => req.destroy(),
        closed: new Promise((done) => response.on('close', () => done())),
      };
      response.on('data', (text: string) => {
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) client.lastId = line.slice(4);
            else if (line.startsWith('data: ')) data = line.slice(6);
          }
          if (event === 'message' && data !== undefined) {
            const { p, n } = JSON.parse(data) as { p: number; n: number };
            client.seen.push(`${p}:${n}`);
          }
        }
      });
      response.on('error', () => {});
      resolve(client);
    });
    req.on('error', reject);
  });
}

/** Every `p:n` of `partitions` × `count` exactly once, and per partition in order. */
function assertExactlyOnce(seen: string[], partitions: number, count: number, who: string): void {
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
  const dupes = [...counts].filter(([, c]) => c > 1).map(([s]) => s);
  assert.deepEqual(dupes.slice(0, 5), [], `${who}: duplicates`);
  assert.equal(seen.length, partitions * count, `${who}: ${seen.length} of ${partitions * count} records`);
  for (let p = 0; p < partitions; p++) {
    const ns = seen.filter((s) => s.startsWith(`${p}:`)).map((s) => Number(s.slice(s.indexOf(':') + 1)));
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `${who}: partition ${p} out of order`);
  }
}

test('200 caught-up streams form one cohort, and each gets every record exactly once', async () => {
  const topic = await createTopic(3, 'cohort200');
  const { url, handle } = await serve();
  const clients = await Promise.all(Array.from({ length: 200 }, () => open(`${url}/${topic}`)));
  await eventually(() => handle.cohorts.members === 200, 15_000, () => JSON.stringify(handle.cohorts));
  assert.equal(handle.cohorts.cohorts, 1);
  // In several sends, so the cohort delivers several batches.
  for (let i = 0; i < 5; i++) await produce(topic, recordsPerPartition(3, 20, (_p, n) => ({ n: n + i * 20 })));
  await eventually(() => clients.every((c) => c.seen.length >= 300), 30_000, () => `${clients.filter((c) => c.seen.length < 300).length} streams short`);
  await delay(200); // anything extra would show up now
  for (const [i, c] of clients.entries()) assertExactlyOnce(c.seen, 3, 100, `stream ${i}`);
  assert.equal(handle.cohorts.cohorts, 1, 'still one cohort');
  for (const c of clients) c.cut();
  await eventually(() => handle.cohorts.cohorts === 0 && handle.openStreams === 0, 10_000, () => JSON.stringify(handle.cohorts));
});

test('a stream that stops reading leaves its cohort without slowing it, then catches up alone and rejoins', async () => {
  const topic = await createTopic(1, 'cohortslow');
  const { url, handle } = await serve();
  const fast = await Promise.all(Array.from({ length: 3 }, () => open(`${url}/${topic}`)));
  const slow = await open(`${url}/${topic}`);
  await eventually(() => handle.cohorts.members === 4, 15_000, () => JSON.stringify(handle.cohorts));
  slow.response.pause();
  // ~24 MB: far more than the socket buffers of a client that reads nothing.
  const pad = 'x'.repeat(4000);
  const total = 6000;
  for (let i = 0; i < total; i += 200) {
    await produce(topic, Array.from({ length: 200 }, (_, k) => ({ partition: 0, value: { p: 0, n: i + k, pad } })));
  }
  await eventually(() => fast.every((c) => c.seen.length >= total), 60_000, () => fast.map((c) => c.seen.length).join(','));
  // The others have everything while the slow one is still stalled, far behind, and out of the cohort.
  assert.ok(slow.seen.length < total / 2, `the stalled stream got ${slow.seen.length}`);
  assert.equal(handle.cohorts.members, 3, 'the stalled stream left the cohort');
  slow.response.resume();
  await eventually(() => slow.seen.length >= total, 60_000, () => `${slow.seen.length} of ${total}`);
  assertExactlyOnce(slow.seen, 1, total, 'slow stream');
  for (const [i, c] of fast.entries()) assertExactlyOnce(c.seen, 1, total, `fast stream ${i}`);
  // Caught up: it is back in the cohort, and what comes next reaches it there.
  await eventually(() => handle.cohorts.members === 4 && handle.cohorts.cohorts === 1, 15_000, () => JSON.stringify(handle.cohorts));
  await produce(topic, [{ partition: 0, value: { p: 0, n: total, pad: '' } }]);
  await eventually(() => [...fast, slow].every((c) => c.seen.length === total + 1), 15_000, () => [...fast, slow].map((c) => c.seen.length).join(','));
  for (const c of [...fast, slow]) c.cut();
});

test('filtered streams share cohorts by filter and each gets only its own records', async () => {
  const topic = await createTopic(2, 'cohortfilter');
  const { url, handle } = await serve();
  const all = await Promise.all([0, 1].map(() => open(`${url}/${topic}`)));
  const red = await Promise.all([0, 1, 2].map(() => open(`${url}/${topic}?match.colour=red`)));
  // The same filter, written another way: the same cohort.
  const redToo = await open(`${url}/${topic}?match.colour=red&match.colour=red`);
  const blue = await open(`${url}/${topic}?match.colour=blue`);
  await eventually(() => handle.cohorts.members === 7, 15_000, () => JSON.stringify(handle.cohorts));
  assert.equal(handle.cohorts.cohorts, 3);
  const records = recordsPerPartition(2, 60, (_p, n) => ({ colour: n % 3 === 0 ? 'red' : n % 3 === 1 ? 'blue' : 'green' }));
  await produce(topic, records.slice(0, 60));
  await produce(topic, records.slice(60));
  const want = (colour: string) => records.filter((r) => (r.value as { colour: string }).colour === colour).length;
  await eventually(
    () => all.every((c) => c.seen.length >= 120) && [...red, redToo].every((c) => c.seen.length >= want('red')) && blue.seen.length >= want('blue'),
    30_000,
    () => [...all, ...red, redToo, blue].map((c) => c.seen.length).join(','),
  );
  await delay(300);
  for (const c of all) assertExactlyOnce(c.seen, 2, 60, 'unfiltered');
  for (const c of [...red, redToo]) {
    assert.equal(c.seen.length, want('red'));
    assert.ok(c.seen.every((s) => Number(s.split(':')[1]) % 3 === 0), 'only red records');
    assert.equal(new Set(c.seen).size, c.seen.length, 'no duplicates');
  }
  assert.equal(blue.seen.length, want('blue'));
  assert.ok(blue.seen.every((s) => Number(s.split(':')[1]) % 3 === 1), 'only blue records');
  // A filtered stream's id moved past the records it did not get: resuming from it repeats nothing.
  const resumed = await open(`${url}/${topic}?match.colour=red`, red[0]!.lastId);
  await produce(topic, [{ partition: 0, value: { p: 0, n: 60, colour: 'red' } }]);
  await eventually(() => resumed.seen.length >= 1, 15_000, () => String(resumed.seen.length));
  await delay(300);
  assert.deepEqual(resumed.seen, ['0:60']);
  for (const c of [...all, ...red, redToo, blue, resumed]) c.cut();
});

test('a cohort member cut mid-batch resumes from its last complete event, exactly once', async () => {
  const topic = await createTopic(3, 'cohortcut');
  const { url, handle } = await serve();
  const peers = await Promise.all([0, 1].map(() => open(`${url}/${topic}`)));
  const victim = await open(`${url}/${topic}`);
  await eventually(() => handle.cohorts.members === 3, 15_000, () => JSON.stringify(handle.cohorts));
  // Cut as soon as part of the first big batch has arrived: the socket stops mid-batch, likely mid-event.
  let cutAfter = 0;
  victim.response.on('data', () => {
    if (cutAfter === 0 && victim.seen.length > 0) {
      cutAfter = victim.seen.length;
      victim.cut();
    }
  });
  const pad = 'y'.repeat(2000);
  await produce(topic, recordsPerPartition(3, 400, () => ({ pad })));
  await victim.closed;
  assert.ok(cutAfter > 0 && cutAfter < 1200, `cut after ${cutAfter} events`);
  const resumed = await open(`${url}/${topic}`, victim.lastId);
  await produce(topic, recordsPerPartition(3, 400, (_p, n) => ({ pad: '', n: n + 400 })));
  await eventually(() => peers.every((c) => c.seen.length >= 2400), 30_000, () => peers.map((c) => c.seen.length).join(','));
  await eventually(() => victim.seen.length + resumed.seen.length >= 2400, 30_000, () => `${victim.seen.length} + ${resumed.seen.length}`);
  await delay(300);
  assertExactlyOnce([...victim.seen, ...resumed.seen], 3, 800, 'cut stream and its resumption');
  for (const c of peers) assertExactlyOnce(c.seen, 3, 800, 'peer');
  for (const c of [...peers, resumed]) c.cut();
});

test('streams of a topic from now start where its waiting cohort stands, without asking Kafka, and miss nothing', async () => {
  const topic = await createTopic(2, 'cohorttail');
  const { url, handle } = await serve();
  const client = sharedClient(kafka);
  const resolve = client.resolve.bind(client);
  let resolved = 0;
  client.resolve = (requests) => {
    if (requests.some((r) => r.topic === topic)) resolved++;
    return resolve(requests);
  };
  after(() => {
    client.resolve = resolve;
  });
  const first = await open(`${url}/${topic}`);
  await eventually(() => handle.cohorts.members === 1, 15_000, () => JSON.stringify(handle.cohorts));
  assert.equal(resolved, 1, 'the first stream resolves its start against Kafka');
  const crowd = await Promise.all(Array.from({ length: 20 }, () => open(`${url}/${topic}`)));
  await eventually(() => handle.cohorts.members === 21, 15_000, () => JSON.stringify(handle.cohorts));
  assert.equal(resolved, 1, 'the crowd started where the cohort stood');
  // A stream that gives offsets resolves them, as always.
  const pinned = await open(`${url}/${topic}`, JSON.stringify([0, 1].map((partition) => ({ topic, partition, offset: 0 }))));
  await eventually(() => resolved === 2, 15_000, () => String(resolved));
  await produce(topic, recordsPerPartition(2, 30));
  await eventually(() => [first, ...crowd, pinned].every((c) => c.seen.length >= 60), 30_000, () => [first, ...crowd, pinned].map((c) => c.seen.length).join(','));
  await delay(200);
  for (const c of [first, ...crowd, pinned]) assertExactlyOnce(c.seen, 2, 30, 'stream');
  for (const c of [first, ...crowd, pinned]) c.cut();
});
