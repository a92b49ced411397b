import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { heartbeat } from '../../src/stages/heartbeat.js';
import { collect } from '../../src/testing.js';
import { countingSource, isSettled, settle } from './support.js';

/** A source that yields `chunks[i]` only once `open(i)` has been called. */
function gatedSource(chunks: string[]) {
  const gates = chunks.map(() => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  });
  const state = {
    pulls: 0,
    finished: false,
    open: (i: number) => gates[i]!.resolve(),
    async *[Symbol.asyncIterator]() {
      try {
        for (let i = 0; i < chunks.length; i++) {
          state.pulls++;
          await gates[i]!.promise;
          yield chunks[i]!;
        }
      } finally {
        state.finished = true;
      }
    },
  };
  return state;
}

describe('heartbeat', () => {
  it('passes chunks through unchanged when they come faster than the interval', async () => {
    assert.deepEqual(await collect(heartbeat(60_000)(countingSource(['a', 'b']))), ['a', 'b']);
  });

  it('sends a comment each time nothing came for the interval, without pulling the source again', async (t: TestContext) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const source = gatedSource(['a']);
    const iterator = heartbeat(1000, 'ping')(source)[Symbol.asyncIterator]();

    const first = iterator.next();
    await settle();
    t.mock.timers.tick(999);
    assert.equal(await isSettled(first), false);
    t.mock.timers.tick(1);
    assert.deepEqual(await first, { done: false, value: ': ping\n\n' });

    const second = iterator.next();
    await settle();
    t.mock.timers.tick(1000);
    assert.deepEqual(await second, { done: false, value: ': ping\n\n' });
    assert.equal(source.pulls, 1, 'the source was pulled again while a pull was pending');

    const third = iterator.next();
    await settle();
    source.open(0);
    assert.deepEqual(await third, { done: false, value: 'a' });
    await iterator.return(undefined);
  });

  it('restarts the interval after every chunk', async (t: TestContext) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const source = gatedSource(['a', 'b']);
    const iterator = heartbeat(1000)(source)[Symbol.asyncIterator]();
    const first = iterator.next();
    await settle();
    t.mock.timers.tick(600);
    source.open(0);
    assert.equal((await first).value, 'a');
    const second = iterator.next();
    await settle();
    t.mock.timers.tick(600); // 1,200 ms since the start, 600 since the last chunk
    assert.equal(await isSettled(second), false);
    source.open(1);
    assert.equal((await second).value, 'b');
    await iterator.return(undefined);
  });

  it('closes the source and leaves no timer when returned', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const source = countingSource(['a', 'b']);
    const iterator = heartbeat(60_000)(source)[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return(undefined);
    assert.equal(source.finished, true);
    assert.equal(timers(), before);
  });

  it('ends when the source ends', async () => {
    assert.deepEqual(await collect(heartbeat(60_000)(countingSource<string>([]))), []);
  });

  it('propagates a source error', async () => {
    async function* failing(): AsyncGenerator<string> {
      throw new Error('upstream failed');
    }
    await assert.rejects(collect(heartbeat(60_000)(failing())), /upstream failed/);
  });
});
