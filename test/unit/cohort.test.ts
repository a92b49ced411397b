// The cohort on its own, against MemorySource: one encoding equal to what each stream's own pipeline
// would send, the same Buffer to every member, and members that leave when they fall behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipe } from 'it-pipe';
import { consume, defaultStages, urlFilter, type Filterer, type Position } from '../../src/index.js';
import { MemorySource, collect } from '../../src/testing.js';
import { Fanout, encodeTailBatch, type CohortMember, type CohortShape, type Departure } from '../../src/fanout/cohort.js';
import { HeartbeatWheel } from '../../src/fanout/heartbeatWheel.js';

const text = (chunks: Array<string | Uint8Array>) => chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString())).join('');

/** What a stream's own pipeline sends for the records after `positions`, until it has caught up, without its opening position block. */
async function solo(source: MemorySource, positions: Position[], shape: CohortShape): Promise<string> {
  const stop = new AbortController();
  let batches = 0;
  const chunks = await collect(
    pipe(
      consume(source, positions, { signal: stop.signal }),
      async function* (batches$) {
        for await (const b of batches$) {
          yield b;
          if (++batches === 2) return; // the records, then the empty fetch of a stream that caught up
        }
      },
      defaultStages({ positions, format: shape.format, ...(shape.filterer ? { filterer: shape.filterer } : {}), ...(shape.tombstones ? { tombstones: shape.tombstones } : {}) }),
    ),
  );
  stop.abort();
  return text(shape.format === 'sse' ? chunks.slice(1) : chunks);
}

async function tail(source: MemorySource, positions: Position[], shape: CohortShape): Promise<string> {
  const fetched = await source.fetch(positions, { wait: false, signal: new AbortController().signal });
  const records = fetched.flatMap((f) => f.records);
  const progress = fetched.map((f) => ({ topic: f.topic, partition: f.partition, nextOffset: f.nextOffset }));
  const { chunk } = await encodeTailBatch(shape, positions, { records, progress });
  return chunk === undefined ? '' : chunk.toString();
}

function fixture(): { source: MemorySource; positions: Position[] } {
  const source = new MemorySource({ topics: { t: 2 } });
  source.append({ topic: 't', partition: 0, value: { colour: 'red', n: 0 } }, { topic: 't', partition: 0, value: { colour: 'blue', n: 1 } });
  const positions = [
    { topic: 't', partition: 0, offset: 0 },
    { topic: 't', partition: 1, offset: 0 },
  ];
  source.append(
    { topic: 't', partition: 0, value: { colour: 'red', n: 2 } },
    { topic: 't', partition: 1, value: null, key: 'k' },
    { topic: 't', partition: 1, value: { colour: 'blue', n: 3 } },
  );
  return { source, positions };
}

const shapes: Array<[string, CohortShape]> = [
  ['SSE', { format: 'sse' }],
  ['SSE, filter dropping the last records (a position trailer)', { format: 'sse', filterer: urlFilter('match.colour=red')! }],
  ['SSE, filter dropping every record (a position block alone)', { format: 'sse', filterer: (() => false) as Filterer }],
  ['SSE, tombstones as deletes', { format: 'sse', tombstones: 'delete' }],
  ['NDJSON', { format: 'ndjson' }],
  ['NDJSON, filter', { format: 'ndjson', filterer: urlFilter('match.colour=blue')! }],
];

for (const [name, shape] of shapes) {
  test(`a cohort's encoding of a tail batch is what a caught-up stream's own pipeline sends: ${name}`, async () => {
    const { source, positions } = fixture();
    const expected = await solo(source, positions, shape);
    const got = await tail(source, positions, shape);
    assert.equal(got, expected);
    assert.ok(name.includes('every record') ? got.startsWith('event: position') : got.length > 0);
  });
}

class TestMember implements CohortMember {
  chunks: Buffer[] = [];
  events = 0;
  departures: Departure[] = [];
  constructor(
    public full = false,
    public throws = false,
  ) {}
  deliver(chunk: Buffer, events: number): boolean {
    if (this.throws) throw new Error('onProgress failed');
    this.chunks.push(chunk);
    this.events += events;
    return !this.full;
  }
  depart(how: Departure): void {
    this.departures.push(how);
  }
}

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), what);
};

test('members at the same positions get the same Buffer; a full socket leaves with the positions after the batch; wrong positions are turned away', async () => {
  const source = new MemorySource({ topics: { t: 1 } });
  const fanout = new Fanout();
  const at = [{ topic: 't', partition: 0, offset: 0 }];
  const [a, b, full, late] = [new TestMember(), new TestMember(), new TestMember(true), new TestMember()];
  for (const m of [a, b, full]) fanout.join('k', source, { format: 'sse' }, m, at);
  await until(() => fanout.stats.members === 3, 'three members');
  fanout.join('k', source, { format: 'sse' }, late, [{ topic: 't', partition: 0, offset: 5 }]);
  await until(() => late.departures.length === 1, 'turned away');
  assert.deepEqual(late.departures, [{ kind: 'rejected' }]);
  assert.equal(fanout.state('k', at), 'same');

  source.append({ topic: 't', value: { n: 0 } }, { topic: 't', value: { n: 1 } });
  await until(() => a.chunks.length === 1 && b.chunks.length === 1, 'delivered');
  assert.equal(a.chunks[0], b.chunks[0], 'one Buffer for every member');
  assert.equal(a.events, 2);
  assert.match(a.chunks[0]!.toString(), /"offset":2\}\]\ndata: \{"n":1/);
  assert.deepEqual(full.departures, [{ kind: 'behind', positions: [{ topic: 't', partition: 0, offset: 2 }] }]);
  assert.equal(fanout.stats.members, 2);

  source.append({ topic: 't', value: { n: 2 } });
  await until(() => a.chunks.length === 2, 'second batch');
  assert.equal(full.chunks.length, 1, 'a member that left gets nothing more');
  fanout.leave(a);
  fanout.leave(b);
  await until(() => fanout.stats.cohorts === 0, 'an empty cohort ends');
  assert.equal(fanout.state('k', at), 'none');
});

test('a read that fails ends every member with the error', async () => {
  const source = new MemorySource({ topics: { t: 1 } });
  const fanout = new Fanout();
  const members = [new TestMember(), new TestMember()];
  for (const m of members) fanout.join('k', source, { format: 'sse' }, m, [{ topic: 't', partition: 0, offset: 0 }]);
  await until(() => fanout.stats.members === 2, 'two members');
  await source.close();
  await until(() => members.every((m) => m.departures.length === 1), 'both told');
  for (const m of members) assert.equal(m.departures[0]!.kind, 'error');
  assert.equal(fanout.stats.cohorts, 0);
});

test('the heartbeat wheel beats streams silent for the interval, and stops when none is left', async () => {
  const wheel = new HeartbeatWheel(40);
  const beats: string[] = [];
  const quiet = { lastWrite: Date.now(), beat: (now: number) => (beats.push('quiet'), (quiet.lastWrite = now)), failed: () => {} };
  const busy = { lastWrite: Date.now(), beat: () => beats.push('busy'), failed: () => {} };
  wheel.add(quiet);
  wheel.add(busy);
  const writing = setInterval(() => (busy.lastWrite = Date.now()), 5);
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(writing);
  assert.ok(beats.filter((b) => b === 'quiet').length >= 3, `quiet beat ${beats.length} times`);
  assert.ok(!beats.includes('busy'), 'a stream that writes gets no heartbeat');
  wheel.remove(quiet);
  wheel.remove(busy);
  assert.equal(wheel.size, 0);
});

test('a member whose delivery throws leaves with that error; the cohort and the others go on', async () => {
  const source = new MemorySource({ topics: { t: 1 } });
  const fanout = new Fanout();
  const at = [{ topic: 't', partition: 0, offset: 0 }];
  const [good, bad] = [new TestMember(), new TestMember(false, true)];
  for (const m of [good, bad]) fanout.join('k', source, { format: 'sse' }, m, at);
  await until(() => fanout.stats.members === 2, 'two members');
  source.append({ topic: 't', value: { n: 0 } });
  await until(() => bad.departures.length === 1 && good.chunks.length === 1, 'delivered');
  assert.equal(bad.departures[0]!.kind, 'error');
  assert.match(String((bad.departures[0] as { error: unknown }).error), /onProgress failed/);
  source.append({ topic: 't', value: { n: 1 } });
  await until(() => good.chunks.length === 2, 'the cohort goes on');
  assert.deepEqual(good.departures, []);
  fanout.leave(good);
});

test('a stream whose heartbeat throws is told and dropped; the wheel keeps beating the others', async () => {
  const wheel = new HeartbeatWheel(20);
  const failures: unknown[] = [];
  let beats = 0;
  const broken = { lastWrite: 0, beat: () => { throw new Error('write failed'); }, failed: (err: unknown) => failures.push(err) };
  const fine = { lastWrite: 0, beat: (now: number) => { beats++; fine.lastWrite = now; }, failed: () => {} };
  wheel.add(broken);
  wheel.add(fine);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(failures.length, 1, 'told once, then dropped');
  assert.ok(beats >= 2, `the other stream beat ${beats} times`);
  assert.equal(wheel.size, 1);
  wheel.remove(fine);
});
