// The contract of the `Source` port (src/source/source.ts), run against every implementation: MemorySource
// in test/unit/memorySource.test.ts, the kafkajs adapter against the real broker in
// test/integration/kafkaSource.test.ts. What one does, the other must do, so a stage tested on
// MemorySource behaves the same on Kafka.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FetchedPartition, Source } from '../../src/source/source.js';
import type { KafkaRecord, Position } from '../../src/types.js';
import { delay, within } from '../helpers/wait.js';

export interface SourceFixture {
  /** The source under test (closed by the fixture's owner, not by the contract). */
  source: Source;
  /** A fresh source on the same data (what is created and appended after this call), for the contract to close. */
  another(): Source;
  /** A new, empty topic of `partitions` partitions, that `source` can see. */
  createTopic(partitions: number): Promise<string>;
  /** Appends JSON records to one partition; resolves once they are readable. */
  append(topic: string, partition: number, records: Array<{ value: unknown; timestamp: number }>): Promise<void>;
  /** A topic name that exists nowhere. */
  missingTopic(): string;
}

/** Reads with `wait: false` until a fetch answers nothing: every record after `positions`, in order. */
async function catchUp(source: Source, positions: Position[]): Promise<{ records: KafkaRecord[]; positions: Position[]; fetches: number }> {
  const at = positions.map((p) => ({ ...p }));
  const records: KafkaRecord[] = [];
  for (let fetches = 1; fetches < 100; fetches++) {
    const fetched = await within(source.fetch(at, { wait: false, signal: new AbortController().signal }), 10_000, 'fetch with wait: false');
    if (fetched.length === 0) return { records, positions: at, fetches };
    for (const f of fetched) {
      records.push(...f.records);
      at.find((p) => p.topic === f.topic && p.partition === f.partition)!.offset = f.nextOffset;
    }
  }
  throw new Error('no empty answer after 100 fetches');
}

const values = (records: KafkaRecord[]) => records.map((r) => JSON.parse(r.value!.toString('utf8')) as unknown);

export function sourceContract(name: string, setup: () => Promise<SourceFixture>): void {
  describe(`Source contract: ${name}`, () => {
    const base = Date.now() - 60_000;
    /** A topic with one partition holding three records, 1 s apart. */
    async function threeRecords(fixture: SourceFixture): Promise<string> {
      const topic = await fixture.createTopic(1);
      await fixture.append(topic, 0, [0, 1, 2].map((n) => ({ value: { n }, timestamp: base + n * 1000 })));
      return topic;
    }

    it('topicPartitions: counts the partitions of existing topics; a missing topic is absent', async () => {
      const fixture = await setup();
      const two = await fixture.createTopic(2);
      const missing = fixture.missingTopic();
      const found = await fixture.source.topicPartitions([two, missing]);
      assert.deepEqual([...found], [[two, 2]]);
      assert.deepEqual([...(await fixture.source.topicPartitions([missing]))], [], 'asking does not create it');
    });

    it('resolve: latest without offset or timestamp; an offset in the log as is; an offset past the end at latest', async () => {
      const fixture = await setup();
      const topic = await threeRecords(fixture);
      const resolved = await fixture.source.resolve([
        { topic, partition: 0 },
        { topic, partition: 0, offset: 0 },
        { topic, partition: 0, offset: 1 },
        { topic, partition: 0, offset: 3 },
        { topic, partition: 0, offset: 99 },
      ]);
      assert.deepEqual(resolved.map((p) => p.offset), [3, 0, 1, 3, 3]);
      assert.ok(resolved.every((p) => p.topic === topic && p.partition === 0));
    });

    it('resolve: a timestamp at the first record at or after it, the end when none is; an offset wins over it', async () => {
      const fixture = await setup();
      const topic = await threeRecords(fixture);
      const resolved = await fixture.source.resolve([
        { topic, partition: 0, timestamp: base - 10_000 },
        { topic, partition: 0, timestamp: base },
        { topic, partition: 0, timestamp: base + 500 },
        { topic, partition: 0, timestamp: base + 2000 },
        { topic, partition: 0, timestamp: base + 5000 },
        { topic, partition: 0, offset: 2, timestamp: base },
      ]);
      assert.deepEqual(resolved.map((p) => p.offset), [0, 0, 1, 2, 3, 2]);
    });

    it('resolve: an empty partition starts at 0', async () => {
      const fixture = await setup();
      const topic = await fixture.createTopic(2);
      assert.deepEqual(await fixture.source.resolve([{ topic, partition: 1 }, { topic, partition: 0, timestamp: base }]), [
        { topic, partition: 1, offset: 0 },
        { topic, partition: 0, offset: 0 },
      ]);
    });

    it('fetch (wait: false): every record after the positions, in order, as KafkaRecords, then an empty answer', async () => {
      const fixture = await setup();
      const topic = await fixture.createTopic(2);
      await fixture.append(topic, 0, [0, 1, 2].map((n) => ({ value: { p: 0, n }, timestamp: base + n })));
      await fixture.append(topic, 1, [{ value: { p: 1, n: 0 }, timestamp: base }]);
      const { records, positions } = await catchUp(fixture.source, [
        { topic, partition: 0, offset: 1 },
        { topic, partition: 1, offset: 0 },
      ]);
      const byPartition = (p: number) => records.filter((r) => r.partition === p);
      assert.deepEqual(values(byPartition(0)), [{ p: 0, n: 1 }, { p: 0, n: 2 }]);
      assert.deepEqual(byPartition(0).map((r) => [r.offset, r.timestamp]), [[1, base + 1], [2, base + 2]]);
      assert.deepEqual(values(byPartition(1)), [{ p: 1, n: 0 }]);
      for (const r of records) {
        assert.equal(r.topic, topic);
        assert.equal(r.key, null);
        assert.ok(Buffer.isBuffer(r.value));
        assert.deepEqual(r.headers, {});
      }
      assert.deepEqual(positions.map((p) => p.offset), [3, 1], 'nextOffset moved each position past its records');
    });

    it('fetch (wait: false): answers at once with nothing at the end of the log, naming no partition', async () => {
      const fixture = await setup();
      const topic = await threeRecords(fixture);
      const started = Date.now();
      const fetched = await fixture.source.fetch([{ topic, partition: 0, offset: 3 }], { wait: false, signal: new AbortController().signal });
      assert.deepEqual(fetched, []);
      assert.ok(Date.now() - started < 2000, 'no long-poll');
    });

    it('fetch (wait: true): waits at the end of the log and wakes with what is appended', async () => {
      const fixture = await setup();
      const topic = await threeRecords(fixture);
      let settled = false;
      const waiting: Promise<FetchedPartition[]> = fixture.source.fetch([{ topic, partition: 0, offset: 3 }], {
        wait: true,
        signal: new AbortController().signal,
      });
      void waiting.finally(() => (settled = true)).catch(() => {});
      await delay(200);
      assert.equal(settled, false, 'a waiting fetch at the end of the log does not answer before records arrive');
      await fixture.append(topic, 0, [{ value: { late: true }, timestamp: base + 3000 }]);
      const fetched = await within(waiting, 10_000, 'wake-up on append');
      assert.equal(fetched.length, 1);
      assert.deepEqual(values(fetched[0]!.records), [{ late: true }]);
      assert.deepEqual(fetched[0]!.records.map((r) => r.offset), [3]);
      assert.equal(fetched[0]!.nextOffset, 4);
    });

    it('fetch (wait: true): aborting the signal rejects the waiting fetch with its reason, promptly', async () => {
      const fixture = await setup();
      const topic = await threeRecords(fixture);
      const controller = new AbortController();
      const waiting = fixture.source.fetch([{ topic, partition: 0, offset: 3 }], { wait: true, signal: controller.signal });
      await delay(100);
      const reason = new Error('stream ended');
      controller.abort(reason);
      await assert.rejects(within(waiting, 1000, 'end after abort'), (err) => err === reason);
      await assert.rejects(
        fixture.source.fetch([{ topic, partition: 0, offset: 3 }], { wait: true, signal: AbortSignal.abort(reason) }),
        (err) => err === reason,
        'an already aborted signal',
      );
    });

    it('close: a waiting fetch rejects, and so do later calls', async () => {
      const fixture = await setup();
      const source = fixture.another();
      const topic = await threeRecords(fixture);
      const signal = new AbortController().signal;
      assert.equal((await catchUp(source, [{ topic, partition: 0, offset: 0 }])).records.length, 3, 'the other source reads the same data');
      const waiting = source.fetch([{ topic, partition: 0, offset: 3 }], { wait: true, signal });
      await delay(100);
      await source.close();
      await assert.rejects(within(waiting, 5000, 'a waiting fetch ending on close'));
      await assert.rejects(source.fetch([{ topic, partition: 0, offset: 0 }], { wait: false, signal }));
      await source.close(); // twice is harmless
    });
  });
}
